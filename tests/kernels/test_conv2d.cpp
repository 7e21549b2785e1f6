// conv2d im2col + gemm path against the direct 7-loop references, all three directions, over a grid of
// stride / padding / dilation / groups / bias / odd sizes, plus shapes that exercise the multi-sample
// chunks, the 1x1 fast path and threaded GEMMs. Outputs are poisoned first to check "assigned, not
// accumulated".
#include <limits>
#include <stdexcept>
#include <vector>

#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/conv2d_winograd.h"
#include "tests/kernels/compare.h"

using kern::Conv2dParams;
using kern::index_t;
using kern_test::abs_of;
using kern_test::check_close;
using kern_test::poisoned;
using kern_test::random_vector;

namespace {

template <typename T>
void check_conv(const Conv2dParams& p, unsigned seed, bool supply_workspace) {
  CAPTURE(p.N);
  CAPTURE(p.C);
  CAPTURE(p.H);
  CAPTURE(p.W);
  CAPTURE(p.K);
  CAPTURE(p.R);
  CAPTURE(p.S);
  CAPTURE(p.stride_h);
  CAPTURE(p.stride_w);
  CAPTURE(p.pad_h);
  CAPTURE(p.pad_w);
  CAPTURE(p.dil_h);
  CAPTURE(p.dil_w);
  CAPTURE(p.groups);
  CAPTURE(p.has_bias);
  const index_t P = p.P(), Q = p.Q();
  const index_t nx = p.N * p.C * p.H * p.W, nw = p.K * p.C_per_group() * p.R * p.S, ny = p.N * p.K * P * Q;
  const auto x = random_vector<T>(std::size_t(nx), seed);
  const auto w = random_vector<T>(std::size_t(nw), seed + 1);
  const auto bias = random_vector<T>(std::size_t(p.K), seed + 2);
  const auto dy = random_vector<T>(std::size_t(ny), seed + 3);
  const auto ax = abs_of(x), aw = abs_of(w), ab = abs_of(bias), ady = abs_of(dy);
  std::vector<T> ws(std::size_t(kern::conv2d_workspace_size(p)) + 1);
  T* wsp = supply_workspace ? ws.data() : nullptr;

  {
    INFO("direction: forward");
    auto y = poisoned<T>(ny), y_ref = poisoned<T>(ny), mag = poisoned<T>(ny);
    kern::conv2d_forward_cpu<T>(p, x.data(), w.data(), p.has_bias ? bias.data() : nullptr, y.data(), wsp);
    kern::conv2d_forward_reference<T>(p, x.data(), w.data(), bias.data(), y_ref.data());
    kern::conv2d_forward_reference<T>(p, ax.data(), aw.data(), ab.data(), mag.data());
    check_close(y, y_ref, mag, double(p.C_per_group() * p.R * p.S + 1));
  }
  {
    INFO("direction: backward_data");
    auto dx = poisoned<T>(nx), dx_ref = poisoned<T>(nx), mag = poisoned<T>(nx);
    kern::conv2d_backward_data_cpu<T>(p, dy.data(), w.data(), dx.data(), wsp);
    kern::conv2d_backward_data_reference<T>(p, dy.data(), w.data(), dx_ref.data());
    kern::conv2d_backward_data_reference<T>(p, ady.data(), aw.data(), mag.data());
    check_close(dx, dx_ref, mag, double(p.K_per_group() * p.R * p.S));
  }
  {
    INFO("direction: backward_weight");
    auto dw = poisoned<T>(nw), dw_ref = poisoned<T>(nw), mag = poisoned<T>(nw);
    auto db = poisoned<T>(p.K), db_ref = poisoned<T>(p.K), mag_b = poisoned<T>(p.K);
    kern::conv2d_backward_weight_cpu<T>(p, x.data(), dy.data(), dw.data(), db.data(), wsp);
    kern::conv2d_backward_weight_reference<T>(p, x.data(), dy.data(), dw_ref.data(), db_ref.data());
    kern::conv2d_backward_weight_reference<T>(p, ax.data(), ady.data(), mag.data(), mag_b.data());
    check_close(dw, dw_ref, mag, double(p.N * P * Q));
    check_close(db, db_ref, mag_b, double(p.N * P * Q));
  }
}

Conv2dParams conv(index_t N, index_t C, index_t H, index_t W, index_t K, index_t R, index_t S) {
  Conv2dParams p;
  p.N = N, p.C = C, p.H = H, p.W = W, p.K = K, p.R = R, p.S = S;
  return p;
}

}  // namespace

