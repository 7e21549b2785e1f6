// gemm (blocked, threaded) against gemm_reference: every transpose pair, sizes around and across the
// tile and cache-block edges, padded leading dimensions, alpha / beta, and the beta == 0 / alpha == 0
// promises about what is never read.
#include <omp.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "tests/kernels/compare.h"

using kern::GemmParams;
using kern::index_t;
using kern_test::abs_of;
using kern_test::check_close;
using kern_test::random_vector;

namespace {

struct Shape {
  index_t M, N, K;
};

// Rows / columns each operand's storage needs for p (with its leading dimensions).
template <typename T>
struct Operands {
  std::vector<T> A, B, C;
};

template <typename T>
Operands<T> make_operands(const GemmParams& p, unsigned seed) {
  const index_t a_rows = p.trans_a ? p.K : p.M, b_rows = p.trans_b ? p.N : p.K;
  return {random_vector<T>(std::size_t(a_rows * p.lda), seed),
          random_vector<T>(std::size_t(b_rows * p.ldb), seed + 1),
          random_vector<T>(std::size_t(p.M * p.ldc), seed + 2)};
}

// Runs gemm and gemm_reference on the same data and checks C, including the untouched padding columns.
template <typename T>
void check_case(GemmParams p, T alpha, T beta, unsigned seed) {
  CAPTURE(p.M);
  CAPTURE(p.N);
  CAPTURE(p.K);
  CAPTURE(p.trans_a);
  CAPTURE(p.trans_b);
  CAPTURE(p.lda);
  CAPTURE(p.ldb);
  CAPTURE(p.ldc);
  CAPTURE(alpha);
  CAPTURE(beta);
  Operands<T> op = make_operands<T>(p, seed);
  std::vector<T> c_fast = op.C, c_ref = op.C;
  std::vector<T> mag = abs_of(op.C);
  if (beta == T(0)) {
    // beta == 0 must not read C: poison it where the result goes.
    for (index_t i = 0; i < p.M; ++i)
      for (index_t j = 0; j < p.N; ++j) c_fast[i * p.ldc + j] = std::numeric_limits<T>::quiet_NaN();
  }
  kern::gemm_cpu<T>(p, alpha, op.A.data(), op.B.data(), beta, c_fast.data());
  kern::gemm_reference<T>(p, alpha, op.A.data(), op.B.data(), beta, c_ref.data());
  const auto abs_a = abs_of(op.A), abs_b = abs_of(op.B);
  kern::gemm_reference<T>(p, std::abs(alpha), abs_a.data(), abs_b.data(), std::abs(beta), mag.data());
  check_close(c_fast, c_ref, mag, double(p.K));
}

GemmParams params(Shape s, bool ta, bool tb, index_t pad) {
  GemmParams p;
  p.M = s.M, p.N = s.N, p.K = s.K;
  p.trans_a = ta, p.trans_b = tb;
  p.lda = (ta ? s.M : s.K) + pad;
  p.ldb = (tb ? s.K : s.N) + pad;
  p.ldc = s.N + pad;
  return p;
}

}  // namespace

TEST_CASE_TEMPLATE("gemm/matches_reference", T, float, double) {
  // Odd sizes straddle the register tile (6 x 16 / 14 x 32) and the MC / KC / NC blocks.
  const std::vector<index_t> small = {1, 7, 33};
  std::vector<Shape> shapes;
  for (index_t m : small)
    for (index_t n : small)
      for (index_t k : small) shapes.push_back({m, n, k});
  shapes.push_back({257, 257, 257});
  shapes.push_back({300, 65, 600});  // several MC and KC blocks
  shapes.push_back({5, 4200, 9});    // several NC blocks, few rows
  shapes.push_back({150, 17, 1});
  unsigned seed = 1;
  for (const Shape& s : shapes)
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      check_case<T>(params(s, ta, tb, 0), T(1), T(0), seed++);
      check_case<T>(params(s, ta, tb, 3), T(-1.5), T(0.75), seed++);
    }
}

