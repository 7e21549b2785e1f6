// log_softmax, cross_entropy (weights, label smoothing, ignored rows), l2_normalize: gradient checks,
// values against closed forms, argument errors.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "libnn/ops/loss.h"
#include "tests/support/gradcheck.h"

using namespace nn;
using nn::testing::gradcheck;
using nn::testing::randn_leaf;

namespace {
Tensor labels(std::vector<std::int64_t> v) { return Tensor::from_labels(v); }
}  // namespace

TEST_CASE("loss/gradcheck") {
  gradcheck("log_softmax", [](const auto& in) { return ops::log_softmax(in[0]); }, {randn_leaf({3, 5}, 1, 2.0)});
  gradcheck("log_softmax_noncontiguous", [](const auto& in) { return ops::log_softmax(in[0].transpose(0, 1)); },
            {randn_leaf({4, 3}, 2)});
  const Tensor t = labels({2, 0, 4, 4, 1});
  const Tensor w = Tensor::from_vector({5}, {0.5, 1.0, 2.0, 1.5, 0.7}, DType::f64);
  gradcheck("cross_entropy", [&](const auto& in) { return ops::cross_entropy(in[0], t); }, {randn_leaf({5, 5}, 3)});
  gradcheck("cross_entropy_weight_smoothing", [&](const auto& in) { return ops::cross_entropy(in[0], t, w, 0.1); },
            {randn_leaf({5, 5}, 4)});
  gradcheck("cross_entropy_ignore_index",
            [&](const auto& in) {
              return ops::cross_entropy(in[0], labels({1, -100, 3}), w.slice(0, 0, 4).contiguous(), 0.2);
            },
            {randn_leaf({3, 4}, 5)});
  gradcheck("cross_entropy_batch1_noncontiguous",
            [&](const auto& in) { return ops::cross_entropy(in[0].transpose(0, 1), labels({2})); },
            {randn_leaf({3, 1}, 6)});
  gradcheck("l2_normalize", [](const auto& in) { return ops::l2_normalize(in[0]); }, {randn_leaf({3, 6}, 7)});
  gradcheck("l2_normalize_dim0", [](const auto& in) { return ops::l2_normalize(in[0], 0); }, {randn_leaf({4, 3}, 8)});
  gradcheck("l2_normalize_noncontiguous", [](const auto& in) { return ops::l2_normalize(in[0].slice(1, 1, 4)); },
            {randn_leaf({2, 5}, 9)});
}

TEST_CASE("loss/values") {
  // Uniform logits: log_softmax = -log C, cross entropy = log C whatever the weights and smoothing.
  const Tensor z = Tensor::zeros({2, 4});
  for (double v : ops::log_softmax(z).to_vector()) CHECK(v == doctest::Approx(-std::log(4.0)));
  CHECK(ops::cross_entropy(z, labels({0, 3}), Tensor::from_vector({4}, {1, 2, 3, 4}), 0.3).item() ==
        doctest::Approx(std::log(4.0)));
  // Targets 0 and 1 with class weights 1 and 3, no smoothing: (1 * l0 + 3 * l1) / (1 + 3).
  const Tensor x = Tensor::from_vector({2, 2}, {0, 1, 2, 0}, DType::f64);
  const double l0 = std::log(1 + std::exp(1.0)), l1 = std::log(1 + std::exp(2.0));
  CHECK(ops::cross_entropy(x, labels({0, 1}), Tensor::from_vector({2}, {1, 3}, DType::f64)).item() ==
        doctest::Approx((l0 + 3 * l1) / 4));
  const auto n = ops::l2_normalize(Tensor::from_vector({2, 2}, {3, 4, 0, 0}, DType::f64)).to_vector();
  CHECK(n[0] == doctest::Approx(0.6));
  CHECK(n[1] == doctest::Approx(0.8));
  CHECK((n[2] == 0.0 && n[3] == 0.0));  // a zero row stays zero (eps clamp), no NaN
}

TEST_CASE("loss/errors") {
  const Tensor x = Tensor::zeros({3, 5});
  CHECK_THROWS_WITH_AS(
      ops::cross_entropy(x, labels({0, 7, 1})),
      doctest::Contains("cross_entropy: target 7 at index 1 is out of range for 5 classes (logits (3, 5))"), Error);
  CHECK_THROWS_WITH_AS(ops::cross_entropy(x, labels({0, 1, -1})), doctest::Contains("target -1 at index 2"), Error);
  CHECK_THROWS_WITH_AS(ops::cross_entropy(x, labels({0, 1})),
                       doctest::Contains("cross_entropy: target must be i64 (N) = (3) for logits (3, 5), got i64 (2)"),
                       Error);
  CHECK_THROWS_WITH_AS(ops::cross_entropy(x, Tensor::zeros({3})), doctest::Contains("target must be i64"), Error);
  CHECK_THROWS_WITH_AS(ops::cross_entropy(x, labels({0, 1, 2}), Tensor::ones({4})),
                       doctest::Contains("cross_entropy: weight (4) must be (C) = (5)"), Error);
  CHECK_THROWS_WITH_AS(ops::cross_entropy(x, labels({0, 1, 2}), {}, 1.5), doctest::Contains("label_smoothing"), Error);
  CHECK_THROWS_WITH_AS(ops::cross_entropy(Tensor::zeros({3, 5, 1}), labels({0, 1, 2})),
                       doctest::Contains("cross_entropy: logits must be 2-d"), Error);
  CHECK_THROWS_WITH_AS(ops::cross_entropy(x, Tensor()), doctest::Contains("target is an undefined tensor"), Error);
  CHECK_THROWS_WITH_AS(ops::log_softmax(Tensor::zeros({5})),
                       doctest::Contains("log_softmax: x must be 2-d, got f32 (5)"), Error);
  CHECK_THROWS_WITH_AS(ops::l2_normalize(x, 2), doctest::Contains("l2_normalize: dimension 2 out of range"), Error);
  CHECK_THROWS_WITH_AS(ops::l2_normalize(Tensor::zeros({2}, DType::i64)), doctest::Contains("must be f32 or f64"),
                       Error);
}
