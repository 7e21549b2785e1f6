// kernels/cuda/activation.h against its CPU twin kernels/cpu/activation.h on fresh random data.
#include <doctest/doctest.h>

#include <cuda_bf16.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/activation.h"
#include "kernels/cuda/activation.h"
#include "tests/cuda/twins.h"

using namespace kern;
using namespace gpu_test;
using kern_test::random_vector;

namespace {

// Random values with NaN, exact zeros and large magnitudes (sigmoid's saturation) sprinkled in.
template <typename T>
std::vector<T> activation_inputs(std::size_t n, unsigned seed) {
  auto x = random_vector<T>(n, seed, -6, 6);
  for (std::size_t i = 0; i < n; i += 89) x[i] = std::numeric_limits<T>::quiet_NaN();
  for (std::size_t i = 4; i < n; i += 61) x[i] = T(0);
  for (std::size_t i = 9; i < n; i += 67) x[i] = T(i % 2 ? 120 : -120);
  return x;
}

}  // namespace

TEST_CASE_TEMPLATE("relu/cuda_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  for (const index_t n : kSizes) {
    CAPTURE(n);
    const auto x = activation_inputs<T>(std::size_t(n), 1);
    const auto dy = random_vector<T>(std::size_t(n), 2);
    std::vector<T> y(static_cast<std::size_t>(n)), dx(static_cast<std::size_t>(n));
    relu_forward_cpu(n, x.data(), y.data());
    DeviceBuffer<T> inplace(x);
    relu_forward_cuda(n, inplace.get(), inplace.get(), nullptr);
    check_same(inplace.download(), y);

    const DeviceBuffer<T> dyy(y);
    relu_backward_cpu(n, dy.data(), y.data(), dx.data());
    DeviceBuffer<T> ddy(dy);
    relu_backward_cuda(n, ddy.get(), dyy.get(), ddy.get(), nullptr);
    check_same(ddy.download(), dx);
  }
}

TEST_CASE_TEMPLATE("sigmoid/cuda_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  for (const index_t n : kSizes) {
    CAPTURE(n);
    const auto x = activation_inputs<T>(std::size_t(n), 3);
    const auto dy = random_vector<T>(std::size_t(n), 4);
    std::vector<T> y(static_cast<std::size_t>(n)), dx(static_cast<std::size_t>(n));
    // exp differs from the host's libm by an ulp or two.
    sigmoid_forward_cpu(n, x.data(), y.data());
    DeviceBuffer<T> inplace(x);
    sigmoid_forward_cuda(n, inplace.get(), inplace.get(), nullptr);
    check_matches(inplace.download(), y, kTol<T>);

    // Two products and a difference, nothing to fuse: exact.
    const DeviceBuffer<T> dyy(y);
    sigmoid_backward_cpu(n, dy.data(), y.data(), dx.data());
    DeviceBuffer<T> ddy(dy);
    sigmoid_backward_cuda(n, ddy.get(), dyy.get(), ddy.get(), nullptr);
    check_same(ddy.download(), dx);
  }
}

TEST_CASE("relu_sigmoid/cuda_bf16_matches_cpu_f32") {
  NN_REQUIRE_GPU();
  for (const index_t n : {index_t(1), index_t(7), index_t(1001), index_t(1048579)}) {
    CAPTURE(n);
    auto x = activation_inputs<float>(std::size_t(n), 5);
    std::vector<__nv_bfloat16> hx(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      hx[i] = __float2bfloat16(x[i]);
      x[i] = __bfloat162float(hx[i]);
    }
    auto as_float = [](const std::vector<__nv_bfloat16>& v) {
      std::vector<float> f(v.size());
      for (std::size_t i = 0; i < v.size(); ++i) f[i] = __bfloat162float(v[i]);
      return f;
    };
    const DeviceBuffer<__nv_bfloat16> dx(hx);
    DeviceBuffer<__nv_bfloat16> dy(static_cast<std::size_t>(n));
    std::vector<float> want(static_cast<std::size_t>(n));
    relu_forward_cpu(n, x.data(), want.data());
    relu_forward_cuda(n, dx.get(), dy.get(), nullptr);
    check_same(as_float(dy.download()), want);  // a selection: no rounding at all
    sigmoid_forward_cpu(n, x.data(), want.data());
    sigmoid_forward_cuda(n, dx.get(), dy.get(), nullptr);
    check_matches(as_float(dy.download()), want, kTolBf16);
  }
}

