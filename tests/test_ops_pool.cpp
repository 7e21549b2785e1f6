// Pooling: gradient checks over a kernel/stride/padding grid (kink filter for the max pools), batch 1,
// odd sizes, non-contiguous input; shape rules and argument errors.
#include <doctest/doctest.h>

#include "libnn/ops/pool.h"
#include "tests/support/gradcheck.h"

using namespace nn;
using nn::testing::gradcheck;
using nn::testing::randn_leaf;

namespace {
struct Window {
  ops::Size2 kernel, stride, padding;
};
// kernel, stride, padding: overlapping, non-overlapping, strided subsample, rectangular, padded.
const Window kGrid[] = {
    {3, 2, 1}, {2, 2, 0}, {1, 2, 0}, {{3, 2}, {1, 2}, {1, 0}}, {3, 1, 1}, {{2, 3}, {2, 1}, {0, 1}},
};
}  // namespace

TEST_CASE("pool/gradcheck_grid") {
  const testing::GradcheckOptions kinks{.kink_filter = true};
  for (const Window& w : kGrid) {
    INFO("kernel (", w.kernel.h, ", ", w.kernel.w, ") stride (", w.stride.h, ", ", w.stride.w, ") padding (",
         w.padding.h, ", ", w.padding.w, ")");
    const Tensor x = randn_leaf({1, 2, 5, 4}, 1);
    gradcheck(
        "max_pool2d", [&](const auto& in) { return ops::max_pool2d(in[0], w.kernel, w.stride, w.padding); }, {x},
        kinks);
    gradcheck("avg_pool2d", [&](const auto& in) { return ops::avg_pool2d(in[0], w.kernel, w.stride, w.padding); }, {x});
    gradcheck("avg_pool2d_exclude_pad",
              [&](const auto& in) { return ops::avg_pool2d(in[0], w.kernel, w.stride, w.padding, false); }, {x});
  }
}

TEST_CASE("pool/gradcheck_shapes") {
  const testing::GradcheckOptions kinks{.kink_filter = true};
  // (N, H, W, C) storage fed as a permuted (N, C, H, W) view; odd sizes.
  gradcheck(
      "max_pool2d_noncontiguous",
      [](const auto& in) {
        return ops::max_pool2d(in[0].permute({0, 3, 1, 2}), 3, 2, 1);
      },
      {randn_leaf({2, 5, 3, 2}, 2)}, kinks);
  gradcheck("avg_pool2d_noncontiguous", [](const auto& in) { return ops::avg_pool2d(in[0].slice(3, 1, 6), 2, 2); },
            {randn_leaf({2, 2, 4, 7}, 3)});
  gradcheck("adaptive_avg_pool2d", [](const auto& in) { return ops::adaptive_avg_pool2d(in[0], 1); },
            {randn_leaf({2, 3, 3, 5}, 4)});
  gradcheck("adaptive_avg_pool2d_noncontiguous",
            [](const auto& in) {
              return ops::adaptive_avg_pool2d(in[0].transpose(2, 3), {1, 1});
            },
            {randn_leaf({1, 2, 3, 4}, 5)});
  gradcheck(
      "global_max_pool2d", [](const auto& in) { return ops::global_max_pool2d(in[0]); }, {randn_leaf({2, 3, 3, 3}, 6)},
      kinks);
  gradcheck(
      "global_max_pool2d_noncontiguous",
      [](const auto& in) {
        return ops::global_max_pool2d(in[0].permute({0, 3, 1, 2}));
      },
      {randn_leaf({1, 2, 3, 4}, 7)}, kinks);
  // A kernel as large as the padded input: one output per plane.
  gradcheck(
      "max_pool2d_whole_plane", [](const auto& in) { return ops::max_pool2d(in[0], 4, 1, 1); },
      {randn_leaf({1, 2, 2, 2}, 8)}, kinks);
}

TEST_CASE("pool/values") {
  // 1 2 3
  // 4 5 6   max_pool2d(2, 1) -> 5 6 / 8 9; kernel 1 stride 2 subsamples -> 1 3 / 7 9.
  // 7 8 9
  const Tensor x = Tensor::from_vector({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(ops::max_pool2d(x, 2, 1).to_vector() == std::vector<double>{5, 6, 8, 9});
  CHECK(ops::max_pool2d(x, 1, 2).to_vector() == std::vector<double>{1, 3, 7, 9});
  CHECK(ops::global_max_pool2d(x).shape() == Shape{1, 1, 1, 1});
  CHECK(ops::global_max_pool2d(x).item() == 9);
  CHECK(ops::adaptive_avg_pool2d(x, 1).item() == 5);
  // Padded corner window: include_pad divides by 4, exclude_pad by the 1 real element.
  CHECK(ops::avg_pool2d(x, 2, 2, 1).to_vector()[0] == doctest::Approx(0.25));
  CHECK(ops::avg_pool2d(x, 2, 2, 1, false).to_vector()[0] == doctest::Approx(1.0));
  // max_pool2d output shape (floor mode): ResNet stem 112 -> 56.
  CHECK(ops::max_pool2d(Tensor::zeros({1, 1, 112, 112}), 3, 2, 1).shape() == Shape{1, 1, 56, 56});
}

TEST_CASE("pool/errors") {
  const Tensor x = Tensor::ones({1, 2, 2, 2});
  CHECK_THROWS_WITH_AS(
      ops::max_pool2d(x, 3, 1, 0),
      doctest::Contains("max_pool2d: kernel (3, 3) is larger than the padded input (2, 2) of x (1, 2, 2, 2)"), Error);
  CHECK_THROWS_WITH_AS(ops::avg_pool2d(x, 3, 1, 2),
                       doctest::Contains("avg_pool2d: padding (2, 2) must be at most half of kernel (3, 3)"), Error);
  CHECK_THROWS_WITH_AS(ops::max_pool2d(x, 2, 0), doctest::Contains("must be positive"), Error);
  CHECK_THROWS_WITH_AS(ops::max_pool2d(Tensor::ones({2, 2, 2}), 2, 2),
                       doctest::Contains("max_pool2d: x must be (N, C, H, W), got f32 (2, 2, 2)"), Error);
  CHECK_THROWS_WITH_AS(
      ops::adaptive_avg_pool2d(x, 2),
      doctest::Contains("adaptive_avg_pool2d: only output_size 1 is supported, got (2, 2) for x (1, 2, 2, 2)"), Error);
  CHECK_THROWS_WITH_AS(ops::global_max_pool2d(Tensor::ones({1, 1, 2, 2}, DType::i64)),
                       doctest::Contains("must be f32 or f64"), Error);
  CHECK_THROWS_WITH_AS(ops::avg_pool2d(Tensor(), 2, 2), doctest::Contains("avg_pool2d: x is an undefined tensor"),
                       Error);
}
