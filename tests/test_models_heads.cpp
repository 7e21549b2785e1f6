// Classifier heads (models/heads.h): state-dict keys, gradient checks in f64 (through the features and
// every parameter), frozen heads, the factory, and ArcMarginHead against PyTorch's ArcMarginProduct
// (arc_head_* cases of tests/reference/make_ops.py).
#include <doctest/doctest.h>

#include <cmath>

#include "libnn/autograd/grad_mode.h"
#include "libnn/core/rng.h"
#include "libnn/ops/arith.h"
#include "models/heads.h"
#include "tests/support/gradcheck.h"
#include "tests/support/reference.h"

using namespace nn;
using models::ArcMarginHead;
using models::LinearHead;
using models::LinearSequentialHead;
using nn::testing::gradcheck;
using nn::testing::randn_leaf;

namespace {

std::vector<std::string> keys(const Module& m) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m.state_dict()) out.push_back(k);
  return out;
}

// The head's parameters as gradcheck inputs (f64 leaves shared with the head) after the features.
std::vector<Tensor> inputs_with_params(const Tensor& features, const Module& head) {
  std::vector<Tensor> in{features};
  for (const auto& p : head.parameters()) in.push_back(p);
  return in;
}

}  // namespace

TEST_CASE("heads/keys") {
  LinearHead linear(512, 2);
  CHECK(keys(linear) == std::vector<std::string>{"weight", "bias"});
  CHECK(linear.weight.shape() == Shape{2, 512});
  LinearSequentialHead seq(512, 2);
  CHECK(keys(seq) == std::vector<std::string>{"sequential.0.weight", "sequential.0.bias", "sequential.3.weight",
                                              "sequential.3.bias"});
  CHECK(seq.num_parameters() == 512 * 128 + 128 + 128 * 2 + 2);
  ArcMarginHead arc(512, 2, {});
  CHECK(keys(arc) == std::vector<std::string>{"weight"});
  // xavier_uniform bound sqrt(6 / (512 + 2)).
  for (double v : arc.weight.to_vector()) CHECK(std::abs(v) <= std::sqrt(6.0 / 514.0));
}

TEST_CASE("heads/gradcheck") {
  const Tensor labels = Tensor::from_labels(std::vector<std::int64_t>{1, 0, 2, 1, 0});
  {
    LinearHead head(6, 3);
    head.to(DType::f64);
    gradcheck(
        "linear_head", [&](const auto& in) { return head.logits(in[0]); },
        inputs_with_params(randn_leaf({5, 6}, 1), head));
  }
  {
    LinearSequentialHead head(6, 3);
    head.to(DType::f64);
    head.eval();  // dropout would redraw its mask at every evaluation of the loss
    gradcheck("linear_sequential_head", [&](const auto& in) { return head.logits(in[0]); },
              inputs_with_params(randn_leaf({5, 6}, 2), head), {.kink_filter = true});
  }
  for (bool easy : {true, false}) {
    CAPTURE(easy);
    ArcMarginHead head(6, 3, {.s = 30.0, .m = 0.5, .easy_margin = easy});
    head.to(DType::f64);
    gradcheck("arc_margin_head_train", [&](const auto& in) { return head.logits(in[0], labels); },
              inputs_with_params(randn_leaf({5, 6}, 3), head), {.kink_filter = true});
    head.eval();
    gradcheck(
        "arc_margin_head_eval", [&](const auto& in) { return head.logits(in[0], labels); },
        inputs_with_params(randn_leaf({5, 6}, 4), head));
    head.train();
  }
}

TEST_CASE("heads/frozen") {
  for (const std::string type : {"linear", "linear_sequential", "arc_margin", "arc_margin_5e-2"}) {
    CAPTURE(type);
    auto head = models::make_head(type, 8, 2, /*frozen=*/true);
    CHECK(head->num_parameters() > 0);
    CHECK(head->num_parameters(/*trainable_only=*/true) == 0);
    head->to(DType::f64);
    Tensor x = randn_leaf({4, 8}, 5);
    ops::sum(head->logits(x, Tensor::from_labels(std::vector<std::int64_t>{0, 1, 1, 0}))).backward();
    for (const auto& p : head->parameters()) CHECK_FALSE(p.grad().defined());
    REQUIRE(x.grad().defined());  // a frozen head still passes the gradient to the features
    double norm = 0;
    for (double v : x.grad().to_vector()) norm += v * v;
    if (type != "linear_sequential") CHECK(norm > 0);  // (linear_sequential's ReLUs may zero it)
  }
  auto trained = models::make_head("linear", 8, 2);
  CHECK(trained->num_parameters(true) == 8 * 2 + 2);
}

