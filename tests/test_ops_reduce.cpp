// mean_dim, amax_dim, sqrt, clamp and mul's spatial broadcast: gradient checks (kink filter where the op
// has one), PyTorch corner semantics (first argmax wins, NaN propagates, clamp bounds pass the gradient),
// argument errors. Values against PyTorch are in test_ops_parity.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "libnn/core/rng.h"
#include "libnn/ops/arith.h"
#include "libnn/ops/math.h"
#include "libnn/ops/reduce.h"
#include "tests/support/gradcheck.h"

using namespace nn;
using nn::testing::gradcheck;
using nn::testing::randn_leaf;

TEST_CASE("reduce/gradcheck") {
  const testing::GradcheckOptions kinks{.kink_filter = true};
  for (int dim : {0, 1, 2, 3, -1})
    for (bool keepdim : {false, true}) {
      CAPTURE(dim);
      CAPTURE(keepdim);
      gradcheck("mean_dim", [&](const auto& in) { return ops::mean_dim(in[0], dim, keepdim); },
                {randn_leaf({2, 3, 4, 3}, 1)});
      gradcheck(
          "amax_dim", [&](const auto& in) { return ops::amax_dim(in[0], dim, keepdim); }, {randn_leaf({2, 3, 4, 3}, 2)},
          kinks);
    }
  gradcheck("mean_dim_noncontiguous", [](const auto& in) { return ops::mean_dim(in[0].transpose(1, 2), 1, true); },
            {randn_leaf({2, 3, 5}, 3)});
  gradcheck(
      "amax_dim_batch1_1d", [](const auto& in) { return ops::amax_dim(in[0], 0); }, {randn_leaf({7}, 4)}, kinks);
}

TEST_CASE("reduce/values") {
  // x (1, 3, 1, 2): channel means and maxima; ties give the gradient to the first maximum (torch.max(dim)).
  Tensor x = Tensor::from_vector({1, 3, 1, 2}, {1, 5, 4, 5, 4, -1}, DType::f64).set_requires_grad();
  const Tensor m = ops::mean_dim(x, 1, true);
  CHECK(m.shape() == Shape{1, 1, 1, 2});
  CHECK(m.to_vector() == std::vector<double>{3, 3});
  const Tensor a = ops::amax_dim(x, 1, false);
  CHECK(a.shape() == Shape{1, 1, 2});
  CHECK(a.to_vector() == std::vector<double>{4, 5});
  a.backward(Tensor::from_vector({1, 1, 2}, {10, 20}, DType::f64));
  CHECK(x.grad().to_vector() == std::vector<double>{0, 20, 10, 0, 0, 0});

  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto with_nan = ops::amax_dim(Tensor::from_vector({3, 1}, {1, nan, 2}), 0).to_vector();
  CHECK(std::isnan(with_nan[0]));
}

TEST_CASE("math/gradcheck") {
  const testing::GradcheckOptions kinks{.kink_filter = true};
  Tensor positive = randn_leaf({3, 5}, 5).detach();
  for (double& v : std::span(positive.data<double>(), 15)) v = std::abs(v) + 0.2;
  positive.set_requires_grad();
  gradcheck("sqrt", [](const auto& in) { return ops::sqrt(in[0]); }, {positive});
  gradcheck(
      "clamp", [](const auto& in) { return ops::clamp(in[0], -0.5, 0.7); }, {randn_leaf({4, 6}, 6)}, kinks);
  gradcheck(
      "clamp_min", [](const auto& in) { return ops::clamp(in[0], 0.0); }, {randn_leaf({10}, 7)}, kinks);
  gradcheck(
      "clamp_noncontiguous", [](const auto& in) { return ops::clamp(in[0].transpose(0, 1), -1.0, 0.2); },
      {randn_leaf({3, 4}, 8)}, kinks);
}

