// Layers: PyTorch names and buffers, default-init distributions, BN modes, and a reference-state test:
// a small network built from the standard layers reproduces PyTorch's gradients, the losses of five Adam
// steps, the final weights and BN running statistics, and eval-mode logits (make_tinynet.py).
#include <doctest/doctest.h>

#include <cmath>

#include "libnn/autograd/grad_mode.h"
#include "libnn/memory/allocator.h"
#include "libnn/nn/layers.h"
#include "libnn/ops/arith.h"
#include "libnn/ops/loss.h"
#include "libnn/optim/adam.h"
#include "tests/support/reference.h"

using namespace nn;
using nn::testing::check_close;
using nn::testing::reference_params;
using nn::testing::reference_tensor;

namespace {
std::shared_ptr<Sequential> tinynet() {
  auto net = std::make_shared<Sequential>();
  net->push_back(std::make_shared<Conv2d>(3, 8, Conv2d::Options{.kernel = 3, .bias = false}));
  net->push_back(std::make_shared<BatchNorm2d>(8));
  net->push_back(std::make_shared<PReLU>(8));
  net->push_back(std::make_shared<MaxPool2d>(2));
  net->push_back(std::make_shared<Conv2d>(8, 16, Conv2d::Options{.kernel = 3, .padding = 1, .bias = false}));
  net->push_back(std::make_shared<BatchNorm2d>(16));
  net->push_back(std::make_shared<PReLU>(16));
  net->push_back(std::make_shared<AdaptiveAvgPool2d>(1));
  net->push_back(std::make_shared<Flatten>());
  net->push_back(std::make_shared<Linear>(16, 2));
  return net;
}

StateDict reference_state(const std::string& prefix) {
  StateDict dict;
  const auto params = reference_params("tinynet", "adam");  // keep the json alive across the loop
  for (const std::string key : params["keys"])
    dict.emplace_back(key, reference_tensor("tinynet", "adam", prefix + key));
  return dict;
}
}  // namespace

TEST_CASE("layers/pytorch_names_and_buffers") {
  auto net = tinynet();
  std::vector<std::string> keys;
  for (const auto& [k, t] : net->state_dict()) keys.push_back(k);
  const auto params = reference_params("tinynet", "adam");
  const std::vector<std::string> expected = params["keys"];
  CHECK(keys == expected);
  CHECK(net->num_parameters() == 8 * 27 + 16 + 8 + 16 * 72 + 32 + 16 + 16 * 2 + 2);
}

TEST_CASE("layers/default_init_matches_torch_distributions") {
  Generator gen(3);
  Conv2d conv(64, 32, {.kernel = 3}, gen);
  const double bound = 1.0 / std::sqrt(64.0 * 9);  // kaiming_uniform(a = sqrt 5) == U(±1/sqrt(fan_in))
  double max_w = 0, max_b = 0;
  for (double v : conv.weight.to_vector()) max_w = std::max(max_w, std::abs(v));
  for (double v : conv.bias.to_vector()) max_b = std::max(max_b, std::abs(v));
  CHECK(max_w <= bound * (1 + 1e-6));  // a draw just below the bound may round up to it in f32
  CHECK(max_w > 0.95 * bound);
  CHECK(max_b <= bound * (1 + 1e-6));
  PReLU prelu(4);
  CHECK(prelu.weight.to_vector() == std::vector<double>(4, 0.25));
  CHECK_THROWS_AS(Conv2d(3, 4, {.groups = 2}), Error);
}