TEST_CASE("heads/factory") {
  auto arc = std::dynamic_pointer_cast<ArcMarginHead>(models::make_head("arc_margin_5e-2", 512, 2));
  REQUIRE(arc);
  CHECK(arc->options.m == 0.05);
  CHECK(arc->options.s == 30.0);
  CHECK(arc->options.easy_margin);
  CHECK(std::dynamic_pointer_cast<ArcMarginHead>(models::make_head("arc_margin", 512, 2))->options.m == 0.5);
  CHECK(std::dynamic_pointer_cast<LinearHead>(models::make_head("linear", 512, 2)));
  CHECK(std::dynamic_pointer_cast<LinearSequentialHead>(models::make_head("linear_sequential", 512, 2)));
  CHECK_THROWS_WITH_AS(models::make_head("cce_arc_margin_1e-1", 512, 2),
                       doctest::Contains("make_head: unknown classifier type 'cce_arc_margin_1e-1'"), Error);
  LinearHead head(512, 2);
  CHECK_THROWS_WITH_AS(head.logits(Tensor::zeros({3, 256})), doctest::Contains("LinearHead: features must be (N, 512)"),
                       Error);
}

TEST_CASE("heads/linear_sequential_relu_on_logits") {
  LinearSequentialHead head(16, 2);
  head.eval();
  Generator gen(7);
  const Tensor y = head.logits(Tensor::normal({32, 16}, 0, 3, gen));
  for (double v : y.to_vector()) CHECK(v >= 0.0);
}

TEST_CASE("heads/arc_margin_pytorch_parity") {
  // ArcMarginHead with the reference's weight, training mode with labels, in f32, against PyTorch in f64.
  // Error floor: the RMS of the reference (the cosine is a GEMM; see test_ops_parity).
  int cases = 0;
  for (const auto& name : testing::reference_cases("ops")) {
    const auto p = testing::reference_params("ops", name);
    if (p["op"] != "arc_margin_head") continue;
    CAPTURE(name);
    ++cases;
    const Tensor w = testing::reference_tensor("ops", name, "w");
    ArcMarginHead head(
        w.size(1), w.size(0),
        {.s = p["s"].get<double>(), .m = p["m"].get<double>(), .easy_margin = p["easy_margin"].get<bool>()});
    {
      NoGradGuard no_grad;
      head.weight.copy_(w);
    }
    Tensor x = testing::reference_tensor("ops", name, "x").clone().set_requires_grad();
    const Tensor y = head.logits(x, testing::reference_tensor("ops", name, "target"));
    y.backward(testing::reference_tensor("ops", name, "dy"));
    auto rms = [](const Tensor& t) {
      double s = 0;
      for (double v : t.to_vector()) s += v * v;
      return std::sqrt(s / static_cast<double>(t.numel()));
    };
    for (const auto& [actual, role] : {std::pair{y, std::string("y")}, {x.grad(), "dx"}, {head.weight.grad(), "dw"}}) {
      const Tensor expected = testing::reference_tensor("ops", name, role);
      const double err = testing::check_close(actual, expected, 1e-5, name + "." + role, rms(expected));
      MESSAGE(name, ".", role, ": max relative error vs PyTorch ", err);
    }
    // Eval mode is s * cos, whatever the labels.
    head.eval();
    const Tensor cos = head.cosine(x.detach());
    testing::check_close(head.logits(x.detach(), testing::reference_tensor("ops", name, "target")),
                         ops::mul_scalar(cos, p["s"].get<double>()), 1e-6, name + ".eval");
  }
  CHECK(cases == 3);
}
