// kernels/cuda/elementwise.h against its CPU twin kernels/cpu/elementwise.h on fresh random data.
#include <doctest/doctest.h>

#include <cuda_bf16.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/elementwise.h"
#include "tests/cuda/twins.h"

using namespace kern;
using namespace gpu_test;
using kern_test::random_vector;

namespace {

template <typename T>
std::vector<T> with_nans(std::vector<T> v, std::size_t every) {
  for (std::size_t i = 0; i < v.size(); i += every) v[i] = std::numeric_limits<T>::quiet_NaN();
  return v;
}

std::vector<std::uint8_t> random_mask(std::size_t n, unsigned seed) {
  const auto u = random_vector<double>(n, seed, 0, 1);
  std::vector<std::uint8_t> m(n);
  for (std::size_t i = 0; i < n; ++i) m[i] = u[i] < 0.7;
  return m;
}

struct Shape3 {
  index_t N, C, HW;
};
// (N, C, HW): single element, odd sizes, one-position planes, a ResNet stage, over 1e6 elements.
const std::vector<Shape3> kShapes = {{1, 1, 1}, {2, 3, 5}, {3, 7, 1}, {4, 64, 49}, {2, 5, 257}, {4, 64, 4099}};

}  // namespace

TEST_CASE_TEMPLATE("add_sub_mul/cuda_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  for (const index_t n : kSizes) {
    CAPTURE(n);
    const auto a = random_vector<T>(std::size_t(n), 1, -2, 2), b = random_vector<T>(std::size_t(n), 2, -2, 2);
    const DeviceBuffer<T> da(a), db(b);
    DeviceBuffer<T> dy(static_cast<std::size_t>(n));
    std::vector<T> want(static_cast<std::size_t>(n));
    const T alpha = T(0.37);

    add_cpu(n, a.data(), b.data(), want.data());
    add_cuda(n, da.get(), db.get(), dy.get(), nullptr);
    check_same(dy.download(), want);
    sub_cpu(n, a.data(), b.data(), want.data());
    sub_cuda(n, da.get(), db.get(), dy.get(), nullptr);
    check_same(dy.download(), want);
    mul_cpu(n, a.data(), b.data(), want.data());
    mul_cuda(n, da.get(), db.get(), dy.get(), nullptr);
    check_same(dy.download(), want);
    mul_scalar_cpu(n, a.data(), alpha, want.data());
    mul_scalar_cuda(n, da.get(), alpha, dy.get(), nullptr);
    check_same(dy.download(), want);
    add_scalar_cpu(n, a.data(), alpha, want.data());
    add_scalar_cuda(n, da.get(), alpha, dy.get(), nullptr);
    check_same(dy.download(), want);

    // axpy accumulates; either side may fuse the multiply-add.
    want = b;
    axpy_cpu(n, alpha, a.data(), want.data());
    DeviceBuffer<T> acc(b);
    axpy_cuda(n, alpha, da.get(), acc.get(), nullptr);
    check_matches(acc.download(), want, kTol<T>);
  }
}

TEST_CASE_TEMPLATE("add_sub_mul/cuda_in_place_and_unaligned", T, float, double) {
  NN_REQUIRE_GPU();
  const index_t n = 1001;
  const auto a = with_nans(random_vector<T>(std::size_t(n) + 1, 3), 97), b = random_vector<T>(std::size_t(n) + 1, 4);
  // In place: y == a.
  std::vector<T> want = a;
  mul_cpu(n + 1, want.data(), b.data(), want.data());
  DeviceBuffer<T> da(a);
  const DeviceBuffer<T> db(b);
  mul_cuda(n + 1, da.get(), db.get(), da.get(), nullptr);
  check_same(da.download(), want);
  // Views one element in: no array starts on a 16-byte boundary, so the element-wise path runs.
  want = a;
  add_cpu(n, a.data() + 1, b.data() + 1, want.data() + 1);
  DeviceBuffer<T> dy(a);
  da.upload(a);
  add_cuda(n, da.get() + 1, db.get() + 1, dy.get() + 1, nullptr);
  check_same(dy.download(), want);
}