TEST_CASE_TEMPLATE("conv2d/matches_reference_grid", T, float, double) {
  struct Channels {
    index_t C, K, groups;
  };
  const Channels channels[] = {{3, 5, 1}, {4, 6, 2}, {6, 9, 3}, {4, 4, 4}};
  const index_t kernels[][2] = {{1, 1}, {3, 3}, {2, 3}};
  unsigned seed = 100;
  for (const Channels& ch : channels)
    for (const auto& rs : kernels)
      for (index_t stride : {1, 2})
        for (index_t pad : {0, 1})
          for (index_t dil : {1, 2}) {
            Conv2dParams p = conv(2, ch.C, 7, 6, ch.K, rs[0], rs[1]);
            p.groups = ch.groups;
            p.stride_h = p.stride_w = stride;
            p.pad_h = p.pad_w = pad;
            p.dil_h = p.dil_w = dil;
            p.has_bias = (seed / 4) % 2 == 0;
            if (p.P() < 1 || p.Q() < 1) continue;
            check_conv<T>(p, seed, (seed / 4) % 3 == 0);
            seed += 4;
          }
}

TEST_CASE_TEMPLATE("conv2d/asymmetric", T, float, double) {
  Conv2dParams p = conv(3, 4, 9, 8, 6, 3, 2);
  p.stride_h = 2, p.stride_w = 1;
  p.pad_h = 1, p.pad_w = 0;
  p.dil_h = 1, p.dil_w = 2;
  p.groups = 2;
  p.has_bias = true;
  check_conv<T>(p, 7, true);
  p.stride_h = 1, p.stride_w = 3;
  p.pad_h = 0, p.pad_w = 2;
  p.dil_h = 2, p.dil_w = 1;
  check_conv<T>(p, 8, false);
}

// Shapes picked to hit each path of the chunked driver.
TEST_CASE_TEMPLATE("conv2d/chunking_and_fast_paths", T, float, double) {
  SUBCASE("3x3 chunks of 6 samples with a remainder of 2") {
    Conv2dParams p = conv(8, 8, 10, 10, 16, 3, 3);
    p.pad_h = p.pad_w = 1;
    p.has_bias = true;
    check_conv<T>(p, 21, true);
  }
  SUBCASE("1x1 chunked (gathered) and multiple chunks") {
    Conv2dParams p = conv(40, 6, 4, 4, 5, 1, 1);
    p.has_bias = true;
    check_conv<T>(p, 22, false);
  }
  SUBCASE("1x1 in place, one sample per GEMM") {
    Conv2dParams p = conv(2, 12, 24, 24, 7, 1, 1);
    check_conv<T>(p, 23, true);
  }
  SUBCASE("1x1 strided goes through im2col") {
    Conv2dParams p = conv(2, 6, 9, 9, 4, 1, 1);
    p.stride_h = p.stride_w = 2;
    check_conv<T>(p, 24, false);
  }
  SUBCASE("large enough for threaded GEMMs") {
    Conv2dParams p = conv(2, 16, 20, 20, 32, 3, 3);
    p.pad_h = p.pad_w = 1;
    p.has_bias = true;
    check_conv<T>(p, 25, true);
  }
  SUBCASE("single sample, single channel") {
    Conv2dParams p = conv(1, 1, 5, 5, 1, 5, 5);
    check_conv<T>(p, 26, false);
  }
}

