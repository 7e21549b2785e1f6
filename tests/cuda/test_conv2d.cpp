// conv2d_*_cuda against the CPU spec (kernels/cpu/conv2d.h, computed in double on the same values):
// every direction x every MathMode over a stride / pad / dilation / groups grid and the HardTune layer
// shapes at small batch, the fused epilogue, the f64 path, and determinism. Outputs start NaN-poisoned,
// so an element the kernel does not assign fails the comparison.
#include <algorithm>
#include <cstring>
#include <random>
#include <stdexcept>
#include <vector>

#include "kernels/cpu/conv2d.h"
#include "kernels/cuda/conv2d.h"
#include "tests/cuda/gpu.h"
#include "tests/kernels/compare.h"

using gpu_test::DeviceBuffer;
using kern::Activation;
using kern::Conv2dParams;
using kern::ConvEpilogue;
using kern::index_t;
using kern::MathMode;

namespace {

template <typename T>
std::vector<T> random_values(index_t n, unsigned seed) {
  return kern_test::random_vector<T>(static_cast<std::size_t>(n), seed);
}

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

index_t x_size(const Conv2dParams& p) { return p.N * p.C * p.H * p.W; }
index_t w_size(const Conv2dParams& p) { return p.K * p.C_per_group() * p.R * p.S; }
index_t y_size(const Conv2dParams& p) { return p.N * p.K * p.P() * p.Q(); }

struct Shape {
  const char* name;
  Conv2dParams p;
};

Conv2dParams conv(index_t N, index_t C, index_t H, index_t W, index_t K, index_t R, index_t S, index_t stride,
                  index_t pad, index_t dil = 1, index_t groups = 1) {
  Conv2dParams p;
  p.N = N, p.C = C, p.H = H, p.W = W, p.K = K, p.R = R, p.S = S;
  p.stride_h = p.stride_w = stride;
  p.pad_h = p.pad_w = pad;
  p.dil_h = p.dil_w = dil;
  p.groups = groups;
  return p;
}

std::vector<Shape> shapes() {
  std::vector<Shape> s = {
      {"3x3 p1 s1, odd H/W", conv(2, 16, 9, 11, 24, 3, 3, 1, 1)},
      {"3x3 p1 s2, K > one tile", conv(2, 8, 13, 12, 70, 3, 3, 2, 1)},
      {"3x3 p0 s1, N=1, odd C/K", conv(1, 5, 7, 6, 7, 3, 3, 1, 0)},
      {"1x1 s2 downsample", conv(3, 72, 10, 9, 40, 1, 1, 2, 0)},
      {"1x1 s1, C and K past a tile", conv(1, 130, 7, 7, 65, 1, 1, 1, 0)},
      {"7x7 s2 p3 stem", conv(2, 3, 32, 29, 64, 7, 7, 2, 3)},
      {"3x3 dilation 2", conv(2, 6, 15, 14, 10, 3, 3, 1, 2, 2)},
      {"groups 2", conv(2, 12, 8, 10, 18, 3, 3, 1, 1, 1, 2)},
      {"depthwise s2", conv(2, 16, 9, 9, 16, 3, 3, 2, 1, 1, 16)},
      {"depthwise x2 multiplier", conv(1, 8, 6, 7, 16, 3, 3, 1, 1, 1, 8)},
      {"pad larger than a tap reach", conv(1, 3, 4, 5, 5, 2, 2, 3, 2)},
  };
  Conv2dParams rect = conv(2, 4, 9, 8, 6, 2, 3, 1, 0);  // rectangular kernel, per-axis stride / pad / dilation
  rect.stride_w = 2, rect.pad_h = 1, rect.dil_w = 2;
  s.push_back({"rectangular R != S, per-axis params", rect});
  // The HardTune / IR-50 layers at small batch.
  s.push_back({"layer 3x3 64->64 @56", conv(1, 64, 56, 56, 64, 3, 3, 1, 1)});
  s.push_back({"layer 3x3 128->128 @28", conv(2, 128, 28, 28, 128, 3, 3, 1, 1)});
  s.push_back({"layer 3x3 128->256 s2 @28", conv(2, 128, 28, 28, 256, 3, 3, 2, 1)});
  s.push_back({"layer 3x3 256->256 @14", conv(2, 256, 14, 14, 256, 3, 3, 1, 1)});
  s.push_back({"layer 3x3 512->512 @7", conv(2, 512, 7, 7, 512, 3, 3, 1, 1)});
  s.push_back({"layer 1x1 256->512 s2 @14", conv(2, 256, 14, 14, 512, 1, 1, 2, 0)});
  s.push_back({"layer 7x7 stem 3->64 @224", conv(1, 3, 224, 224, 64, 7, 7, 2, 3)});
  return s;
}

double tolerance(MathMode m) {
  switch (m) {
    case MathMode::fp32: return gpu_test::kTolF32;
    case MathMode::tf32: return gpu_test::kTolTf32;
    case MathMode::bf16: return gpu_test::kTolBf16;
  }
  return 0;
}

const char* name(MathMode m) { return m == MathMode::fp32 ? "fp32" : m == MathMode::tf32 ? "tf32" : "bf16"; }

}  // namespace

