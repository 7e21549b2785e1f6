// conv2d Winograd F(4x4, 3x3) forward, backward-data and backward-weight against the direct references: padding 0/1/2
// (also unequal), partial edge tiles, images smaller than one tile, chunks that start mid-sample,
// channel counts that leave 8-lane groups partly empty, bias, float and double, caller's and internal
// workspace, and one ResNet-sized layer. Outputs are poisoned first to check "assigned, not accumulated".
//
// Tolerance: the im2col tests' bound, 4 (terms + 2) eps * (the same conv on |inputs|), holds here too
// although the transforms amplify rounding: in float, F(4x4, 3x3)'s error on ResNet-shaped data is
// 7-27 eps times the sum of |terms| (im2col: ~1 eps), and the worst case of this grid uses 10-25% of
// the bound (it fails at 10%). The bound grows with the number of terms while the Winograd error does
// not, so the small-channel shapes here are the tight ones.

#include <algorithm>
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
void check_winograd(const Conv2dParams& p, unsigned seed, bool supply_workspace) {
  CAPTURE(p.N);
  CAPTURE(p.C);
  CAPTURE(p.H);
  CAPTURE(p.W);
  CAPTURE(p.K);
  CAPTURE(p.pad_h);
  CAPTURE(p.pad_w);
  CAPTURE(p.has_bias);
  CAPTURE(supply_workspace);
  REQUIRE(kern::winograd_applicable(p));
  const index_t nx = p.N * p.C * p.H * p.W, nw = p.K * p.C * 9, ny = p.N * p.K * p.P() * p.Q();
  const auto x = random_vector<T>(std::size_t(nx), seed);
  const auto w = random_vector<T>(std::size_t(nw), seed + 1);
  const auto bias = random_vector<T>(std::size_t(p.K), seed + 2);
  const auto dy = random_vector<T>(std::size_t(ny), seed + 3);
  const auto ax = abs_of(x), aw = abs_of(w), ab = abs_of(bias), ady = abs_of(dy);
  // One past the size: a kernel that writes beyond its workspace would poison the canary.
  std::vector<T> ws(std::size_t(kern::conv2d_winograd_workspace_size(p)) + 1);
  const T canary = T(12345);
  ws.back() = canary;
  T* wsp = supply_workspace ? ws.data() : nullptr;
  {
    INFO("direction: forward");
    auto y = poisoned<T>(ny), y_ref = poisoned<T>(ny), mag = poisoned<T>(ny);
    kern::conv2d_forward_winograd_cpu<T>(p, x.data(), w.data(), p.has_bias ? bias.data() : nullptr, y.data(),
                                         wsp);
    kern::conv2d_forward_reference<T>(p, x.data(), w.data(), bias.data(), y_ref.data());
    kern::conv2d_forward_reference<T>(p, ax.data(), aw.data(), ab.data(), mag.data());
    check_close(y, y_ref, mag, double(p.C * 9 + 1));
  }
  {
    INFO("direction: backward_data");
    auto dx = poisoned<T>(nx), dx_ref = poisoned<T>(nx), mag = poisoned<T>(nx);
    kern::conv2d_backward_data_winograd_cpu<T>(p, dy.data(), w.data(), dx.data(), wsp);
    kern::conv2d_backward_data_reference<T>(p, dy.data(), w.data(), dx_ref.data());
    kern::conv2d_backward_data_reference<T>(p, ady.data(), aw.data(), mag.data());
    check_close(dx, dx_ref, mag, double(p.K * 9));
  }
  {
    INFO("direction: backward_weight");
    auto dw = poisoned<T>(nw), dw_ref = poisoned<T>(nw), mag = poisoned<T>(nw);
    kern::conv2d_backward_weight_winograd_cpu<T>(p, x.data(), dy.data(), dw.data(), wsp);
    kern::conv2d_backward_weight_reference<T>(p, x.data(), dy.data(), dw_ref.data(), nullptr);
    kern::conv2d_backward_weight_reference<T>(p, ax.data(), ady.data(), mag.data(), nullptr);
    // Each dw is a sum over whole transformed tiles, 36 products each however few outputs the tiles
    // hold, so the bound counts at least 36 terms (on 3x2 images, with 4 outputs, the error reached
    // 120 eps of the |terms| sum in float, 91 in double; on ResNet / IR-50 layers 5-11, im2col 2-3).
    check_close(dw, dw_ref, mag, double(std::max<index_t>(p.N * p.P() * p.Q(), 36)));
  }
  CHECK(ws.back() == canary);
}

Conv2dParams conv3x3(index_t N, index_t C, index_t H, index_t W, index_t K, index_t pad) {
  Conv2dParams p;
  p.N = N, p.C = C, p.H = H, p.W = W, p.K = K, p.R = p.S = 3;
  p.pad_h = p.pad_w = pad;
  return p;
}

}  // namespace