TEST_CASE("add_sub_mul/cuda_bf16_matches_cpu_f32") {
  NN_REQUIRE_GPU();
  for (const index_t n : {index_t(1), index_t(7), index_t(1001), index_t(1048579)}) {
    CAPTURE(n);
    // Inputs rounded to bf16 first, so both sides see the same values; the GPU rounds once more on store.
    auto a = random_vector<float>(std::size_t(n), 5, -2, 2), b = random_vector<float>(std::size_t(n), 6, -2, 2);
    std::vector<__nv_bfloat16> ha(a.size()), hb(b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      ha[i] = __float2bfloat16(a[i]);
      hb[i] = __float2bfloat16(b[i]);
      a[i] = __bfloat162float(ha[i]);
      b[i] = __bfloat162float(hb[i]);
    }
    const DeviceBuffer<__nv_bfloat16> da(ha), db(hb);
    DeviceBuffer<__nv_bfloat16> dy(static_cast<std::size_t>(n));
    std::vector<float> want(static_cast<std::size_t>(n));
    auto as_float = [](const std::vector<__nv_bfloat16>& v) {
      std::vector<float> f(v.size());
      for (std::size_t i = 0; i < v.size(); ++i) f[i] = __bfloat162float(v[i]);
      return f;
    };
    add_cpu(n, a.data(), b.data(), want.data());
    add_cuda(n, da.get(), db.get(), dy.get(), nullptr);
    check_matches(as_float(dy.download()), want, kTolBf16);
    mul_scalar_cpu(n, a.data(), 0.37f, want.data());
    mul_scalar_cuda(n, da.get(), __float2bfloat16(0.37f), dy.get(), nullptr);
    // alpha itself is rounded to bf16 on the GPU side: within bf16's tolerance of the f32 result.
    check_matches(as_float(dy.download()), want, kTolBf16);
    want = b;
    axpy_cpu(n, 0.5f, a.data(), want.data());
    DeviceBuffer<__nv_bfloat16> acc(hb);
    axpy_cuda(n, __float2bfloat16(0.5f), da.get(), acc.get(), nullptr);
    check_matches(as_float(acc.download()), want, kTolBf16);
    const auto mask = random_mask(std::size_t(n), 7);
    const DeviceBuffer<std::uint8_t> dm(mask);
    dropout_forward_cpu(n, 0.3, a.data(), mask.data(), want.data());
    dropout_forward_cuda(n, 0.3, da.get(), dm.get(), dy.get(), nullptr);
    check_matches(as_float(dy.download()), want, kTolBf16);
    fill_cuda(n, __float2bfloat16(1.5f), dy.get(), nullptr);
    check_same(as_float(dy.download()), std::vector<float>(std::size_t(n), 1.5f));
  }
}

TEST_CASE_TEMPLATE("fill_copy/cuda_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  for (const index_t n : kSizes) {
    CAPTURE(n);
    DeviceBuffer<T> dy(static_cast<std::size_t>(n));
    fill_cuda(n, T(-2.5), dy.get(), nullptr);
    check_same(dy.download(), std::vector<T>(std::size_t(n), T(-2.5)));
    const auto x = random_vector<T>(std::size_t(n), 8);
    const DeviceBuffer<T> dx(x);
    copy_cuda(n, dx.get(), dy.get(), nullptr);
    check_same(dy.download(), x);
    copy_cuda(n, dy.get(), dy.get(), nullptr);  // identical: nothing to do
    check_same(dy.download(), x);
    const DeviceBuffer<T> scalar(std::vector<T>{T(0.75)});
    fill_from_cuda(n, scalar.get(), dy.get(), nullptr);  // the value read on the device
    check_same(dy.download(), std::vector<T>(std::size_t(n), T(0.75)));
  }
  fill_cuda(0, T(1), static_cast<T*>(nullptr), nullptr);  // n == 0 launches nothing
}

TEST_CASE_TEMPLATE("channel_mul/cuda_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  for (const auto& [N, C, HW] : kShapes) {
    CAPTURE(N);
    CAPTURE(C);
    CAPTURE(HW);
    const std::size_t n = std::size_t(N * C * HW), ns = std::size_t(N * C);
    const auto x = random_vector<T>(n, 11), s = random_vector<T>(ns, 12), dy = random_vector<T>(n, 13);
    const DeviceBuffer<T> dx_in(x), ds_in(s), ddy(dy);
    DeviceBuffer<T> dout(n), dds(ns);
    std::vector<T> y(n), dx(n), ds(ns);

    channel_mul_forward_cpu(N, C, HW, x.data(), s.data(), y.data());
    channel_mul_forward_cuda(N, C, HW, dx_in.get(), ds_in.get(), dout.get(), nullptr);
    check_same(dout.download(), y);

    channel_mul_backward_cpu(N, C, HW, dy.data(), x.data(), s.data(), dx.data(), ds.data());
    channel_mul_backward_cuda(N, C, HW, ddy.get(), dx_in.get(), ds_in.get(), dout.get(), dds.get(), nullptr);
    check_same(dout.download(), dx);
    check_matches(dds.download(), ds, kTol<T>);

    // Each output alone, and dx in place over dy.
    dds.poison();
    channel_mul_backward_cuda(N, C, HW, ddy.get(), dx_in.get(), ds_in.get(), static_cast<T*>(nullptr), dds.get(),
                              nullptr);
    check_matches(dds.download(), ds, kTol<T>);
    DeviceBuffer<T> inplace(dy);
    channel_mul_backward_cuda(N, C, HW, inplace.get(), dx_in.get(), ds_in.get(), inplace.get(),
                              static_cast<T*>(nullptr), nullptr);
    check_same(inplace.download(), dx);
  }
}