TEST_CASE("conv2d/cuda_matches_cpu") {
  NN_REQUIRE_GPU();
  unsigned seed = 1;
  for (const Shape& shape : shapes()) {
    const Conv2dParams& p = shape.p;
    CAPTURE(shape.name);
    const auto x = random_values<float>(x_size(p), seed++), w = random_values<float>(w_size(p), seed++);
    const auto dy = random_values<float>(y_size(p), seed++), bias = random_values<float>(p.K, seed++);

    // The spec, once per shape, in double on the same values.
    Conv2dParams pb = p;
    pb.has_bias = true;
    std::vector<double> y_ref(y_size(p)), dx_ref(x_size(p)), dw_ref(w_size(p)), db_ref(p.K);
    const auto xd = to_double(x), wd = to_double(w), dyd = to_double(dy), biasd = to_double(bias);
    kern::conv2d_forward_reference(pb, xd.data(), wd.data(), biasd.data(), y_ref.data());
    kern::conv2d_backward_data_reference(p, dyd.data(), wd.data(), dx_ref.data());
    kern::conv2d_backward_weight_reference(p, xd.data(), dyd.data(), dw_ref.data(), db_ref.data());

    const DeviceBuffer<float> x_d(x), w_d(w), dy_d(dy), bias_d(bias);
    for (const MathMode math : {MathMode::fp32, MathMode::tf32, MathMode::bf16}) {
      CAPTURE(name(math));
      const double tol = tolerance(math);
      DeviceBuffer<float> y_d(y_size(p)), dx_d(x_size(p)), dw_d(w_size(p)), db_d(p.K);
      ConvEpilogue<float> e;
      e.bias = bias_d.get();
      kern::conv2d_forward_cuda(p, x_d.get(), w_d.get(), e, y_d.get(), math, nullptr);
      kern::conv2d_backward_data_cuda(p, dy_d.get(), w_d.get(), dx_d.get(), math, nullptr);
      kern::conv2d_backward_weight_cuda(p, x_d.get(), dy_d.get(), dw_d.get(), db_d.get(), math, nullptr);
      NN_CHECK_REL(y_d.download(), y_ref, tol);
      NN_CHECK_REL(dx_d.download(), dx_ref, tol);
      NN_CHECK_REL(dw_d.download(), dw_ref, tol);
      NN_CHECK_REL(db_d.download(), db_ref, gpu_test::kTolF32);  // db is a plain sum whatever the mode
    }
  }
}

TEST_CASE("conv2d/cuda_fused_epilogue") {
  NN_REQUIRE_GPU();
  for (const Conv2dParams& p : {conv(2, 10, 9, 7, 12, 3, 3, 1, 1), conv(1, 6, 8, 8, 70, 1, 1, 2, 0)}) {
    const auto x = random_values<float>(x_size(p), 11), w = random_values<float>(w_size(p), 12);
    const auto scale = random_values<float>(p.K, 13), bias = random_values<float>(p.K, 14);
    const auto slopes = random_values<float>(p.K, 15);
    const DeviceBuffer<float> x_d(x), w_d(w), scale_d(scale), bias_d(bias), slopes_d(slopes);
    const auto xd = to_double(x), wd = to_double(w), scaled = to_double(scale), biasd = to_double(bias);
    const auto slopesd = to_double(slopes);

    struct Variant {
      const char* name;
      bool scale, bias;
      Activation act;
      index_t slope_count;
    };
    const Variant variants[] = {
        {"none", false, false, Activation::none, 0},        {"scale + bias", true, true, Activation::none, 0},
        {"scale only", true, false, Activation::none, 0},   {"bias + relu", false, true, Activation::relu, 0},
        {"BN + prelu shared", true, true, Activation::prelu, 1},
        {"BN + prelu per channel", true, true, Activation::prelu, p.K},
        {"relu alone", false, false, Activation::relu, 0},
    };
    for (const Variant& v : variants) {
      CAPTURE(v.name);
      ConvEpilogue<double> eh;
      eh.scale = v.scale ? scaled.data() : nullptr;
      eh.bias = v.bias ? biasd.data() : nullptr;
      eh.act = v.act;
      eh.slope = v.slope_count ? slopesd.data() : nullptr;
      eh.slope_count = v.slope_count;
      std::vector<double> y_ref(y_size(p));
      kern::conv2d_forward_fused_cpu(p, xd.data(), wd.data(), eh, y_ref.data());

      ConvEpilogue<float> ed;
      ed.scale = v.scale ? scale_d.get() : nullptr;
      ed.bias = v.bias ? bias_d.get() : nullptr;
      ed.act = v.act;
      ed.slope = v.slope_count ? slopes_d.get() : nullptr;
      ed.slope_count = v.slope_count;
      for (const MathMode math : {MathMode::fp32, MathMode::tf32, MathMode::bf16}) {
        CAPTURE(name(math));
        DeviceBuffer<float> y_d(y_size(p));
        kern::conv2d_forward_cuda(p, x_d.get(), w_d.get(), ed, y_d.get(), math, nullptr);
        NN_CHECK_REL(y_d.download(), y_ref, tolerance(math));
      }
    }
  }
}

