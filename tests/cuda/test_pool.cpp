// kernels/cuda/pool.h against its CPU twin kernels/cpu/pool.h. The GPU kernels scan and add in the CPU's
// order, so values are compared exactly (tolerance 0) except global average pooling's tree sum; indices
// always exactly. Windows: overlapping 3x3 stride 2 pad 1 (the stem), 2x2 stride 2, 1x1 stride 2 (the
// IR shortcut), non-square ones with odd sizes; ties from quantised data; NaN; all -inf.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels/cpu/pool.h"
#include "kernels/cuda/pool.h"
#include "tests/cuda/gpu.h"
#include "tests/kernels/compare.h"

using namespace kern;
using gpu_test::DeviceBuffer;
using gpu_test::kTol;
using gpu_test::kTolF32;
using kern_test::random_vector;

namespace {

struct Window {
  index_t kh, kw, sh, sw, ph, pw;
};
const std::vector<Window> kWindows = {{3, 3, 2, 2, 1, 1}, {2, 2, 2, 2, 0, 0}, {1, 1, 2, 2, 0, 0},
                                      {3, 2, 2, 1, 1, 0}, {3, 3, 1, 1, 1, 1}, {5, 3, 3, 2, 2, 1}};
struct Input {
  index_t N, C, H, W;
};
// The stem's 112x112 at batch 8, a ResNet stage, odd sizes, a single plane.
const std::vector<Input> kInputs = {{8, 64, 112, 112}, {2, 128, 28, 28}, {3, 5, 7, 9}, {1, 1, 6, 5}};

Pool2dParams params(const Input& in, const Window& w, bool count_include_pad = true) {
  Pool2dParams p;
  p.N = in.N, p.C = in.C, p.H = in.H, p.W = in.W;
  p.kernel_h = w.kh, p.kernel_w = w.kw, p.stride_h = w.sh, p.stride_w = w.sw, p.pad_h = w.ph, p.pad_w = w.pw;
  p.count_include_pad = count_include_pad;
  return p;
}

// Values on a grid of 4 levels: most windows hold equal maxima, so the tie rule decides the indices.
template <typename T>
std::vector<T> quantised(std::size_t n, unsigned seed) {
  auto v = random_vector<T>(n, seed, 0, 4);
  for (auto& e : v) e = std::floor(e);
  return v;
}

// NaN in the same places, everything else exactly equal.
template <typename T>
void check_same(std::vector<T> got, std::vector<T> want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      INFO("index " << i);
      CHECK(std::isnan(got[i]));
      got[i] = want[i] = 0;
    }
  }
  NN_CHECK_REL(got, want, 0.0);
}

template <typename T>
void check_max_pool(const Pool2dParams& p, const std::vector<T>& x, unsigned seed) {
  const std::size_t ny = std::size_t(p.N * p.C * p.P() * p.Q()), nx = x.size();
  std::vector<T> y(ny), dx(nx);
  std::vector<std::int64_t> idx(ny);
  max_pool2d_forward_cpu(p, x.data(), y.data(), idx.data());
  DeviceBuffer<T> d_x(x), d_y(ny), d_y2(ny);
  DeviceBuffer<std::int64_t> d_idx(ny);
  max_pool2d_forward_cuda(p, d_x.get(), d_y.get(), d_idx.get(), nullptr);
  check_same(d_y.download(), y);
  CHECK(d_idx.download() == idx);
  max_pool2d_forward_cuda(p, d_x.get(), d_y2.get(), static_cast<std::int64_t*>(nullptr), nullptr);
  check_same(d_y2.download(), y);

  // The CPU's indices drive both backwards.
  const auto dy = random_vector<T>(ny, seed);
  max_pool2d_backward_cpu(p, dy.data(), idx.data(), dx.data());
  DeviceBuffer<T> d_dy(dy), d_dx(nx);
  DeviceBuffer<std::int64_t> d_cpu_idx(idx);
  max_pool2d_backward_cuda(p, d_dy.get(), d_cpu_idx.get(), d_dx.get(), nullptr);
  NN_CHECK_REL(d_dx.download(), dx, 0.0);
}