TEST_CASE_TEMPLATE("prelu/cuda_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  struct Shape {
    index_t N, C, HW;
  };
  for (const Shape s : {Shape{1, 1, 1}, Shape{2, 3, 5}, Shape{3, 7, 1}, Shape{4, 64, 49}, Shape{2, 5, 257},
                        Shape{4, 64, 4099}}) {
    for (const index_t num_weights : {index_t(1), s.C}) {
      CAPTURE(s.N);
      CAPTURE(s.C);
      CAPTURE(s.HW);
      CAPTURE(num_weights);
      const std::size_t n = std::size_t(s.N * s.C * s.HW);
      auto x = random_vector<T>(n, 11);
      for (std::size_t i = 3; i < n; i += 71) x[i] = T(0);  // the kink: x == 0 takes the slope
      const auto w = random_vector<T>(std::size_t(num_weights), 12, 0.05, 0.5);
      const auto dy = random_vector<T>(n, 13);
      const DeviceBuffer<T> dx_in(x), dw_in(w), ddy(dy);
      DeviceBuffer<T> dout(n), ddw(static_cast<std::size_t>(num_weights));
      std::vector<T> y(n), dx(n), dw(static_cast<std::size_t>(num_weights));

      prelu_forward_cpu(s.N, s.C, s.HW, num_weights, x.data(), w.data(), y.data());
      prelu_forward_cuda(s.N, s.C, s.HW, num_weights, dx_in.get(), dw_in.get(), dout.get(), nullptr);
      check_same(dout.download(), y);

      // The CPU sums the slope's gradient partly in T-wide vector lanes, the GPU all in double: close, not equal.
      prelu_backward_cpu(s.N, s.C, s.HW, num_weights, dy.data(), x.data(), w.data(), dx.data(), dw.data());
      prelu_backward_cuda(s.N, s.C, s.HW, num_weights, ddy.get(), dx_in.get(), dw_in.get(), dout.get(), ddw.get(),
                          nullptr);
      check_same(dout.download(), dx);
      check_matches(ddw.download(), dw, kTol<T>);

      // Each output alone; dx in place over dy.
      ddw.poison();
      prelu_backward_cuda(s.N, s.C, s.HW, num_weights, ddy.get(), dx_in.get(), dw_in.get(), static_cast<T*>(nullptr),
                          ddw.get(), nullptr);
      check_matches(ddw.download(), dw, kTol<T>);
      DeviceBuffer<T> inplace(dy);
      prelu_backward_cuda(s.N, s.C, s.HW, num_weights, inplace.get(), dx_in.get(), dw_in.get(), inplace.get(),
                          static_cast<T*>(nullptr), nullptr);
      check_same(inplace.download(), dx);
      DeviceBuffer<T> inplace_both(dy);
      ddw.poison();
      prelu_backward_cuda(s.N, s.C, s.HW, num_weights, inplace_both.get(), dx_in.get(), dw_in.get(),
                          inplace_both.get(), ddw.get(), nullptr);
      check_same(inplace_both.download(), dx);
      check_matches(ddw.download(), dw, kTol<T>);
    }
  }
}

TEST_CASE("prelu/cuda_backward_is_run_to_run_identical") {
  NN_REQUIRE_GPU();
  const index_t N = 8, C = 16, HW = 3001;
  const std::size_t n = std::size_t(N * C * HW);
  const DeviceBuffer<float> x(random_vector<float>(n, 21)), dy(random_vector<float>(n, 22)),
      w(random_vector<float>(std::size_t(C), 23, 0.05, 0.5));
  DeviceBuffer<float> dw(static_cast<std::size_t>(C));
  for (const index_t num_weights : {index_t(1), C}) {
    prelu_backward_cuda(N, C, HW, num_weights, dy.get(), x.get(), w.get(), static_cast<float*>(nullptr), dw.get(),
                        nullptr);
    const auto first = dw.download();
    for (int run = 0; run < 3; ++run) {
      dw.poison();
      prelu_backward_cuda(N, C, HW, num_weights, dy.get(), x.get(), w.get(), static_cast<float*>(nullptr), dw.get(),
                          nullptr);
      const auto again = dw.download();
      CHECK(std::vector<float>(again.begin(), again.begin() + num_weights) ==
            std::vector<float>(first.begin(), first.begin() + num_weights));
    }
  }
}
