// relu, sigmoid, prelu: gradient checks (kink filter for relu/prelu, odd sizes, batch 1, non-contiguous
// input), PyTorch corner semantics, argument errors.
#include <doctest/doctest.h>

#include "libnn/ops/activation.h"
#include "tests/support/gradcheck.h"

using namespace nn;
using nn::testing::gradcheck;
using nn::testing::randn_leaf;

TEST_CASE("activation/gradcheck") {
  const testing::GradcheckOptions kinks{.kink_filter = true};
  gradcheck(
      "relu", [](const auto& in) { return ops::relu(in[0]); }, {randn_leaf({2, 3, 5}, 1)}, kinks);
  gradcheck(
      "relu_noncontiguous", [](const auto& in) { return ops::relu(in[0].transpose(0, 2)); }, {randn_leaf({3, 2, 5}, 2)},
      kinks);
  gradcheck("sigmoid", [](const auto& in) { return ops::sigmoid(in[0]); }, {randn_leaf({7, 3}, 3, 3.0)});
  gradcheck("sigmoid_noncontiguous", [](const auto& in) { return ops::sigmoid(in[0].slice(1, 1, 4)); },
            {randn_leaf({2, 5}, 4)});
  gradcheck(
      "prelu_channel", [](const auto& in) { return ops::prelu(in[0], in[1]); },
      {randn_leaf({2, 3, 3, 2}, 5), randn_leaf({3}, 6, 0.3)}, kinks);
  gradcheck(
      "prelu_shared_batch1", [](const auto& in) { return ops::prelu(in[0], in[1]); },
      {randn_leaf({1, 4, 3}, 7), randn_leaf({1}, 8, 0.3)}, kinks);
  gradcheck(
      "prelu_nc", [](const auto& in) { return ops::prelu(in[0], in[1]); },
      {randn_leaf({5, 3}, 9), randn_leaf({3}, 10, 0.3)}, kinks);
  gradcheck(
      "prelu_noncontiguous",
      [](const auto& in) {
        return ops::prelu(in[0].permute({0, 3, 1, 2}), in[1]);
      },
      {randn_leaf({2, 2, 3, 3}, 11), randn_leaf({3}, 12, 0.3)}, kinks);
  const Tensor frozen = randn_leaf({3}, 14, 0.3).detach();
  gradcheck(
      "prelu_frozen_weight", [&](const auto& in) { return ops::prelu(in[0], frozen); }, {randn_leaf({2, 3, 2}, 13)},
      kinks);
}

TEST_CASE("activation/values") {
  const Tensor x = Tensor::from_vector({1, 2, 2}, {-2, 0, 3, -1});
  CHECK(ops::relu(x).to_vector() == std::vector<double>{0, 0, 3, 0});
  const auto s = ops::sigmoid(Tensor::from_vector({3}, {0, 100, -100})).to_vector();  // no overflow at +-100
  CHECK(s[0] == 0.5);
  CHECK(s[1] == 1.0);
  CHECK(s[2] == doctest::Approx(0.0));
  CHECK(ops::prelu(x, Tensor::from_vector({2}, {0.5, 0.25})).to_vector() == std::vector<double>{-1, 0, 3, -0.25});
  // relu's gradient at exactly 0 is 0, as in PyTorch.
  Tensor z = Tensor::zeros({2}, DType::f64).set_requires_grad();
  ops::relu(z).backward(Tensor::ones({2}, DType::f64));
  CHECK(z.grad().to_vector() == std::vector<double>{0, 0});
}

TEST_CASE("activation/errors") {
  CHECK_THROWS_WITH_AS(ops::prelu(Tensor::ones({2, 3, 4}), Tensor::ones({4})),
                       doctest::Contains("prelu: weight (4) must be (1) or (C) = (3) for x (2, 3, 4)"), Error);
  CHECK_THROWS_WITH_AS(ops::prelu(Tensor::ones({2, 3}), Tensor::ones({3}, DType::f64)),
                       doctest::Contains("prelu: dtypes differ"), Error);
  CHECK_THROWS_WITH_AS(ops::prelu(Tensor::ones({2, 3}), Tensor()),
                       doctest::Contains("prelu: weight is an undefined tensor"), Error);
  CHECK_THROWS_WITH_AS(ops::relu(Tensor::ones({2}, DType::i64)),
                       doctest::Contains("relu: x must be f32 or f64, got i64 (2)"), Error);
  CHECK_THROWS_WITH_AS(ops::sigmoid(Tensor()), doctest::Contains("sigmoid: x is an undefined tensor"), Error);
}