TEST_CASE_TEMPLATE("spatial_mul/cuda_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  for (const auto& [N, C, HW] : kShapes) {
    CAPTURE(N);
    CAPTURE(C);
    CAPTURE(HW);
    const std::size_t n = std::size_t(N * C * HW), ns = std::size_t(N * HW);
    const auto x = random_vector<T>(n, 21), s = random_vector<T>(ns, 22), dy = random_vector<T>(n, 23);
    const DeviceBuffer<T> dx_in(x), ds_in(s), ddy(dy);
    DeviceBuffer<T> dout(n), dds(ns);
    std::vector<T> y(n), dx(n), ds(ns);

    spatial_mul_forward_cpu(N, C, HW, x.data(), s.data(), y.data());
    spatial_mul_forward_cuda(N, C, HW, dx_in.get(), ds_in.get(), dout.get(), nullptr);
    check_same(dout.download(), y);

    // ds sums the channels in the CPU's order; f32 products are exact in double, so ds is too.
    spatial_mul_backward_cpu(N, C, HW, dy.data(), x.data(), s.data(), dx.data(), ds.data());
    spatial_mul_backward_cuda(N, C, HW, ddy.get(), dx_in.get(), ds_in.get(), dout.get(), dds.get(), nullptr);
    check_same(dout.download(), dx);
    if constexpr (std::is_same_v<T, float>)
      check_same(dds.download(), ds);
    else
      check_matches(dds.download(), ds, kTol<T>);

    DeviceBuffer<T> inplace(dy);
    dds.poison();
    spatial_mul_backward_cuda(N, C, HW, inplace.get(), dx_in.get(), ds_in.get(), inplace.get(), dds.get(), nullptr);
    check_same(inplace.download(), dx);
    check_matches(dds.download(), ds, kTol<T>);
  }
}

TEST_CASE_TEMPLATE("sqrt_clamp/cuda_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  const T inf = std::numeric_limits<T>::infinity();
  for (const index_t n : kSizes) {
    CAPTURE(n);
    // Negative inputs give NaN; a few exact zeros give y == 0, so the backward's inf and NaN.
    auto x = with_nans(random_vector<T>(std::size_t(n), 31, -0.5, 4), 101);
    for (std::size_t i = 5; i < x.size(); i += 53) x[i] = T(0);
    const auto dy = random_vector<T>(std::size_t(n), 32);
    const DeviceBuffer<T> dx_in(x), ddy(dy);
    DeviceBuffer<T> dout(static_cast<std::size_t>(n));
    std::vector<T> y(static_cast<std::size_t>(n)), dx(static_cast<std::size_t>(n));

    sqrt_forward_cpu(n, x.data(), y.data());
    sqrt_forward_cuda(n, dx_in.get(), dout.get(), nullptr);
    check_same(dout.download(), y);
    const DeviceBuffer<T> dyy(y);
    sqrt_backward_cpu(n, dy.data(), y.data(), dx.data());
    sqrt_backward_cuda(n, ddy.get(), dyy.get(), dout.get(), nullptr);
    check_same(dout.download(), dx);

    // Inputs exactly on the bounds pass the gradient; NaN propagates forward and stops backward.
    for (std::size_t i = 2; i < x.size(); i += 41) x[i] = T(0.25);
    for (std::size_t i = 3; i < x.size(); i += 43) x[i] = T(2);
    const DeviceBuffer<T> dxc(x);
    for (const auto& [lo, hi] : std::vector<std::pair<T, T>>{{T(0.25), T(2)}, {-inf, T(1)}, {T(0), inf}}) {
      clamp_forward_cpu(n, x.data(), lo, hi, y.data());
      clamp_forward_cuda(n, dxc.get(), lo, hi, dout.get(), nullptr);
      check_same(dout.download(), y);
      clamp_backward_cpu(n, dy.data(), x.data(), lo, hi, dx.data());
      DeviceBuffer<T> inplace(dy);
      clamp_backward_cuda(n, inplace.get(), dxc.get(), lo, hi, inplace.get(), nullptr);
      check_same(inplace.download(), dx);
    }
  }
}

