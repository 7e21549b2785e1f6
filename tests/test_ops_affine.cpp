// channel_affine: gradient checks (with and without bias, frozen parameters, non-contiguous x, (N, C) and
// (N, C, H, W)), values against mul-then-add with separate rounding, argument errors, tracing.
#include <doctest/doctest.h>

#include "libnn/core/trace.h"
#include "libnn/ops/affine.h"
#include "tests/support/gradcheck.h"

using namespace nn;
using nn::testing::gradcheck;
using nn::testing::randn_leaf;

TEST_CASE("affine/gradcheck") {
  const auto affine = [](const auto& in) { return ops::channel_affine(in[0], in[1], in[2]); };
  gradcheck("affine_nchw", affine, {randn_leaf({2, 3, 4, 5}, 1), randn_leaf({3}, 2), randn_leaf({3}, 3)});
  gradcheck("affine_nc_batch1", affine, {randn_leaf({1, 4}, 4), randn_leaf({4}, 5), randn_leaf({4}, 6)});
  gradcheck("affine_no_bias", [](const auto& in) { return ops::channel_affine(in[0], in[1]); },
            {randn_leaf({2, 3, 3}, 7), randn_leaf({3}, 8)});
  gradcheck("affine_noncontiguous",
            [](const auto& in) {
              return ops::channel_affine(in[0].permute({0, 3, 1, 2}), in[1], in[2]);
            },
            {randn_leaf({2, 2, 3, 3}, 9), randn_leaf({3}, 10), randn_leaf({3}, 11)});
  const Tensor w = randn_leaf({3}, 13).detach(), b = randn_leaf({3}, 14).detach();
  gradcheck("affine_frozen", [&](const auto& in) { return ops::channel_affine(in[0], w, b); },
            {randn_leaf({2, 3, 2, 2}, 12)});
}

TEST_CASE("affine/values_round_like_two_ops") {
  // x * w + b with the product rounded to float first (what tfjs's mul then add does).
  const Tensor x = Tensor::from_vector({1, 2, 1, 2}, {1.0 / 3, -7.25, 0.1, 3});
  const Tensor w = Tensor::from_vector({2}, {3.0, 0.7}), b = Tensor::from_vector({2}, {1e-8, -2});
  const auto y = ops::channel_affine(x, w, b).to_vector();
  const float xf[] = {float(1.0 / 3), -7.25f, 0.1f, 3.0f}, wf[] = {3.0f, 0.7f}, bf[] = {1e-8f, -2.0f};
  for (int i = 0; i < 4; ++i) {
    volatile float product = xf[i] * wf[i / 2];  // volatile: no fused multiply-add in the expectation either
    CHECK(y[static_cast<std::size_t>(i)] == double(float(product + bf[i / 2])));
  }
}

TEST_CASE("affine/errors_and_trace") {
  CHECK_THROWS_WITH_AS(ops::channel_affine(Tensor::ones({2, 3, 4}), Tensor::ones({4})),
                       doctest::Contains("channel_affine: weight (4) must be (C) = (3) for x (2, 3, 4)"), Error);
  CHECK_THROWS_WITH_AS(ops::channel_affine(Tensor::ones({2, 3}), Tensor::ones({3}), Tensor::ones({2})),
                       doctest::Contains("channel_affine: bias (2) must be (C) = (3)"), Error);
  CHECK_THROWS_WITH_AS(ops::channel_affine(Tensor::ones({3}), Tensor::ones({3})),
                       doctest::Contains("x must be (N, C, ...)"), Error);
  const Tensor w = Tensor::ones({3});
  trace::Recorder recorder;
  ops::channel_affine(Tensor::ones({2, 3, 2, 2}), w);
  REQUIRE(recorder.events().size() == 1);
  CHECK(recorder.events()[0].inputs[1] == w.impl());  // the parameter itself: summaries attribute it
}