template <typename T>
void check_avg_pool(const Pool2dParams& p, unsigned seed) {
  const std::size_t nx = std::size_t(p.N * p.C * p.H * p.W), ny = std::size_t(p.N * p.C * p.P() * p.Q());
  const auto x = random_vector<T>(nx, seed), dy = random_vector<T>(ny, seed + 1);
  std::vector<T> y(ny), dx(nx);
  avg_pool2d_forward_cpu(p, x.data(), y.data());
  avg_pool2d_backward_cpu(p, dy.data(), dx.data());
  DeviceBuffer<T> d_x(x), d_y(ny), d_dy(dy), d_dx(nx);
  avg_pool2d_forward_cuda(p, d_x.get(), d_y.get(), nullptr);
  avg_pool2d_backward_cuda(p, d_dy.get(), d_dx.get(), nullptr);
  NN_CHECK_REL(d_y.download(), y, 0.0);
  NN_CHECK_REL(d_dx.download(), dx, 0.0);
}

template <typename T>
void check_global(index_t planes, index_t HW, const std::vector<T>& x, unsigned seed) {
  const std::size_t n = x.size(), np = std::size_t(planes);
  const auto dy = random_vector<T>(np, seed);
  std::vector<T> avg(np), mx(np), davg(n), dmax(n);
  std::vector<std::int64_t> idx(np);
  global_avg_pool_forward_cpu(planes, HW, x.data(), avg.data());
  global_max_pool_forward_cpu(planes, HW, x.data(), mx.data(), idx.data());
  global_avg_pool_backward_cpu(planes, HW, dy.data(), davg.data());
  global_max_pool_backward_cpu(planes, HW, dy.data(), idx.data(), dmax.data());

  DeviceBuffer<T> d_x(x), d_dy(dy), d_avg(np), d_max(np), d_max2(np), d_davg(n), d_dmax(n);
  DeviceBuffer<std::int64_t> d_idx(np), d_cpu_idx(idx);
  global_avg_pool_forward_cuda(planes, HW, d_x.get(), d_avg.get(), nullptr);
  global_max_pool_forward_cuda(planes, HW, d_x.get(), d_max.get(), d_idx.get(), nullptr);
  global_max_pool_forward_cuda(planes, HW, d_x.get(), d_max2.get(), static_cast<std::int64_t*>(nullptr), nullptr);
  global_avg_pool_backward_cuda(planes, HW, d_dy.get(), d_davg.get(), nullptr);
  global_max_pool_backward_cuda(planes, HW, d_dy.get(), d_cpu_idx.get(), d_dmax.get(), nullptr);
  // A tree sum of finite values; with a NaN or an infinity in a plane both sides give NaN or +-inf.
  std::vector<T> got_avg = d_avg.download(), want_avg = avg;
  for (std::size_t i = 0; i < np; ++i)
    if (!std::isfinite(want_avg[i])) {
      INFO("plane " << i);
      CHECK((std::isnan(want_avg[i]) ? std::isnan(got_avg[i]) : got_avg[i] == want_avg[i]));
      got_avg[i] = want_avg[i] = 0;
    }
  NN_CHECK_REL(got_avg, want_avg, kTol<T>);
  check_same(d_max.download(), mx);
  check_same(d_max2.download(), mx);
  CHECK(d_idx.download() == idx);
  NN_CHECK_REL(d_davg.download(), davg, 0.0);
  NN_CHECK_REL(d_dmax.download(), dmax, 0.0);
}

}  // namespace