TEST_CASE_TEMPLATE("gemm/alpha_beta", T, float, double) {
  const Shape s{37, 41, 29};
  for (T alpha : {T(1), T(-2), T(0.5)})
    for (T beta : {T(0), T(1), T(-1), T(0.25)}) check_case<T>(params(s, false, true, 2), alpha, beta, 7);
}

TEST_CASE_TEMPLATE("gemm/degenerate", T, float, double) {
  const T nan = std::numeric_limits<T>::quiet_NaN();
  SUBCASE("alpha == 0 reads neither A nor B") {
    GemmParams p = params({5, 6, 7}, false, false, 0);
    std::vector<T> A(35, nan), B(42, nan), C(30, T(2));
    kern::gemm_cpu<T>(p, T(0), A.data(), B.data(), T(0.5), C.data());
    for (T c : C) CHECK(c == T(1));
    kern::gemm_cpu<T>(p, T(0), A.data(), B.data(), T(0), C.data());
    for (T c : C) CHECK(c == T(0));
  }
  SUBCASE("K == 0 scales C") {
    GemmParams p = params({5, 6, 0}, false, false, 0);
    p.lda = 1, p.ldb = 6;
    std::vector<T> C(30, nan);
    kern::gemm_cpu<T>(p, T(1), nullptr, nullptr, T(0), C.data());
    for (T c : C) CHECK(c == T(0));
  }
  SUBCASE("M == 0 or N == 0 touches nothing") {
    GemmParams p = params({0, 6, 3}, false, false, 0);
    kern::gemm_cpu<T>(p, T(1), nullptr, nullptr, T(0), nullptr);
    p = params({4, 0, 3}, false, false, 0);
    kern::gemm_cpu<T>(p, T(1), nullptr, nullptr, T(0), nullptr);
  }
}

// Tile boundaries do not depend on how threads split the work, and every element sums its K terms in
// the same order, so any thread count gives bitwise-identical C.
TEST_CASE("gemm/thread_count_invariant") {
  const GemmParams p = params({203, 517, 300}, true, false, 1);
  Operands<float> op = make_operands<float>(p, 11);
  std::vector<float> first;
  const int saved = omp_get_max_threads();
  for (int nt : {1, 2, 3, 4}) {
    omp_set_num_threads(nt);
    std::vector<float> c = op.C;
    kern::gemm_cpu<float>(p, 1.0f, op.A.data(), op.B.data(), 0.5f, c.data());
    if (first.empty())
      first = c;
    else
      CHECK(c == first);
  }
  omp_set_num_threads(saved);
}

// A packed once (gemm_pack_a_cpu) gives bitwise the C of packing per call, whatever the thread count (so
// whatever rows each thread takes), on shapes with one and several depth and row blocks, partial row
// panels, transposed and padded A, and a B source with an epilogue-free beta.
TEST_CASE_TEMPLATE("gemm/prepacked_a", T, float, double) {
  const int saved = omp_get_max_threads();
  for (const Shape s : {Shape{13, 40, 7}, Shape{64, 300, 576}, Shape{203, 517, 300}, Shape{150, 33, 1100}})
    for (bool ta : {false, true}) {
      const GemmParams p = params(s, ta, false, 3);
      CAPTURE(s.M);
      CAPTURE(s.N);
      CAPTURE(s.K);
      CAPTURE(ta);
      Operands<T> op = make_operands<T>(p, 17);
      const kern::DenseB<T> b(op.B.data(), p.ldb, false);
      std::vector<T> packed(std::size_t(kern::gemm_packed_a_size<T>(p)), std::numeric_limits<T>::quiet_NaN());
      kern::gemm_pack_a_cpu<T>(p, op.A.data(), packed.data());
      std::vector<T> expected = op.C;
      kern::gemm_cpu<T>(p, op.A.data(), b, T(0.5), expected.data());
      for (int nt : {1, 2, 3}) {
        omp_set_num_threads(nt);
        std::vector<T> c = op.C;
        kern::gemm_cpu<T>(p, nullptr, b, T(0.5), c.data(), nullptr, packed.data());
        CHECK(c == expected);
      }
      omp_set_num_threads(saved);
    }
}