TEST_CASE("layers/batch_norm_modes") {
  BatchNorm2d bn(3);
  Generator gen(1);
  Tensor x = Tensor::normal({4, 3, 5, 5}, 2.0, 3.0, gen);
  bn.forward(x);
  CHECK(bn.num_batches_tracked.item() == 1);
  const auto rm = bn.running_mean.to_vector();
  CHECK(rm[0] == doctest::Approx(0.2).epsilon(0.3));  // 0.9 * 0 + 0.1 * batch mean (about 2)
  bn.eval();
  const Tensor y1 = bn.forward(x), y2 = bn.forward(x);
  CHECK(y1.to_vector() == y2.to_vector());  // eval: no statistics change
  CHECK(bn.num_batches_tracked.item() == 1);
  CHECK_THROWS_WITH_AS(bn.forward(Tensor::zeros({4, 3})), doctest::Contains("expected (N, C, H, W)"), Error);
}

TEST_CASE("layers/reference_state_tinynet_adam") {
  auto net = tinynet();
  net->load_state_dict(reference_state("init."));
  const Tensor x = reference_tensor("tinynet", "adam", "x");
  const Tensor labels = reference_tensor("tinynet", "adam", "labels");
  const auto expected_losses = reference_tensor("tinynet", "adam", "losses").to_vector();
  optim::Adam adam(net->parameters(), {.lr = 1e-2, .beta1 = 0.5, .beta2 = 0.999});
  for (std::size_t step = 0; step < expected_losses.size(); ++step) {
    CAPTURE(step);
    adam.zero_grad();
    Tensor loss = ops::cross_entropy(net->forward(x), labels);
    loss.backward();
    CHECK(loss.item() == doctest::Approx(expected_losses[step]).epsilon(1e-5));
    if (step == 0)
      for (const auto& [name, p] : net->named_parameters())
        check_close(p.grad(), reference_tensor("tinynet", "adam", "grad0." + name), 1e-4, "grad0." + name, 1e-3);
    adam.step();
  }
  for (const auto& [name, t] : net->state_dict()) {
    if (t.dtype() == DType::i64) {
      CHECK(t.item() == reference_tensor("tinynet", "adam", "final." + name).item());
      continue;
    }
    check_close(t, reference_tensor("tinynet", "adam", "final." + name), 1e-4, "final." + name, 1e-3);
  }
  net->eval();
  check_close(net->forward(x), reference_tensor("tinynet", "adam", "eval_logits"), 1e-4, "eval_logits", 1e-3);
  NoGradGuard no_grad;  // inference: each conv, BN, PReLU run in one fused conv
  check_close(net->forward(x), reference_tensor("tinynet", "adam", "eval_logits"), 1e-4, "eval_logits (fused)", 1e-3);
}

TEST_CASE("layers/conv_bn_act_fused_matches_modules") {
  // f64, BN with trained-looking statistics and a conv bias: the fused inference path computes the same
  // function as the three modules in turn, for each activation; training mode never fuses.
  Generator gen(7);
  Conv2d conv(5, 6, {.kernel = 3, .padding = 1, .bias = true}, gen);
  BatchNorm2d bn(6, 1e-3);
  PReLU prelu(6);
  ReLU relu;
  for (Module* m : std::initializer_list<Module*>{&conv, &bn, &prelu}) m->to(DType::f64);
  {
    NoGradGuard no_grad;
    bn.weight.copy_(Tensor::uniform({6}, 0.5, 2.0, gen, DType::f64));
    bn.bias.copy_(Tensor::uniform({6}, -1.0, 1.0, gen, DType::f64));
    bn.running_mean.copy_(Tensor::uniform({6}, -0.5, 0.5, gen, DType::f64));
    bn.running_var.copy_(Tensor::uniform({6}, 0.2, 3.0, gen, DType::f64));
    prelu.weight.copy_(Tensor::uniform({6}, 0.0, 0.5, gen, DType::f64));
  }
  const Tensor x = Tensor::normal({3, 5, 9, 7}, 0.0, 1.0, gen, DType::f64);
  for (Module* m : std::initializer_list<Module*>{&conv, &bn, &prelu, &relu}) m->eval();
  for (Module* act : std::initializer_list<Module*>{&prelu, &relu, nullptr}) {
    Tensor y = bn.forward(conv.forward(x));  // grad mode on: the modules in turn
    if (act) y = act->forward(y);
    NoGradGuard no_grad;
    check_close(conv_bn_act(conv, bn, act, x), y, 1e-12, "fused", 1e-12);
  }
  conv.train();
  bn.train();
  NoGradGuard no_grad;
  const Tensor before = bn.running_mean.clone();
  conv_bn_act(conv, bn, &prelu, x);
  CHECK(bn.num_batches_tracked.item() == 1);  // ran as BN in training mode: statistics updated
  CHECK(bn.running_mean.to_vector() != before.to_vector());
}

