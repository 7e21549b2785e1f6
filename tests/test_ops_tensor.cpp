// cat, the channel-broadcast add/mul, and dropout: gradient checks (including non-contiguous inputs and
// frozen operands), dropout's statistics and determinism, argument errors.
#include <doctest/doctest.h>
#include <omp.h>

#include <cstdint>
#include <vector>

#include "libnn/ops/arith.h"
#include "libnn/ops/dropout.h"
#include "libnn/ops/tensor_ops.h"
#include "tests/support/gradcheck.h"

using namespace nn;
using nn::testing::gradcheck;
using nn::testing::randn_leaf;

TEST_CASE("cat/gradcheck") {
  const Tensor a = randn_leaf({2, 3, 2, 2}, 1), b = randn_leaf({2, 1, 2, 2}, 2), c = randn_leaf({2, 2, 2, 2}, 3);
  gradcheck("cat_dim1", [](const auto& in) { return ops::cat({in[0], in[1], in[2]}, 1); }, {a, b, c});
  gradcheck("cat_dim0",
            [](const auto& in) {
              return ops::cat({in[0], in[1]}, 0);
            },
            {randn_leaf({1, 3, 2}, 4), randn_leaf({2, 3, 2}, 5)});
  gradcheck("cat_dim_last",
            [](const auto& in) {
              return ops::cat({in[0], in[1]}, -1);
            },
            {randn_leaf({2, 3, 1}, 6), randn_leaf({2, 3, 2}, 7)});
  gradcheck("cat_noncontiguous",
            [](const auto& in) {
              return ops::cat({in[0].permute({0, 3, 1, 2}), in[1]}, 1);
            },
            {randn_leaf({2, 2, 2, 3}, 8), randn_leaf({2, 1, 2, 2}, 9)});
  gradcheck("cat_frozen_and_repeated", [&](const auto& in) { return ops::cat({in[0], b.detach(), in[0]}, 1); }, {a});
}

TEST_CASE("cat/values_and_errors") {
  const Tensor a = Tensor::from_vector({2, 1}, {1, 2}), b = Tensor::from_vector({2, 2}, {3, 4, 5, 6});
  CHECK(ops::cat({a, b}, 1).to_vector() == std::vector<double>{1, 3, 4, 2, 5, 6});
  const std::vector<std::int64_t> l1{1, 2}, l2{3};
  CHECK(ops::cat({Tensor::from_labels(l1), Tensor::from_labels(l2)}, 0).to_vector() == std::vector<double>{1, 2, 3});
  CHECK_THROWS_WITH_AS(ops::cat({Tensor::ones({2, 3, 4, 4}), Tensor::ones({2, 3, 5, 5})}, 1),
                       doctest::Contains("cat: tensor 1 has shape (2, 3, 5, 5) but tensor 0 has shape (2, 3, 4, 4); "
                                         "they must match except in dimension 1"),
                       Error);
  CHECK_THROWS_WITH_AS(ops::cat({a, Tensor::ones({2})}, 0), doctest::Contains("cat: tensor 1 has shape (2)"), Error);
  CHECK_THROWS_WITH_AS(ops::cat({a, b.to(DType::f64)}, 1), doctest::Contains("cat: dtypes differ"), Error);
  CHECK_THROWS_WITH_AS(ops::cat({}, 0), doctest::Contains("non-empty"), Error);
  CHECK_THROWS_WITH_AS(ops::cat({a, Tensor()}, 0), doctest::Contains("cat: tensor 1 is undefined"), Error);
  CHECK_THROWS_WITH_AS(ops::cat({a, b}, 2), doctest::Contains("cat: dimension 2 out of range"), Error);
}