TEST_CASE("conv2d/cuda_double_matches_cpu") {
  NN_REQUIRE_GPU();
  Conv2dParams rect = conv(2, 4, 9, 8, 6, 2, 3, 1, 0);
  rect.stride_w = 2, rect.pad_h = 1, rect.dil_w = 2;
  for (const Conv2dParams& p : {conv(2, 16, 9, 11, 70, 3, 3, 2, 1), conv(1, 130, 7, 7, 65, 1, 1, 1, 0),
                                conv(2, 12, 8, 10, 18, 3, 3, 1, 1, 2, 2), conv(2, 8, 9, 9, 8, 3, 3, 1, 1, 1, 8),
                                rect}) {
    CAPTURE(p.C);
    CAPTURE(p.K);
    const auto x = random_values<double>(x_size(p), 21), w = random_values<double>(w_size(p), 22);
    const auto dy = random_values<double>(y_size(p), 23), bias = random_values<double>(p.K, 24);
    Conv2dParams pb = p;
    pb.has_bias = true;
    std::vector<double> y_ref(y_size(p)), dx_ref(x_size(p)), dw_ref(w_size(p)), db_ref(p.K);
    kern::conv2d_forward_reference(pb, x.data(), w.data(), bias.data(), y_ref.data());
    kern::conv2d_backward_data_reference(p, dy.data(), w.data(), dx_ref.data());
    kern::conv2d_backward_weight_reference(p, x.data(), dy.data(), dw_ref.data(), db_ref.data());

    const DeviceBuffer<double> x_d(x), w_d(w), dy_d(dy), bias_d(bias);
    DeviceBuffer<double> y_d(y_size(p)), dx_d(x_size(p)), dw_d(w_size(p)), db_d(p.K);
    ConvEpilogue<double> e;
    e.bias = bias_d.get();
    kern::conv2d_forward_cuda(p, x_d.get(), w_d.get(), e, y_d.get(), MathMode::fp32, nullptr);
    kern::conv2d_backward_data_cuda(p, dy_d.get(), w_d.get(), dx_d.get(), MathMode::fp32, nullptr);
    kern::conv2d_backward_weight_cuda(p, x_d.get(), dy_d.get(), dw_d.get(), db_d.get(), MathMode::fp32, nullptr);
    NN_CHECK_REL(y_d.download(), y_ref, 1e-12);
    NN_CHECK_REL(dx_d.download(), dx_ref, 1e-12);
    NN_CHECK_REL(dw_d.download(), dw_ref, 1e-12);
    NN_CHECK_REL(db_d.download(), db_ref, 1e-12);

    // Tensor-core modes have no f64 form: refused, not silently run in fp32.
    CHECK_THROWS_AS(kern::conv2d_forward_cuda(p, x_d.get(), w_d.get(), e, y_d.get(), MathMode::tf32, nullptr),
                    std::invalid_argument);
    CHECK_THROWS_AS(kern::conv2d_backward_data_cuda(p, dy_d.get(), w_d.get(), dx_d.get(), MathMode::bf16, nullptr),
                    std::invalid_argument);
  }
}