TEST_CASE_TEMPLATE("l2_normalize/cuda_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  const std::vector<std::pair<index_t, index_t>> shapes = {{1, 1}, {3, 5}, {7, 33}, {64, 512}, {5, 1001}, {4, 262147}};
  for (const auto& [N, D] : shapes) {
    CAPTURE(N);
    CAPTURE(D);
    const std::size_t n = std::size_t(N * D);
    auto x = random_vector<T>(n, 41);
    if (N > 1)  // a zero row: its norm is below eps, so the clamp's branch
      for (index_t j = 0; j < D; ++j) x[std::size_t(D + j)] = T(0);
    const auto dy = random_vector<T>(n, 42);
    const DeviceBuffer<T> dx_in(x), ddy(dy);
    DeviceBuffer<T> dout(n), dnorm(static_cast<std::size_t>(N));
    std::vector<T> y(n), norm(static_cast<std::size_t>(N)), dx(n);

    l2_normalize_forward_cpu(N, D, x.data(), y.data(), norm.data());
    l2_normalize_forward_cuda(N, D, dx_in.get(), dout.get(), dnorm.get(), 1e-12, nullptr);
    check_matches(dout.download(), y, kTol<T>);
    check_matches(dnorm.download(), norm, kTol<T>);
    DeviceBuffer<T> inplace(x);
    l2_normalize_forward_cuda(N, D, inplace.get(), inplace.get(), static_cast<T*>(nullptr), 1e-12, nullptr);
    check_matches(inplace.download(), y, kTol<T>);

    const DeviceBuffer<T> dnorm_cpu(norm);
    l2_normalize_backward_cpu(N, D, dy.data(), x.data(), norm.data(), dx.data());
    l2_normalize_backward_cuda(N, D, ddy.get(), dx_in.get(), dnorm_cpu.get(), dout.get(), 1e-12, nullptr);
    check_matches(dout.download(), dx, kTol<T>);
    DeviceBuffer<T> inplace_dy(dy);
    l2_normalize_backward_cuda(N, D, inplace_dy.get(), dx_in.get(), dnorm_cpu.get(), inplace_dy.get(), 1e-12,
                               nullptr);
    check_matches(inplace_dy.download(), dx, kTol<T>);
  }
}

TEST_CASE_TEMPLATE("dropout/cuda_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  for (const index_t n : kSizes) {
    CAPTURE(n);
    const auto x = random_vector<T>(std::size_t(n), 51);
    const auto mask = random_mask(std::size_t(n), 52);
    const DeviceBuffer<T> dx_in(x);
    const DeviceBuffer<std::uint8_t> dm(mask);
    std::vector<T> y(static_cast<std::size_t>(n));
    for (const double p : {0.0, 0.3, 1.0}) {
      CAPTURE(p);
      dropout_forward_cpu(n, p, x.data(), mask.data(), y.data());
      DeviceBuffer<T> dy(static_cast<std::size_t>(n));
      dropout_forward_cuda(n, p, dx_in.get(), dm.get(), dy.get(), nullptr);
      check_same(dy.download(), y);
      dropout_backward_cpu(n, p, x.data(), mask.data(), y.data());
      DeviceBuffer<T> inplace(x);
      dropout_backward_cuda(n, p, inplace.get(), dm.get(), inplace.get(), nullptr);
      check_same(inplace.download(), y);
    }
  }
}

TEST_CASE_TEMPLATE("sum/cuda_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  std::vector<index_t> sizes = kSizes;
  sizes.push_back(0);
  for (const index_t n : sizes) {
    CAPTURE(n);
    const auto x = random_vector<T>(std::size_t(n), 61, -1, 1);
    const DeviceBuffer<T> dx(x);
    DeviceBuffer<T> out(1);
    double magnitude = 0;  // sum of |x| and of x^2: what the summation order can move the results by
    for (const T v : x) magnitude += std::abs(double(v)) + double(v) * double(v);
    // Both sides sum in double and round once to T: the results differ at most by T's last place.
    const double tol_rel = std::is_same_v<T, float> ? 1.2e-7 : 1e-15;
    T want{};
    sum_cpu(n, x.data(), &want);
    sum_cuda(n, dx.get(), out.get(), nullptr);
    T got = out.download()[0];
    CHECK(std::abs(double(got) - double(want)) <= tol_rel * std::abs(double(want)) + 1e-14 * magnitude);
    sum_squares_cpu(n, x.data(), &want);
    sum_squares_cuda(n, dx.get(), out.get(), nullptr);
    got = out.download()[0];
    CHECK(std::abs(double(got) - double(want)) <= tol_rel * std::abs(double(want)) + 1e-14 * magnitude);
  }
}