// The forward's epilogue against the reference followed by the activation, on each path that finishes
// outputs: in the GEMM (one sample per GEMM, im2col or in-place 1x1) and in the scatter of a chunk.
TEST_CASE_TEMPLATE("conv2d/fused_epilogue", T, float, double) {
  using kern::Activation;
  Conv2dParams shapes[] = {conv(2, 8, 30, 30, 12, 3, 3), conv(9, 6, 5, 5, 10, 3, 3), conv(2, 12, 24, 24, 7, 1, 1),
                           conv(3, 8, 11, 11, 6, 3, 3), conv(4, 16, 30, 30, 20, 3, 3)};
  shapes[0].pad_h = shapes[0].pad_w = 1;
  shapes[1].pad_h = shapes[1].pad_w = 1;
  shapes[3].groups = 2;
  shapes[3].stride_h = shapes[3].stride_w = 2;
  shapes[4].pad_h = shapes[4].pad_w = 1;
  REQUIRE(kern::winograd_pays_off(shapes[4], kern::ConvPass::forward));  // the epilogue in Winograd's output transform
  unsigned seed = 300;
  for (const Conv2dParams& p : shapes)
    for (Activation act : {Activation::none, Activation::relu, Activation::prelu})
      for (index_t slopes : {index_t(1), p.K}) {
        if (act != Activation::prelu && slopes != 1) continue;
        CAPTURE(p.N);
        CAPTURE(p.K);
        CAPTURE(int(act));
        CAPTURE(slopes);
        const index_t ny = p.N * p.K * p.P() * p.Q();
        const auto x = random_vector<T>(std::size_t(p.N * p.C * p.H * p.W), seed);
        const auto w = random_vector<T>(std::size_t(p.K * p.C_per_group() * p.R * p.S), seed + 1);
        const auto bias = random_vector<T>(std::size_t(p.K), seed + 2);
        const auto slope = random_vector<T>(std::size_t(slopes), seed + 3, 0.0, 0.5);
        const auto scale = random_vector<T>(std::size_t(p.K), seed + 4, 0.5, 2.0);
        const bool scaled = seed % 8 == 0;
        seed += 4;
        kern::ConvEpilogue<T> e;
        e.scale = scaled ? scale.data() : nullptr;
        e.bias = act == Activation::relu ? nullptr : bias.data();
        e.act = act;
        e.slope = slope.data();
        e.slope_count = slopes;
        // Exactly the forward's workspace, poisoned: the fused path must not read or need more.
        auto ws = poisoned<T>(kern::conv2d_forward_workspace_size(p));
        auto y = poisoned<T>(ny), y_ref = poisoned<T>(ny), mag = poisoned<T>(ny);
        kern::conv2d_forward_fused_cpu<T>(p, x.data(), w.data(), e, y.data(), ws.empty() ? nullptr : ws.data());
        Conv2dParams pb = p;
        pb.has_bias = e.bias != nullptr;
        // The reference folds the scale into the weights, as BN folding would (the bias is added after).
        std::vector<T> ws_ref = w;
        const index_t per_k = p.C_per_group() * p.R * p.S;
        for (index_t k = 0; k < p.K && scaled; ++k) {
          for (index_t i = 0; i < per_k; ++i) ws_ref[std::size_t(k * per_k + i)] *= scale[std::size_t(k)];
        }
        kern::conv2d_forward_reference<T>(pb, x.data(), ws_ref.data(), bias.data(), y_ref.data());
        kern::conv2d_forward_reference<T>(pb, abs_of(x).data(), abs_of(ws_ref).data(), abs_of(bias).data(),
                                          mag.data());
        const index_t PQ = p.P() * p.Q();
        for (index_t i = 0; i < ny; ++i) {
          T& v = y_ref[std::size_t(i)];
          const index_t k = i / PQ % p.K;
          if (act == Activation::relu) v = v < T(0) ? T(0) : v;
          if (act == Activation::prelu && v < T(0)) v *= slope[std::size_t(slopes == 1 ? 0 : k)];
        }
        check_close(y, y_ref, mag, double(p.C_per_group() * p.R * p.S + 1));
      }
  Conv2dParams p = conv(1, 2, 4, 4, 3, 3, 3);
  kern::ConvEpilogue<float> e;
  e.act = Activation::prelu;
  e.slope_count = 2;  // neither 1 nor K
  std::vector<float> x(32), w(54), y(12), s(2);
  e.slope = s.data();
  CHECK_THROWS_WITH_AS(kern::conv2d_forward_fused_cpu<float>(p, x.data(), w.data(), e, y.data()),
                       doctest::Contains("PReLU needs 1 or K"), std::invalid_argument);
}