TEST_CASE("math/values") {
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(ops::sqrt(Tensor::from_vector({3}, {0, 4, 2.25})).to_vector() == std::vector<double>{0, 2, 1.5});
  CHECK(std::isnan(ops::sqrt(Tensor::from_vector({1}, {-1})).item()));
  // sqrt's gradient at 0 is infinite, as in PyTorch.
  Tensor z = Tensor::zeros({1}, DType::f64).set_requires_grad();
  ops::sqrt(z).backward(Tensor::ones({1}, DType::f64));
  CHECK(z.grad().item() == inf);

  // The bounds pass the gradient (PyTorch's clamp_backward uses lo <= x <= hi); outside they do not.
  Tensor x = Tensor::from_vector({5}, {-2, -1, 0, 1, 2}, DType::f64).set_requires_grad();
  const Tensor y = ops::clamp(x, -1, 1);
  CHECK(y.to_vector() == std::vector<double>{-1, -1, 0, 1, 1});
  y.backward(Tensor::ones({5}, DType::f64));
  CHECK(x.grad().to_vector() == std::vector<double>{0, 1, 1, 1, 0});
  CHECK(ops::clamp(Tensor::from_vector({2}, {-3, 3}), -inf, 0).to_vector() == std::vector<double>{-3, 0});
  CHECK(std::isnan(ops::clamp(Tensor::from_vector({1}, {std::nan("")}), 0, 1).item()));
}

TEST_CASE("mul/spatial_broadcast") {
  gradcheck("mul_spatial", [](const auto& in) { return ops::mul(in[0], in[1]); },
            {randn_leaf({2, 3, 4, 5}, 9), randn_leaf({2, 1, 4, 5}, 10)});
  gradcheck("mul_spatial_batch1", [](const auto& in) { return ops::mul(in[0], in[1]); },
            {randn_leaf({1, 4, 3, 3}, 11), randn_leaf({1, 1, 3, 3}, 12)});
  const Tensor frozen_gate = randn_leaf({2, 1, 2, 2}, 13).detach();
  gradcheck("mul_spatial_frozen_gate", [&](const auto& in) { return ops::mul(in[0], frozen_gate); },
            {randn_leaf({2, 3, 2, 2}, 14)});
  const auto v = ops::mul(Tensor::from_vector({1, 2, 1, 2}, {1, 2, 3, 4}), Tensor::from_vector({1, 1, 1, 2}, {10, -1}))
                     .to_vector();
  CHECK(v == std::vector<double>{10, -2, 30, -4});
}

TEST_CASE("reduce/errors") {
  CHECK_THROWS_WITH_AS(ops::mean_dim(Tensor::ones({2, 3}), 2), doctest::Contains("mean_dim: dimension 2 out of range"),
                       Error);
  CHECK(Tensor::ones({2, 0}).is_contiguous());  // an empty tensor is contiguous (fill_ used to recurse on it)
  CHECK_THROWS_WITH_AS(ops::amax_dim(Tensor::ones({2, 0}), 1),
                       doctest::Contains("amax_dim: cannot reduce over dimension 1 of size 0"), Error);
  CHECK_THROWS_WITH_AS(ops::amax_dim(Tensor::ones({}), 0), doctest::Contains("amax_dim: x must have at least one"),
                       Error);
  CHECK_THROWS_WITH_AS(ops::mean_dim(Tensor::ones({2}, DType::i64), 0),
                       doctest::Contains("mean_dim: x must be f32 or f64"), Error);
  CHECK_THROWS_WITH_AS(ops::clamp(Tensor::ones({2}), 1, 0), doctest::Contains("clamp: bounds must satisfy lo <= hi"),
                       Error);
  CHECK_THROWS_WITH_AS(ops::sqrt(Tensor()), doctest::Contains("sqrt: x is an undefined tensor"), Error);
  CHECK_THROWS_WITH_AS(ops::mul(Tensor::ones({2, 3, 4, 4}), Tensor::ones({2, 1, 4, 3})),
                       doctest::Contains("mul: shapes (2, 3, 4, 4) and (2, 1, 4, 3) differ"), Error);
}
