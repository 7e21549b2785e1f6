// batch_norm: gradient checks (train and eval, (N, C) and (N, C, H, W), batch 1, non-contiguous input,
// affine and not), running-statistics update, and argument errors. PyTorch parity is in test_ops_parity.
#include <doctest/doctest.h>

#include <cmath>

#include "libnn/ops/arith.h"
#include "libnn/ops/batch_norm.h"
#include "tests/support/gradcheck.h"

using namespace nn;
using nn::testing::gradcheck;
using nn::testing::randn_leaf;

namespace {
Tensor f64(const Shape& s, std::initializer_list<double> v) { return Tensor::from_vector(s, v, DType::f64); }
}  // namespace

TEST_CASE("batch_norm/gradcheck_train") {
  const Tensor w = randn_leaf({3}, 11), b = randn_leaf({3}, 12);
  Tensor rm = Tensor::zeros({3}, DType::f64), rv = Tensor::ones({3}, DType::f64);
  auto bn = [&](const Tensor& x, const Tensor& ww, const Tensor& bb) {
    return ops::batch_norm(x, rm, rv, ww, bb, /*training=*/true, 0.1, 1e-5);
  };
  gradcheck("bn_train_nchw", [&](const auto& in) { return bn(in[0], in[1], in[2]); },
            {randn_leaf({2, 3, 3, 2}, 1), w, b});
  gradcheck("bn_train_nc", [&](const auto& in) { return bn(in[0], in[1], in[2]); }, {randn_leaf({5, 3}, 2), w, b});
  gradcheck("bn_train_batch1", [&](const auto& in) { return bn(in[0], in[1], in[2]); },
            {randn_leaf({1, 3, 2, 3}, 3), w, b});
  // (N, H, W, C) storage fed as a permuted (N, C, H, W) view.
  gradcheck("bn_train_noncontiguous",
            [&](const auto& in) {
              return bn(in[0].permute({0, 3, 1, 2}), in[1], in[2]);
            },
            {randn_leaf({2, 3, 2, 3}, 4), w, b});
  gradcheck("bn_train_no_affine_no_stats",
            [](const auto& in) { return ops::batch_norm(in[0], {}, {}, {}, {}, true, 0.1, 1e-3); },
            {randn_leaf({3, 2, 2, 1}, 5)});
  // Frozen affine parameters: only x gets a gradient.
  gradcheck("bn_train_frozen_affine", [&](const auto& in) { return bn(in[0], w.detach(), b.detach()); },
            {randn_leaf({2, 3, 2, 2}, 6)});
}

TEST_CASE("batch_norm/gradcheck_eval") {
  const Tensor rm = f64({3}, {0.1, -0.2, 0.3}), rv = f64({3}, {0.5, 1.5, 2.0});
  auto bn = [&](const auto& in) { return ops::batch_norm(in[0], rm, rv, in[1], in[2], /*training=*/false); };
  gradcheck("bn_eval_nchw", bn, {randn_leaf({2, 3, 2, 3}, 7), randn_leaf({3}, 8), randn_leaf({3}, 9)});
  gradcheck("bn_eval_nc_batch1", bn, {randn_leaf({1, 3}, 10), randn_leaf({3}, 8), randn_leaf({3}, 9)});
  gradcheck("bn_eval_noncontiguous",
            [&](const auto& in) { return ops::batch_norm(in[0].slice(3, 1, 3), rm, rv, in[1], in[2], false); },
            {randn_leaf({2, 3, 2, 4}, 12), randn_leaf({3}, 8), randn_leaf({3}, 9)});
}

TEST_CASE("batch_norm/running_stats") {
  // One channel, values 1..4: mean 2.5, biased var 1.25, unbiased 5/3.
  const Tensor x = f64({4, 1}, {1, 2, 3, 4});
  Tensor rm = f64({1}, {1.0}), rv = f64({1}, {2.0});
  const Tensor y = ops::batch_norm(x, rm, rv, {}, {}, true, 0.25, 0.0 + 1e-5);
  CHECK(rm.item() == doctest::Approx(0.75 * 1.0 + 0.25 * 2.5));
  CHECK(rv.item() == doctest::Approx(0.75 * 2.0 + 0.25 * 5.0 / 3.0));
  CHECK(y.to_vector()[0] == doctest::Approx(-1.5 / std::sqrt(1.25 + 1e-5)));
  // Eval uses (and leaves) the running statistics.
  const double m = rm.item(), v = rv.item();
  const Tensor ye = ops::batch_norm(x, rm, rv, {}, {}, false, 0.25, 1e-5);
  CHECK(ye.to_vector()[3] == doctest::Approx((4 - m) / std::sqrt(v + 1e-5)));
  CHECK(rm.item() == m);
  CHECK(rv.item() == v);
}

TEST_CASE("batch_norm/errors") {
  const Tensor rm = Tensor::zeros({3}), rv = Tensor::ones({3});
  CHECK_THROWS_WITH_AS(
      ops::batch_norm(Tensor::ones({1, 3}), rm, rv, {}, {}, true),
      doctest::Contains("Expected more than 1 value per channel when training, got input of shape (1, 3)"), Error);
  CHECK_THROWS_WITH_AS(ops::batch_norm(Tensor::ones({1, 3, 1, 1}), rm, rv, {}, {}, true),
                       doctest::Contains("more than 1 value per channel"), Error);
  // Eval with one value per channel is fine.
  CHECK(ops::batch_norm(Tensor::ones({1, 3}), rm, rv, {}, {}, false).shape() == Shape{1, 3});
  CHECK_THROWS_WITH_AS(ops::batch_norm(Tensor::ones({2, 4, 2, 2}), rm, rv, {}, {}, true),
                       doctest::Contains("running_mean (3) must be (C) = (4) for x (2, 4, 2, 2)"), Error);
  CHECK_THROWS_WITH_AS(ops::batch_norm(Tensor::ones({2, 3}), rm, rv, Tensor::ones({2}), {}, true),
                       doctest::Contains("weight (2) must be (C) = (3)"), Error);
  CHECK_THROWS_WITH_AS(ops::batch_norm(Tensor::ones({2, 3}), {}, {}, {}, {}, false),
                       doctest::Contains("eval mode needs running_mean and running_var"), Error);
  CHECK_THROWS_WITH_AS(ops::batch_norm(Tensor::ones({6}), rm, rv, {}, {}, true),
                       doctest::Contains("x must be (N, C) or (N, C, H, W), got f32 (6)"), Error);
  CHECK_THROWS_WITH_AS(ops::batch_norm(Tensor::ones({2, 3}, DType::f64), rm, rv, {}, {}, true),
                       doctest::Contains("batch_norm: dtypes differ"), Error);
  CHECK_THROWS_WITH_AS(ops::batch_norm(Tensor::ones({2, 3}, DType::i64), {}, {}, {}, {}, true),
                       doctest::Contains("batch_norm: x must be f32 or f64"), Error);
  CHECK_THROWS_WITH_AS(ops::batch_norm(Tensor(), rm, rv, {}, {}, true),
                       doctest::Contains("batch_norm: x is an undefined tensor"), Error);
  CHECK_THROWS_WITH_AS(ops::batch_norm(Tensor::ones({2, 3}), rm, {}, {}, {}, true),
                       doctest::Contains("both given or both undefined"), Error);
}