TEST_CASE("arith/channel_broadcast") {
  const Tensor x = randn_leaf({2, 3, 2, 3}, 10);
  for (const Shape& s : {Shape{2, 3, 1, 1}, Shape{1, 3, 1, 1}}) {
    CAPTURE(s);
    const Tensor g = randn_leaf(s, 11);
    gradcheck("add_channel", [](const auto& in) { return in[0] + in[1]; }, {x, g});
    gradcheck("mul_channel", [](const auto& in) { return in[0] * in[1]; }, {x, g});
    gradcheck("mul_channel_noncontiguous",
              [](const auto& in) {
                return in[0].permute({0, 3, 1, 2}) * in[1];
              },
              {randn_leaf({2, 2, 3, 3}, 12), g});
    gradcheck("mul_channel_frozen_gate", [&](const auto& in) { return in[0] * g.detach(); }, {x});
  }
  const Tensor a = Tensor::from_vector({2, 2, 1, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  CHECK((a * Tensor::from_vector({1, 2, 1, 1}, {10, 100})).to_vector() ==
        std::vector<double>{10, 20, 300, 400, 50, 60, 700, 800});
  CHECK((a + Tensor::from_vector({2, 2, 1, 1}, {1, 2, 3, 4})).to_vector() ==
        std::vector<double>{2, 3, 5, 6, 8, 9, 11, 12});
  CHECK_THROWS_WITH_AS(
      a * Tensor::ones({2, 3, 1, 1}),
      doctest::Contains("mul: shapes (2, 2, 1, 2) and (2, 3, 1, 1) differ (b must equal a, or be (N, C, 1, 1)"), Error);
  CHECK_THROWS_WITH_AS(a + Tensor::ones({3, 2, 1, 1}),
                       doctest::Contains("add: shapes (2, 2, 1, 2) and (3, 2, 1, 1) differ"), Error);
  CHECK_THROWS_AS(a - Tensor::ones({2, 2, 1, 1}), Error);  // sub takes equal shapes only
}

TEST_CASE("dropout/semantics") {
  const Tensor x = Tensor::ones({100, 100});
  Generator g1(42), g2(42);
  const Tensor y1 = ops::dropout(x, 0.3, true, g1), y2 = ops::dropout(x, 0.3, true, g2);
  CHECK(y1.to_vector() == y2.to_vector());  // deterministic given the seed
  CHECK(g1.offset() == 2500);               // ceil(numel / 4) Philox counters
  const auto v = y1.to_vector();
  std::size_t kept = 0;
  for (double e : v) {
    CHECK((e == 0.0 || e == doctest::Approx(1.0 / 0.7)));
    kept += e != 0.0;
  }
  CHECK(kept == doctest::Approx(7000).epsilon(0.03));      // 10000 Bernoulli(0.7): sd ~46
  CHECK(ops::dropout(x, 0.3, true, g1).to_vector() != v);  // the generator advanced
  CHECK(ops::dropout(x, 0.3, false, g1).is_same(x));       // eval: identity
  CHECK(ops::dropout(x, 0.0, true, g1).is_same(x));
  CHECK(ops::sum(ops::dropout(x, 1.0, true, g1)).item() == 0.0);
  CHECK_THROWS_WITH_AS(ops::dropout(x, 1.5, true, g1),
                       doctest::Contains("dropout: probability has to be between 0 and 1, but got 1.5"), Error);
  CHECK_THROWS_WITH_AS(ops::dropout(Tensor::ones({2}, DType::i64), 0.5, true),
                       doctest::Contains("dropout: x must be f32 or f64"), Error);
}

TEST_CASE("dropout/thread_count_independent") {
  // Large enough to run the mask in parallel; the single-thread result must be identical.
  const Tensor x = Tensor::ones({300000});
  Generator g1(7), g2(7);
  const auto parallel = ops::dropout(x, 0.5, true, g1).to_vector();
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto serial = ops::dropout(x, 0.5, true, g2).to_vector();
  omp_set_num_threads(threads);
  CHECK(parallel == serial);
}

TEST_CASE("dropout/gradcheck") {
  // The mask is drawn afresh per call, so the checked function reuses one generator state.
  const Tensor x = randn_leaf({3, 7}, 13);
  gradcheck("dropout",
            [](const auto& in) {
              Generator g(5);
              return ops::dropout(in[0], 0.4, true, g);
            },
            {x});
  gradcheck("dropout_noncontiguous",
            [](const auto& in) {
              Generator g(6);
              return ops::dropout(in[0].transpose(0, 1), 0.5, true, g);
            },
            {x});
}