TEST_CASE_TEMPLATE("max_pool2d/cuda_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  unsigned seed = 1;
  for (const Input& in : kInputs)
    for (const Window& w : kWindows) {
      const Pool2dParams p = params(in, w);
      CAPTURE(in.N);
      CAPTURE(in.C);
      CAPTURE(in.H);
      CAPTURE(in.W);
      CAPTURE(w.kh);
      CAPTURE(w.kw);
      CAPTURE(w.sh);
      CAPTURE(w.sw);
      CAPTURE(w.ph);
      CAPTURE(w.pw);
      const std::size_t n = std::size_t(in.N * in.C * in.H * in.W);
      check_max_pool<T>(p, random_vector<T>(n, seed), seed + 1);
      check_max_pool<T>(p, quantised<T>(n, seed + 2), seed + 3);
      seed += 4;
    }
}

TEST_CASE_TEMPLATE("max_pool2d/cuda_nan_and_inf", T, float, double) {
  NN_REQUIRE_GPU();
  const Input in{2, 3, 9, 8};
  const std::size_t n = std::size_t(in.N * in.C * in.H * in.W);
  auto x = quantised<T>(n, 5);
  // Sparse NaNs (some windows hold two), a few infinities, and one plane of -inf only.
  for (std::size_t i = 0; i < n; i += 13) x[i] = std::numeric_limits<T>::quiet_NaN();
  for (std::size_t i = 5; i < n; i += 29) x[i] = std::numeric_limits<T>::infinity();
  for (std::size_t i = 0; i < std::size_t(in.H * in.W); ++i) x[n - 1 - i] = -std::numeric_limits<T>::infinity();
  for (const Window& w : kWindows) {
    CAPTURE(w.kh);
    CAPTURE(w.sh);
    check_max_pool<T>(params(in, w), x, 6);
  }
}

TEST_CASE_TEMPLATE("avg_pool2d/cuda_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  unsigned seed = 50;
  for (const Input& in : kInputs)
    for (const Window& w : kWindows)
      for (const bool include_pad : {true, false}) {
        CAPTURE(in.H);
        CAPTURE(in.W);
        CAPTURE(w.kh);
        CAPTURE(w.kw);
        CAPTURE(w.sh);
        CAPTURE(w.ph);
        CAPTURE(include_pad);
        check_avg_pool<T>(params(in, w, include_pad), seed += 2);
      }
}

TEST_CASE_TEMPLATE("global_pool/cuda_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  struct Planes {
    index_t planes, HW;
  };
  // The 7x7 head at batch 32 and 512 channels, one position, fewer and more positions than a warp.
  unsigned seed = 80;
  for (const Planes& s : {Planes{32 * 512, 49}, Planes{5, 1}, Planes{7, 31}, Planes{3, 1000}, Planes{2, 56 * 56}}) {
    CAPTURE(s.planes);
    CAPTURE(s.HW);
    const std::size_t n = std::size_t(s.planes * s.HW);
    check_global<T>(s.planes, s.HW, random_vector<T>(n, seed), seed + 1);
    check_global<T>(s.planes, s.HW, quantised<T>(n, seed + 2), seed + 3);
    seed += 4;
  }
}

TEST_CASE_TEMPLATE("global_pool/cuda_nan_and_inf", T, float, double) {
  NN_REQUIRE_GPU();
  const index_t planes = 6, HW = 100;
  auto x = quantised<T>(std::size_t(planes * HW), 9);
  const T nan = std::numeric_limits<T>::quiet_NaN(), inf = std::numeric_limits<T>::infinity();
  x[0 * HW + 70] = nan;  // one NaN late in the plane
  x[1 * HW + 40] = nan;  // two NaNs in different lanes: the first wins
  x[1 * HW + 97] = nan;
  x[2 * HW + 33] = inf;  // +inf beats every value
  x[2 * HW + 65] = inf;
  for (index_t k = 0; k < HW; ++k) x[3 * HW + k] = -inf;  // all -inf: index 0
  x[4 * HW + 99] = nan;                                   // NaN after an inf
  x[4 * HW + 3] = inf;
  check_global<T>(planes, HW, x, 10);
}