// Several samples of one GEMM each are shared out among threads whole; the result must not depend on
// the thread count (nor on the chunked path's column split, for the small late-layer shape).
TEST_CASE("conv2d/forward_thread_independent") {
  for (const Conv2dParams& shape : {conv(5, 8, 30, 30, 12, 3, 3), conv(9, 16, 6, 6, 24, 3, 3)}) {
    Conv2dParams p = shape;
    p.pad_h = p.pad_w = 1;
    p.has_bias = true;
    const auto x = random_vector<float>(std::size_t(p.N * p.C * p.H * p.W), 11);
    const auto w = random_vector<float>(std::size_t(p.K * p.C * 9), 12);
    const auto bias = random_vector<float>(std::size_t(p.K), 13);
    kern_test::check_thread_independent([&] {
      std::vector<float> y(std::size_t(p.N * p.K * p.P() * p.Q()));
      kern::conv2d_forward_cpu<float>(p, x.data(), w.data(), bias.data(), y.data());
      return y;
    });
  }
}

// Stride-1 convs with narrow output rows run on a zero-padded copy of x, computing each output row
// W + 2 * pad_w wide (conv2d.cpp's PaddedPlan; used when that is at most 1.2x the output width Q < 32).
// These shapes take that path: chunks of several samples whose panels straddle sample boundaries, groups,
// dilation, a non-square kernel, unequal padding, and the epilogue.
TEST_CASE_TEMPLATE("conv2d/padded_forward", T, float, double) {
  struct Shape {
    Conv2dParams p;
    const char* what;
  };
  std::vector<Shape> shapes;
  Conv2dParams a = conv(7, 8, 14, 14, 12, 3, 3);
  a.pad_h = a.pad_w = 1;
  a.has_bias = true;
  shapes.push_back({a, "14x14 pad 1, 3 chunks"});
  Conv2dParams b = conv(3, 6, 11, 20, 4, 3, 3);
  b.pad_h = 1, b.pad_w = 2;
  b.dil_h = b.dil_w = 2;
  b.groups = 2;
  shapes.push_back({b, "dilated, grouped, unequal padding"});
  Conv2dParams c = conv(2, 5, 9, 26, 7, 2, 3);
  c.pad_w = 1;
  shapes.push_back({c, "2x3 kernel, no vertical padding"});
  for (const Shape& s : shapes) {
    INFO(s.what);
    REQUIRE(s.p.Q() < 32);
    REQUIRE(double(s.p.W + 2 * s.p.pad_w) <= 1.2 * double(s.p.Q()));
    check_conv<T>(s.p, 400, true);
    check_conv<T>(s.p, 401, false);
  }
}

// The backward-weight of stride-1 convs with at least 16 input channels, little padding waste and planes
// of at least 512 padded output pixels runs as one shifted GEMM per sample over padded copies of x and dy
// (conv2d.cpp's ShiftedPlan). These shapes take that path: output channels that are not a multiple of
// the tile's rows, input channels that leave a partial column panel, dilation, a non-square kernel with
// unequal padding, several depth blocks and several row blocks; the sums must also be the same for one
// thread and two.
TEST_CASE_TEMPLATE("conv2d/shifted_backward_weight", T, float, double) {
  struct Shape {
    Conv2dParams p;
    const char* what;
  };
  std::vector<Shape> shapes;
  Conv2dParams a = conv(3, 16, 40, 11, 13, 3, 3);
  a.pad_h = a.pad_w = 1;
  a.has_bias = true;
  shapes.push_back({a, "pad 1, 13 output channels"});
  shapes.push_back({conv(2, 40, 60, 12, 20, 3, 3), "pad 0, 40 input channels"});
  Conv2dParams c = conv(2, 17, 25, 20, 8, 3, 3);
  c.pad_h = c.pad_w = 2;
  c.dil_h = c.dil_w = 2;
  shapes.push_back({c, "dilated"});
  Conv2dParams d = conv(2, 24, 40, 16, 9, 2, 3);
  d.pad_h = 1;
  shapes.push_back({d, "2x3 kernel, no horizontal padding"});
  Conv2dParams e = conv(2, 20, 24, 24, 150, 3, 3);
  e.pad_h = e.pad_w = 1;
  shapes.push_back({e, "several depth and row blocks"});
  for (const Shape& s : shapes) {
    INFO(s.what);
    REQUIRE(s.p.C >= 16);
    REQUIRE(double(s.p.W + 2 * s.p.pad_w) <= 1.2 * double(s.p.Q()));
    REQUIRE(s.p.P() * (s.p.W + 2 * s.p.pad_w) >= 512);
    check_conv<T>(s.p, 500, true);
    check_conv<T>(s.p, 501, false);
  }
  const Conv2dParams& p = e;
  const auto x = random_vector<float>(std::size_t(p.N * p.C * p.H * p.W), 31);
  const auto dy = random_vector<float>(std::size_t(p.N * p.K * p.P() * p.Q()), 32);
  kern_test::check_thread_independent([&] {
    std::vector<float> dw(std::size_t(p.K * p.C * p.R * p.S));
    kern::conv2d_backward_weight_cpu<float>(p, x.data(), dy.data(), dw.data(), nullptr);
    return dw;
  });
}

