// The tape and engine: accumulation, diamonds, grad masks, no-grad, freed graphs, view gradients.
#include <doctest/doctest.h>

#include "libnn/autograd/node.h"
#include "libnn/ops/arith.h"
#include "tests/support/gradcheck.h"

using namespace nn;
using nn::testing::gradcheck;
using nn::testing::randn_leaf;

TEST_CASE("autograd/diamond_accumulates") {
  // y = sum((a*b) + (a*a)): dy/da = b + 2a, dy/db = a.
  Tensor a = Tensor::from_vector({3}, {1, 2, 3}, DType::f64).set_requires_grad();
  Tensor b = Tensor::from_vector({3}, {4, 5, 6}, DType::f64).set_requires_grad();
  ops::sum(a * b + a * a).backward();
  CHECK(a.grad().to_vector() == std::vector<double>{6, 9, 12});
  CHECK(b.grad().to_vector() == std::vector<double>{1, 2, 3});
  // A second backward accumulates into .grad, like PyTorch.
  ops::sum(a * b).backward();
  CHECK(a.grad().to_vector() == std::vector<double>{10, 14, 18});
}

TEST_CASE("autograd/shared_gradient_is_not_aliased") {
  // add passes dy through to both inputs; accumulating into one leaf must not change the other.
  Tensor a = Tensor::ones({2}, DType::f64).set_requires_grad();
  Tensor b = Tensor::ones({2}, DType::f64).set_requires_grad();
  ops::sum(a + b).backward();
  ops::sum(a * 3.0).backward();
  CHECK(a.grad().to_vector() == std::vector<double>{4, 4});
  CHECK(b.grad().to_vector() == std::vector<double>{1, 1});
}

TEST_CASE("autograd/grad_mask_and_no_grad") {
  Tensor frozen = Tensor::ones({2}, DType::f64);  // requires_grad false: a frozen parameter
  Tensor x = Tensor::ones({2}, DType::f64).set_requires_grad();
  bool frozen_grad_requested = true;
  Tensor y = Tensor::ones({2}, DType::f64);
  autograd::record(y, "probe", {frozen, x}, [&](const Tensor& dy, const autograd::GradMask& needs) {
    frozen_grad_requested = needs[0];
    return autograd::Grads{Tensor(), dy};
  });
  y.backward(Tensor::ones({2}, DType::f64));
  CHECK_FALSE(frozen_grad_requested);
  CHECK_FALSE(frozen.grad().defined());
  CHECK(x.grad().defined());

  {
    NoGradGuard guard;
    Tensor z = x * x;
    CHECK_FALSE(z.requires_grad());
    CHECK(z.grad_fn() == nullptr);
  }
  CHECK((x * x).requires_grad());
}

TEST_CASE("autograd/errors") {
  Tensor x = Tensor::ones({2}, DType::f64).set_requires_grad();
  Tensor y = x * x;
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("gradient must be given for a non-scalar"), Error);
  Tensor s = ops::sum(y);
  s.backward();
  CHECK_THROWS_WITH_AS(s.backward(), doctest::Contains("already freed"), Error);
  CHECK_THROWS_AS(Tensor::ones({2}).backward(), Error);
  CHECK_THROWS_WITH_AS(x.fill_(1.0), doctest::Contains("in-place change of a tensor that requires grad"), Error);
  CHECK_THROWS_AS(y.set_requires_grad(false), Error);
  CHECK_THROWS_WITH_AS(Tensor::ones({2}) + Tensor::ones({3}), "add: shapes (2) and (3) differ", Error);
  CHECK_THROWS_AS(Tensor::ones({2}) + Tensor::ones({2}, DType::f64), Error);
}

TEST_CASE("autograd/gradcheck_arith_and_views") {
  auto a = randn_leaf({2, 3, 4}, 1), b = randn_leaf({2, 3, 4}, 2);
  gradcheck("add", [](const auto& in) { return in[0] + in[1]; }, {a, b});
  gradcheck("sub", [](const auto& in) { return in[0] - in[1]; }, {a, b});
  gradcheck("mul", [](const auto& in) { return in[0] * in[1]; }, {a, b});
  gradcheck("scalar", [](const auto& in) { return (in[0] * 2.5 + 1.0) * in[0]; }, {a});
  gradcheck("mean", [](const auto& in) { return ops::mean(in[0] * in[0]); }, {a});
  gradcheck("permute", [](const auto& in) { return in[0].permute({2, 0, 1}) * in[1].permute({2, 0, 1}); }, {a, b});
  gradcheck("slice", [](const auto& in) { return in[0].slice(2, 1, 3).contiguous() * 3.0; }, {a});
  gradcheck("reshape_noncontiguous",
            [](const auto& in) { return in[0].transpose(0, 2).reshape({4, -1}) * in[1].reshape({4, 6}); }, {a, b});
  gradcheck("flatten_clone", [](const auto& in) { return in[0].flatten().clone() * in[0].flatten(); }, {a});
}