// freeze_for_inference: convs run on weights prepared once (packed, or Winograd-transformed for the 16-
// channel 3x3 layer, whose 16 tiles take Winograd only with prepared weights) and give the eval-mode
// outputs to float rounding; load_state_dict and to(dtype) drop the prepared weights (new values show),
// train() unfreezes.
TEST_CASE("layers/freeze_for_inference") {
  Generator gen(11);
  auto net = std::make_shared<Sequential>();
  net->push_back(std::make_shared<Conv2d>(3, 16, Conv2d::Options{.kernel = 3, .padding = 1, .bias = false}, gen));
  net->push_back(std::make_shared<BatchNorm2d>(16));
  net->push_back(std::make_shared<PReLU>(16));
  net->push_back(std::make_shared<Conv2d>(16, 16, Conv2d::Options{.kernel = 3, .padding = 1, .bias = true}, gen));
  net->push_back(std::make_shared<Conv2d>(16, 4, Conv2d::Options{.kernel = 1, .bias = true}, gen));
  const Tensor x = Tensor::normal({1, 3, 14, 14}, 0.0, 1.0, gen);
  NoGradGuard no_grad;
  auto outputs = [&](Module& m) { return m.forward(x).to_vector(); };
  net->eval();
  const Tensor eval_out = net->forward(x);
  net->freeze_for_inference();
  CHECK(net->frozen_for_inference());
  CHECK(!net->is_training());
  const std::vector<double> frozen_out = outputs(*net);
  check_close(Tensor::from_vector(eval_out.shape(), frozen_out), eval_out, 1e-4, "frozen", 1e-2);
  CHECK(outputs(*net) == frozen_out);  // the second call runs on what the first prepared

  // New weights through load_state_dict show at once.
  StateDict dict = net->state_dict();
  for (auto& [name, t] : dict)
    if (name.ends_with("weight")) t = t * 0.5;
  net->load_state_dict(dict);
  CHECK(net->frozen_for_inference());
  const std::vector<double> halved = outputs(*net);
  CHECK(halved != frozen_out);
  net->freeze_for_inference();  // prepared anew from the same weights
  CHECK(outputs(*net) == halved);

  net->to(DType::f64);
  CHECK(net->forward(x.to(DType::f64)).dtype() == DType::f64);
  net->train();
  CHECK(!net->frozen_for_inference());
  auto& conv = dynamic_cast<Conv2d&>((*net)[0]);
  CHECK(conv.prepared_weights() == nullptr);
}

TEST_CASE("layers/training_step_makes_no_system_allocation") {
  // After the first steps have filled the caching allocator, a forward + backward + Adam step reuses
  // cached blocks only: no malloc for tensor memory in steady-state training.
  auto net = tinynet();
  net->load_state_dict(reference_state("init."));
  const Tensor x = reference_tensor("tinynet", "adam", "x");
  const Tensor labels = reference_tensor("tinynet", "adam", "labels");
  optim::Adam adam(net->parameters(), {.lr = 1e-3});
  auto step = [&] {
    adam.zero_grad();
    ops::cross_entropy(net->forward(x), labels).backward();
    adam.step();
  };
  step();
  step();
  const auto before = allocator_for(Device::cpu()).stats().system_allocations;
  step();
  step();
  CHECK(allocator_for(Device::cpu()).stats().system_allocations == before);
}