TEST_CASE("conv2d/cuda_deterministic") {
  NN_REQUIRE_GPU();
  // A long backward-weight depth (N*P*Q) is where a split reduction would show timing-dependent sums.
  const Conv2dParams p = conv(4, 32, 28, 28, 48, 3, 3, 1, 1);
  const DeviceBuffer<float> x_d(random_values<float>(x_size(p), 31)), dy_d(random_values<float>(y_size(p), 32));
  for (const MathMode math : {MathMode::fp32, MathMode::tf32, MathMode::bf16}) {
    CAPTURE(name(math));
    DeviceBuffer<float> dw1(w_size(p)), dw2(w_size(p)), db1(p.K), db2(p.K);
    kern::conv2d_backward_weight_cuda(p, x_d.get(), dy_d.get(), dw1.get(), db1.get(), math, nullptr);
    kern::conv2d_backward_weight_cuda(p, x_d.get(), dy_d.get(), dw2.get(), db2.get(), math, nullptr);
    const auto a = dw1.download(), b = dw2.download(), c = db1.download(), d = db2.download();
    CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(c.data(), d.data(), c.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("conv2d/cuda_rejects_bad_arguments") {
  NN_REQUIRE_GPU();
  Conv2dParams p = conv(1, 6, 5, 5, 4, 3, 3, 1, 1, 1, 4);  // C = 6 not divisible by 4 groups
  CHECK_THROWS_AS(kern::conv2d_forward_cuda<float>(p, nullptr, nullptr, {}, nullptr, MathMode::fp32, nullptr),
                  std::invalid_argument);
  p = conv(1, 4, 5, 5, 4, 3, 3, 1, 1);
  ConvEpilogue<float> e;
  e.act = Activation::prelu;
  e.slope_count = 3;  // neither 1 nor K
  CHECK_THROWS_AS(kern::conv2d_forward_cuda<float>(p, nullptr, nullptr, e, nullptr, MathMode::fp32, nullptr),
                  std::invalid_argument);
}

TEST_CASE("conv2d/cuda_offsets_past_2_31") {
  NN_REQUIRE_GPU();
  // 1x1, C = K = 2 on one 33000^2 image: x and y hold 2.18e9 elements each (8.7 GB), so channel 1's
  // offsets pass 2^31 while every GEMM index (pixel, channel) still fits an int. The inputs follow a
  // pattern computable at any offset, so a few windows are checked on the host without a full copy.
  Conv2dParams p = conv(1, 2, 33000, 33000, 2, 1, 1, 1, 0);
  const index_t HW = p.H * p.W, n = 2 * HW;
  REQUIRE(n > (index_t(1) << 31));
  const auto pattern = [](index_t i) { return float((i * 7919) % 1021) / 1021.0f - 0.5f; };
  const std::vector<float> w = {0.75f, -0.5f, 0.25f, 1.25f};  // w[k][c]
  DeviceBuffer<float> x_d(static_cast<std::size_t>(n)), y_d(static_cast<std::size_t>(n));
  const DeviceBuffer<float> w_d(w);
  {
    constexpr index_t kChunk = index_t(1) << 26;
    std::vector<float> chunk(kChunk);
    for (index_t at = 0; at < n; at += kChunk) {
      const index_t len = std::min(kChunk, n - at);
      for (index_t i = 0; i < len; ++i) chunk[i] = pattern(at + i);
      gpu_test::check_cuda(cudaMemcpy(x_d.get() + at, chunk.data(), len * sizeof(float), cudaMemcpyHostToDevice),
                           "upload x");
    }
  }
  // Windows of pixels: the start, channel 1 crossing offset 2^31, and the end.
  const index_t cross = (index_t(1) << 31) - HW;
  const index_t starts[] = {0, cross - 512, HW - 1024};
  const auto window = [&](const DeviceBuffer<float>& buf, index_t c, index_t start) {
    std::vector<float> host(1024);
    gpu_test::check_cuda(cudaDeviceSynchronize(), "kernel run");
    gpu_test::check_cuda(cudaMemcpy(host.data(), buf.get() + c * HW + start, host.size() * sizeof(float),
                                    cudaMemcpyDeviceToHost), "download window");
    return host;
  };
  const auto y_at = [&](index_t k, index_t pix) {
    return double(w[k * 2]) * pattern(pix) + double(w[k * 2 + 1]) * pattern(HW + pix);
  };

  kern::conv2d_forward_cuda<float>(p, x_d.get(), w_d.get(), {}, y_d.get(), MathMode::fp32, nullptr);
  for (const index_t start : starts)
    for (index_t k = 0; k < 2; ++k) {
      std::vector<double> want(1024);
      for (index_t i = 0; i < 1024; ++i) want[i] = y_at(k, start + i);
      CAPTURE(start);
      NN_CHECK_REL(window(y_d, k, start), want, gpu_test::kTolF32);
    }

  // dx = w^T y, written over x.
  kern::conv2d_backward_data_cuda<float>(p, y_d.get(), w_d.get(), x_d.get(), MathMode::fp32, nullptr);
  for (const index_t start : starts)
    for (index_t c = 0; c < 2; ++c) {
      std::vector<double> want(1024);
      for (index_t i = 0; i < 1024; ++i)
        want[i] = double(w[c]) * y_at(0, start + i) + double(w[2 + c]) * y_at(1, start + i);
      CAPTURE(start);
      NN_CHECK_REL(window(x_d, c, start), want, gpu_test::kTolF32);
    }
}