TEST_CASE("conv2d_winograd/applicable") {
  Conv2dParams p = conv3x3(2, 4, 8, 8, 4, 1);
  CHECK(kern::winograd_applicable(p));
  p.pad_h = 2, p.pad_w = 0;
  CHECK(kern::winograd_applicable(p));
  Conv2dParams q = p;
  q.pad_w = 3;
  CHECK_FALSE(kern::winograd_applicable(q));
  q = p, q.stride_h = 2;
  CHECK_FALSE(kern::winograd_applicable(q));
  q = p, q.dil_w = 2;
  CHECK_FALSE(kern::winograd_applicable(q));
  q = p, q.groups = 2;
  CHECK_FALSE(kern::winograd_applicable(q));
  q = p, q.R = 1, q.S = 1;
  CHECK_FALSE(kern::winograd_applicable(q));
  q = p, q.pad_h = q.pad_w = 0, q.H = 2;  // no output row
  CHECK_FALSE(kern::winograd_applicable(q));
  CHECK(kern::conv2d_winograd_workspace_size(q) == 0);
  q = p, q.S = 5;
  std::vector<float> buf(4096);
  CHECK_THROWS_AS(kern::conv2d_forward_winograd_cpu<float>(q, buf.data(), buf.data(), nullptr, buf.data()),
                  std::invalid_argument);
  CHECK_THROWS_AS(kern::conv2d_backward_data_winograd_cpu<float>(q, buf.data(), buf.data(), buf.data()),
                  std::invalid_argument);
  CHECK_THROWS_AS(kern::conv2d_backward_weight_winograd_cpu<float>(q, buf.data(), buf.data(), buf.data()),
                  std::invalid_argument);
}

TEST_CASE_TEMPLATE("conv2d_winograd/matches_reference_grid", T, float, double) {
  struct Shape {
    index_t N, C, K, H, W;
  };
  // 9x7 and 6x11: partial tiles at the bottom and right; 3x2 and 1x1: smaller than one tile (pad 2 makes
  // a 1x1 image a 3x3 output); N = 7 puts several samples in one chunk, tiles of one lane group
  // straddling rows and samples; 3, 5 and 9, 12 channels leave lanes of the weight transform empty.
  const Shape shapes[] = {
      {1, 3, 5, 9, 7}, {7, 9, 12, 6, 11}, {2, 8, 8, 3, 2}, {7, 5, 3, 1, 1}, {1, 16, 17, 4, 4}};
  unsigned seed = 300;
  for (const Shape& s : shapes)
    for (index_t pad_h : {0, 1, 2})
      for (index_t pad_w : {0, 1, 2}) {
        if (pad_h != pad_w && (pad_h + pad_w) % 2 == 0) continue;  // a sample of the unequal pads
        Conv2dParams p = conv3x3(s.N, s.C, s.H, s.W, s.K, 0);
        p.pad_h = pad_h, p.pad_w = pad_w;
        p.has_bias = seed % 2 == 0;
        if (p.P() < 1 || p.Q() < 1) continue;
        check_winograd<T>(p, seed, (seed / 2) % 2 == 0);
        seed += 5;
      }
}

TEST_CASE_TEMPLATE("conv2d_winograd/several_chunks", T, float, double) {
  // 3 samples of 50 x 50 tiles take many chunks (of at least 128 tiles), most of them starting in the
  // middle of a tile row; 2500 tiles per sample also make lane groups that straddle two samples.
  Conv2dParams p = conv3x3(3, 4, 199, 198, 5, 1);
  p.has_bias = true;
  check_winograd<T>(p, 41, true);
  check_winograd<T>(p, 42, false);
}

TEST_CASE("conv2d_winograd/backward_weight_several_chunks") {
  // The backward-weight takes chunks as deep as its budget allows (~26k tiles at 4 + 5 channels), each
  // adding into the transformed gradient: 11 samples of 50 x 50 tiles make two. The sums must not depend
  // on the thread count either (the 36 GEMMs are shared out among the threads).
  const Conv2dParams p = conv3x3(11, 4, 199, 198, 5, 1);
  check_winograd<float>(p, 61, true);
  const auto x = random_vector<float>(std::size_t(p.N * p.C * p.H * p.W), 62);
  const auto dy = random_vector<float>(std::size_t(p.N * p.K * p.P() * p.Q()), 63);
  kern_test::check_thread_independent([&] {
    std::vector<float> dw(std::size_t(p.K * p.C * 9));
    kern::conv2d_backward_weight_winograd_cpu<float>(p, x.data(), dy.data(), dw.data());
    return dw;
  });
}

TEST_CASE("conv2d_winograd/resnet_block_layer") {
  Conv2dParams p = conv3x3(2, 64, 54, 54, 64, 1);
  check_winograd<float>(p, 51, true);
}