// Weights prepared once (frozen inference) give bitwise the forward of preparing them per call on the
// same path, on every path the forward can take: one-sample im2col GEMMs shared out among threads, a chunk
// of samples, 1x1 in place, the padded forward, groups, Winograd, and Winograd on a plane with few enough
// tiles that only prepared weights make it pay; the weights themselves are then not read. With many tiles
// nothing is kept (Winograd transforms them per call: conv2d.cpp's kMaxTilesPrepared).
TEST_CASE_TEMPLATE("conv2d/prepared_weights", T, float, double) {
  struct Shape {
    Conv2dParams p;
    kern::ConvWeightLayout layout;
    const char* what;
  };
  auto with_pad = [](Conv2dParams p, index_t pad, index_t groups = 1) {
    p.pad_h = p.pad_w = pad;
    p.groups = groups;
    return p;
  };
  using L = kern::ConvWeightLayout;
  const Shape shapes[] = {
      {with_pad(conv(3, 8, 40, 40, 12, 3, 3), 0), L::gemm, "im2col, one sample per GEMM"},
      {with_pad(conv(9, 16, 6, 6, 24, 3, 3), 0), L::gemm, "im2col, chunks of samples"},
      {conv(2, 12, 24, 24, 7, 1, 1), L::gemm, "1x1 in place"},
      {with_pad(conv(3, 8, 14, 14, 12, 3, 3), 1, 2), L::gemm, "padded forward, 2 groups"},
      {with_pad(conv(2, 16, 30, 30, 20, 3, 3), 1), L::winograd, "Winograd"},
      {with_pad(conv(4, 16, 34, 34, 20, 3, 3), 1), L::none, "Winograd on 324 tiles: nothing kept"},
      {with_pad(conv(1, 16, 14, 14, 24, 3, 3), 1), L::winograd, "Winograd on 16 tiles, prepared weights only"},
  };
  CHECK_FALSE(kern::winograd_pays_off(shapes[6].p, kern::ConvPass::forward));  // the 16 tiles
  for (const Shape& s : shapes) {
    INFO(s.what);
    const Conv2dParams& p = s.p;
    REQUIRE(kern::conv2d_forward_weight_layout(p) == s.layout);
    if (s.layout == L::none) {
      CHECK(kern::conv2d_prepared_weights_size<T>(p, s.layout) == 0);
      continue;
    }
    const auto x = random_vector<T>(std::size_t(p.N * p.C * p.H * p.W), 61);
    const auto w = random_vector<T>(std::size_t(p.K * p.C_per_group() * p.R * p.S), 62);
    const auto shift = random_vector<T>(std::size_t(p.K), 63);
    kern::ConvEpilogue<T> e;
    e.bias = shift.data();
    e.act = kern::Activation::relu;
    std::vector<T> prepared(std::size_t(kern::conv2d_prepared_weights_size<T>(p, s.layout)));
    kern::conv2d_prepare_weights_cpu<T>(p, s.layout, w.data(), prepared.data());
    const std::size_t ny = std::size_t(p.N * p.K * p.P() * p.Q());
    auto expected = poisoned<T>(index_t(ny)), y = poisoned<T>(index_t(ny));
    if (s.layout == L::winograd)
      kern::conv2d_forward_winograd_cpu<T>(p, x.data(), w.data(), e, expected.data());
    else
      kern::conv2d_forward_gemm_cpu<T>(p, x.data(), w.data(), e, expected.data());
    const std::vector<T> nan_w(w.size(), std::numeric_limits<T>::quiet_NaN());
    kern::conv2d_forward_fused_cpu<T>(p, x.data(), nan_w.data(), e, y.data(), nullptr, prepared.data());
    CHECK(y == expected);
  }
}
