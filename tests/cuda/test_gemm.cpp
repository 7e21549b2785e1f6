// gemm_cuda against kern::gemm_reference in double on the same values: all four transpose combinations,
// odd sizes around the 64 x 64 x 16 tile, padded leading dimensions, beta 0 over a NaN-poisoned C,
// beta 1, alpha 0 over NaN operands, every MathMode, and the f64 path.
#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "kernels/cuda/gemm.h"
#include "tests/cuda/gpu.h"
#include "tests/kernels/compare.h"

using gpu_test::DeviceBuffer;
using kern::GemmParams;
using kern::index_t;
using kern::MathMode;

namespace {

template <typename T>
std::vector<T> random_values(index_t n, unsigned seed) {
  return kern_test::random_vector<T>(static_cast<std::size_t>(n), seed);
}

double tolerance(MathMode m) {
  return m == MathMode::fp32 ? gpu_test::kTolF32 : m == MathMode::tf32 ? gpu_test::kTolTf32 : gpu_test::kTolBf16;
}

struct Case {
  index_t M, N, K;
  bool trans_a, trans_b;
  index_t pad;  // added to every natural leading dimension
};

// Runs one case in T with the given mode and compares C's M x N window with the double reference; the
// columns past N in each row of C (ldc > N) must come back untouched (still NaN).
template <typename T>
void check_case(const Case& c, MathMode math, double alpha, double beta, double tol, unsigned seed) {
  GemmParams p;
  p.M = c.M, p.N = c.N, p.K = c.K, p.trans_a = c.trans_a, p.trans_b = c.trans_b;
  p.lda = (c.trans_a ? c.M : c.K) + c.pad;
  p.ldb = (c.trans_b ? c.K : c.N) + c.pad;
  p.ldc = c.N + c.pad;
  const index_t a_rows = c.trans_a ? c.K : c.M, b_rows = c.trans_b ? c.N : c.K;
  const auto A = random_values<T>(a_rows * p.lda, seed), B = random_values<T>(b_rows * p.ldb, seed + 1);
  const auto C0 = random_values<T>(c.M * p.ldc, seed + 2);

  const std::vector<double> Ad(A.begin(), A.end()), Bd(B.begin(), B.end());
  std::vector<double> want(C0.begin(), C0.end());
  kern::gemm_reference(p, alpha, Ad.data(), Bd.data(), beta, want.data());

  const DeviceBuffer<T> A_d(A), B_d(B);
  DeviceBuffer<T> C_d(C0.size());  // NaN-poisoned: beta == 0 must not read it
  if (beta != 0) C_d.upload(C0);
  kern::gemm_cuda<T>(p, T(alpha), A_d.get(), B_d.get(), T(beta), C_d.get(), math, nullptr);
  const auto got = C_d.download();

  std::vector<T> window;
  std::vector<double> want_window;
  bool padding_untouched = true;
  for (index_t i = 0; i < c.M; ++i)
    for (index_t j = 0; j < p.ldc; ++j) {
      const std::size_t at = static_cast<std::size_t>(i * p.ldc + j);
      if (j < c.N) {
        window.push_back(got[at]);
        want_window.push_back(want[at]);
      } else if (beta == 0 ? !std::isnan(double(got[at])) : got[at] != C0[at]) {
        padding_untouched = false;
      }
    }
  NN_CHECK_REL(window, want_window, tol);
  CHECK(padding_untouched);
}

std::vector<Case> cases() {
  std::vector<Case> out;
  const index_t sizes[][3] = {{1, 1, 1}, {37, 53, 29}, {64, 64, 16}, {65, 63, 17}, {130, 70, 150}, {5, 200, 1},
                              {200, 3, 300}, {128, 256, 512}};
  for (const auto& s : sizes)
    for (const bool ta : {false, true})
      for (const bool tb : {false, true})
        for (const index_t pad : {0, 3}) out.push_back({s[0], s[1], s[2], ta, tb, pad});
  return out;
}

}  // namespace

TEST_CASE("gemm/cuda_matches_cpu") {
  NN_REQUIRE_GPU();
  unsigned seed = 1;
  for (const Case& c : cases()) {
    CAPTURE(c.M);
    CAPTURE(c.N);
    CAPTURE(c.K);
    CAPTURE(c.trans_a);
    CAPTURE(c.trans_b);
    CAPTURE(c.pad);
    for (const MathMode math : {MathMode::fp32, MathMode::tf32, MathMode::bf16}) {
      CAPTURE(int(math));
      check_case<float>(c, math, 1.0, 0.0, tolerance(math), seed);
      check_case<float>(c, math, 0.5, 1.0, tolerance(math), seed + 10);
      seed += 20;
    }
    check_case<double>(c, MathMode::fp32, 1.5, 0.0, 1e-12, seed);
    check_case<double>(c, MathMode::fp32, -1.0, 1.0, 1e-12, seed + 10);
    seed += 20;
  }
}

TEST_CASE("gemm/cuda_alpha_zero_never_reads_operands") {
  NN_REQUIRE_GPU();
  GemmParams p;
  p.M = 17, p.N = 9, p.K = 33;
  const DeviceBuffer<float> A(p.M * p.K), B(p.K * p.N);  // NaN: must not be read
  const auto C0 = random_values<float>(p.M * p.N, 5);
  DeviceBuffer<float> C(C0);
  kern::gemm_cuda<float>(p, 0.0f, A.get(), B.get(), 0.5f, C.get(), MathMode::tf32, nullptr);
  std::vector<double> want(C0.begin(), C0.end());
  for (double& v : want) v *= 0.5;
  NN_CHECK_REL(C.download(), want, gpu_test::kTolF32);
}

TEST_CASE("gemm/cuda_rejects_bad_arguments") {
  NN_REQUIRE_GPU();
  GemmParams p;
  p.M = 4, p.N = 4, p.K = 4, p.lda = 3;  // lda < K
  CHECK_THROWS_AS(kern::gemm_cuda<float>(p, 1.0f, nullptr, nullptr, 0.0f, nullptr, MathMode::fp32, nullptr),
                  std::invalid_argument);
  p.lda = 0;
  CHECK_THROWS_AS(kern::gemm_cuda<double>(p, 1.0, nullptr, nullptr, 0.0, nullptr, MathMode::bf16, nullptr),
                  std::invalid_argument);
}
