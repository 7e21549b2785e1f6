// arc_margin: gradient checks over both margin modes and both branches (the branch switches are kinks),
// hand-computed values of the reference formula, argument errors. Values against PyTorch are in
// test_ops_parity (arc_margin_* cases).
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>

#include "libnn/core/rng.h"
#include "libnn/ops/margin.h"
#include "tests/support/gradcheck.h"

using namespace nn;
using nn::testing::gradcheck;

namespace {

// A cos leaf (N, C) with values spread over (-0.95, 0.95), away from |cos| = 1 where the derivative blows up.
Tensor cos_leaf(index_t N, index_t C, std::uint64_t seed) {
  Generator gen(seed);
  Tensor t = Tensor::uniform({N, C}, -0.95, 0.95, gen, DType::f64);
  t.set_requires_grad();
  return t;
}

}  // namespace

TEST_CASE("arc_margin/gradcheck") {
  const testing::GradcheckOptions kinks{.kink_filter = true};
  const std::vector<std::int64_t> label_values{0, 2, 1, 1, 3, 0, 2, 3};
  const Tensor labels = Tensor::from_labels(label_values);
  for (bool easy : {true, false})
    for (double m : {0.5, 0.05}) {
      CAPTURE(easy);
      CAPTURE(m);
      gradcheck(
          "arc_margin", [&](const auto& in) { return ops::arc_margin(in[0], labels, 30.0, m, easy); },
          {cos_leaf(8, 4, 1)}, kinks);
    }
  // The hard margin's fallback branch, below th = cos(pi - m): every target at -0.93 < th = -0.878.
  Tensor low = Tensor::full({3, 2}, -0.93, DType::f64).set_requires_grad();
  gradcheck(
      "arc_margin_fallback",
      [&](const auto& in) {
        return ops::arc_margin(in[0], Tensor::from_labels(std::vector<std::int64_t>{0, 1, 1}), 30.0, 0.5, false);
      },
      {low}, kinks);
}

TEST_CASE("arc_margin/values") {
  const double s = 30, m = 0.5;
  const double c = 0.6, sine = 0.8, phi = c * std::cos(m) - sine * std::sin(m);
  const Tensor cos = Tensor::from_vector({2, 2}, {c, -0.2, 0.3, -0.9}, DType::f64);
  const Tensor labels = Tensor::from_labels(std::vector<std::int64_t>{0, 1});
  // easy margin: row 0's target (cos > 0) gets phi; row 1's target (cos <= 0) stays cos.
  auto y = ops::arc_margin(cos, labels, s, m, true).to_vector();
  CHECK(y[0] == doctest::Approx(s * phi));
  CHECK(y[1] == doctest::Approx(s * -0.2));
  CHECK(y[2] == doctest::Approx(s * 0.3));
  CHECK(y[3] == doctest::Approx(s * -0.9));
  // hard margin: row 1's target -0.9 is below th = cos(pi - m) = -0.8776: cos - sin(pi - m) m.
  y = ops::arc_margin(cos, labels, s, m, false).to_vector();
  CHECK(y[0] == doctest::Approx(s * phi));
  CHECK(y[3] == doctest::Approx(s * (-0.9 - std::sin(std::numbers::pi - m) * m)));
  // Rounding past |cos| = 1 gives sine 0 (clamped), not NaN.
  const auto edge = ops::arc_margin(Tensor::from_vector({1, 1}, {1.0000001}),
                                    Tensor::from_labels(std::vector<std::int64_t>{0}), s, m, true)
                        .item();
  CHECK(edge == doctest::Approx(s * 1.0000001 * std::cos(m)));
}

TEST_CASE("arc_margin/errors") {
  const Tensor cos = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH_AS(ops::arc_margin(cos, Tensor::from_labels(std::vector<std::int64_t>{0, 3}), 30, 0.5, true),
                       doctest::Contains("arc_margin: label 3 of sample 1 is outside [0, 3)"), Error);
  CHECK_THROWS_WITH_AS(ops::arc_margin(cos, Tensor::from_labels(std::vector<std::int64_t>{0}), 30, 0.5, true),
                       doctest::Contains("arc_margin: labels (1) do not match cos (2, 3)"), Error);
  CHECK_THROWS_WITH_AS(ops::arc_margin(cos, Tensor::zeros({2}), 30, 0.5, true),
                       doctest::Contains("arc_margin: labels must be i64"), Error);
  CHECK_THROWS_WITH_AS(
      ops::arc_margin(Tensor::zeros({6}), Tensor::from_labels(std::vector<std::int64_t>{0}), 30, 0.5, true),
      doctest::Contains("arc_margin: cos must be 2-d"), Error);
}
