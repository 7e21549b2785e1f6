// Module machinery: PyTorch state_dict names and order, safetensors round trip, strict loading, modes,
// and how modules meet optimizers (frozen parameters, parameter groups).
#include <doctest/doctest.h>

#include <cstdio>

#include "libnn/autograd/grad_mode.h"
#include "libnn/core/rng.h"
#include "libnn/nn/module.h"
#include "libnn/ops/arith.h"
#include "libnn/optim/adam.h"
#include "libnn/optim/sgd.h"

using namespace nn;

namespace {

// y = x * weight (+ bias): enough structure for names, modes and gradients.
struct Scale : Module {
  Tensor weight, bias;
  Scale(index_t n, bool has_bias = true) : Module("Scale") {
    weight = register_parameter("weight", Tensor::ones({n}));
    bias = register_parameter("bias", has_bias ? Tensor::zeros({n}) : Tensor());
  }
  Tensor forward(const Tensor& x) override { return bias.defined() ? x * weight + bias : x * weight; }
};

// BatchNorm's parameters and buffers, num_batches_tracked an i64 scalar as in PyTorch.
struct Norm : Module {
  explicit Norm(index_t n) : Module("Norm") {
    register_parameter("weight", Tensor::ones({n}));
    register_parameter("bias", Tensor::zeros({n}));
    register_buffer("running_mean", Tensor::zeros({n}));
    register_buffer("running_var", Tensor::ones({n}));
    register_buffer("num_batches_tracked", Tensor::zeros({}, DType::i64));
  }
};

// Children registered before the module's own parameter and buffer: PyTorch still lists own ones first.
struct Block : Module {
  explicit Block(index_t n) : Module("Block") {
    register_module("conv1", std::make_shared<Scale>(n, false));
    register_module("bn1", std::make_shared<Norm>(n));
    register_buffer("mask", Tensor::ones({n}));
    register_parameter("scale", Tensor::ones({1}));
  }
};

struct Net : Module {
  std::shared_ptr<Scale> stem, fc;
  Net() : Module("Net") {
    stem = register_module("stem", std::make_shared<Scale>(4));
    auto layer1 = register_module("layer1", std::make_shared<Sequential>());
    layer1->push_back(std::make_shared<Block>(4));
    layer1->push_back(std::make_shared<Block>(4));
    register_buffer("mean", Tensor::zeros({4}));
    fc = register_module("fc", std::make_shared<Scale>(2));
    register_parameter("alpha", Tensor::ones({1}));
  }
};

std::vector<std::string> keys(const std::vector<std::pair<std::string, Tensor>>& named) {
  std::vector<std::string> out;
  for (const auto& [k, v] : named) out.push_back(k);
  return out;
}

// Fills every floating parameter and buffer with seeded random values, and the i64 buffers with 7.
void randomize(Module& m, std::uint64_t seed) {
  Generator gen(seed);
  NoGradGuard no_grad;
  for (auto& [name, t] : m.state_dict()) {
    if (is_floating(t.dtype())) t.copy_(Tensor::normal(t.shape(), 0.0, 1.0, gen, t.dtype()));
    else t.fill_(7);
  }
}

}  // namespace

TEST_CASE("module/names_and_order_match_pytorch") {
  // Expected lists printed by torch 1.13 for the same tree (nn.Module subclasses with the same
  // registrations, bias registered as None).
  Net net;
  CHECK(keys(net.named_parameters()) ==
        std::vector<std::string>{"alpha", "stem.weight", "stem.bias", "layer1.0.scale", "layer1.0.conv1.weight",
                                 "layer1.0.bn1.weight", "layer1.0.bn1.bias", "layer1.1.scale",
                                 "layer1.1.conv1.weight", "layer1.1.bn1.weight", "layer1.1.bn1.bias", "fc.weight",
                                 "fc.bias"});
  CHECK(keys(net.named_buffers()) ==
        std::vector<std::string>{"mean", "layer1.0.mask", "layer1.0.bn1.running_mean", "layer1.0.bn1.running_var",
                                 "layer1.0.bn1.num_batches_tracked", "layer1.1.mask", "layer1.1.bn1.running_mean",
                                 "layer1.1.bn1.running_var", "layer1.1.bn1.num_batches_tracked"});
  CHECK(keys(net.state_dict()) ==
        std::vector<std::string>{"alpha", "mean", "stem.weight", "stem.bias", "layer1.0.scale", "layer1.0.mask",
                                 "layer1.0.conv1.weight", "layer1.0.bn1.weight", "layer1.0.bn1.bias",
                                 "layer1.0.bn1.running_mean", "layer1.0.bn1.running_var",
                                 "layer1.0.bn1.num_batches_tracked", "layer1.1.scale", "layer1.1.mask",
                                 "layer1.1.conv1.weight", "layer1.1.bn1.weight", "layer1.1.bn1.bias",
                                 "layer1.1.bn1.running_mean", "layer1.1.bn1.running_var",
                                 "layer1.1.bn1.num_batches_tracked", "fc.weight", "fc.bias"});
  CHECK(keys(net.named_parameters(false)) == std::vector<std::string>{"alpha"});
  CHECK(net.parameters().size() == 13);
  CHECK(net.num_parameters() == 1 + 8 + 2 * (1 + 4 + 8) + 4);
  for (const auto& p : net.parameters()) CHECK(p.requires_grad());
  for (const auto& b : net.buffers()) CHECK_FALSE(b.requires_grad());

  // Paths.
  CHECK(net.submodule("layer1.1.bn1").type_name() == "Norm");
  CHECK(net.tensor("layer1.0.bn1.num_batches_tracked").dtype() == DType::i64);
  CHECK(net.tensor("stem.weight").is_same(net.stem->weight));
  CHECK_THROWS_WITH_AS(net.submodule("layer1.2"), doctest::Contains("has no child \"2\""), Error);
  CHECK_THROWS_AS(net.tensor("stem.bogus"), Error);
  std::vector<std::string> module_names;
  for (const auto& [name, m] : net.named_modules()) module_names.push_back(name);
  CHECK(module_names == std::vector<std::string>{"", "stem", "layer1", "layer1.0", "layer1.0.conv1", "layer1.0.bn1",
                                                 "layer1.1", "layer1.1.conv1", "layer1.1.bn1", "fc"});
}

TEST_CASE("module/registration_errors") {
  Scale m(2);
  CHECK_THROWS_WITH_AS(m.register_parameter("weight", Tensor::ones({2})), doctest::Contains("already registered"),
                       Error);
  CHECK_THROWS_WITH_AS(m.register_buffer("a.b", Tensor::ones({2})), doctest::Contains("contains '.'"), Error);
  CHECK_THROWS_WITH_AS(m.register_parameter("idx", Tensor::zeros({2}, DType::i64)), doctest::Contains("floating"),
                       Error);
  CHECK_THROWS_WITH_AS(m.register_module("", std::make_shared<Scale>(2)), doctest::Contains("empty"), Error);
  Module plain;
  CHECK_THROWS_WITH_AS(plain.forward(Tensor::ones({2})), doctest::Contains("not implemented"), Error);
}

TEST_CASE("module/state_dict_round_trip_through_safetensors") {
  Net a;
  randomize(a, 1);
  const std::string path = "/tmp/hardtune_test_module_state.safetensors";
  save_state_dict(a.state_dict(), path);

  Net b;
  randomize(b, 2);
  const Tensor stem_weight = b.stem->weight;  // handles stay valid across a load
  const LoadResult r = b.load_state_dict(load_state_dict_file(path));
  CHECK(r.missing_keys.empty());
  CHECK(r.unexpected_keys.empty());
  const auto sa = a.state_dict(), sb = b.state_dict();
  REQUIRE(sa.size() == sb.size());
  for (std::size_t i = 0; i < sa.size(); ++i) {
    CAPTURE(sa[i].first);
    CHECK(sb[i].second.dtype() == sa[i].second.dtype());
    CHECK(sb[i].second.to_vector() == sa[i].second.to_vector());
  }
  CHECK(b.tensor("layer1.1.bn1.num_batches_tracked").item() == 7);
  CHECK(stem_weight.to_vector() == a.stem->weight.to_vector());
  CHECK(stem_weight.requires_grad());

  // Into a module converted to f64: values convert, integer buffers stay i64, handles stay valid.
  Net c;
  c.to(DType::f64);
  CHECK(c.stem->weight.dtype() == DType::f64);
  CHECK(c.tensor("layer1.0.bn1.running_var").dtype() == DType::f64);
  CHECK(c.tensor("layer1.0.bn1.num_batches_tracked").dtype() == DType::i64);
  c.load_state_dict(load_state_dict_file(path));
  CHECK(c.stem->weight.to_vector() == a.stem->weight.to_vector());
  std::remove(path.c_str());
}

TEST_CASE("module/strict_load_errors") {
  Net net;
  randomize(net, 3);
  const auto before = net.stem->weight.to_vector();
  StateDict dict = Net().state_dict();
  // Drop one key, add one, and give one the wrong shape.
  dict.erase(dict.begin() + 2);  // stem.weight
  dict.emplace_back("layer1.0.extra", Tensor::zeros({1}));
  for (auto& [k, t] : dict)
    if (k == "fc.bias") t = Tensor::zeros({3});

  try {
    net.load_state_dict(dict);
    FAIL("expected an error");
  } catch (const Error& e) {
    const std::string msg = e.what();
    CHECK(msg.find("missing keys: stem.weight") != std::string::npos);
    CHECK(msg.find("unexpected keys: layer1.0.extra") != std::string::npos);
    CHECK(msg.find("size mismatch for fc.bias: checkpoint (3), model (2)") != std::string::npos);
  }
  CHECK(net.stem->weight.to_vector() == before);  // nothing was copied

  // Non-strict: missing and unexpected keys are reported, a shape mismatch is still an error.
  CHECK_THROWS_WITH_AS(net.load_state_dict(dict, false), doctest::Contains("size mismatch for fc.bias"), Error);
  for (auto& [k, t] : dict)
    if (k == "fc.bias") t = Tensor::zeros({2});
  const LoadResult r = net.load_state_dict(dict, false);
  CHECK(r.missing_keys == std::vector<std::string>{"stem.weight"});
  CHECK(r.unexpected_keys == std::vector<std::string>{"layer1.0.extra"});
  CHECK(net.stem->weight.to_vector() == before);
  CHECK(net.fc->bias.to_vector() == std::vector<double>{0, 0});
}

TEST_CASE("module/train_eval_recursion") {
  Net net;
  CHECK(net.is_training());
  net.eval();
  for (const auto& [name, m] : net.named_modules()) CHECK_FALSE(m->is_training());
  net.submodule("layer1").train();
  CHECK_FALSE(net.is_training());
  CHECK(net.submodule("layer1.1.bn1").is_training());
  CHECK_FALSE(net.fc->is_training());
  net.train();
  for (const auto& [name, m] : net.named_modules()) CHECK(m->is_training());
}

TEST_CASE("module/sequential_forward_and_names") {
  Sequential seq({std::make_shared<Scale>(3), std::make_shared<Scale>(3)});
  auto third = seq.push_back(std::make_shared<Scale>(3, false));
  CHECK(seq.size() == 3);
  CHECK(keys(seq.named_parameters()) ==
        std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "2.weight"});
  {
    NoGradGuard g;
    dynamic_cast<Scale&>(seq[0]).weight.fill_(2);
    dynamic_cast<Scale&>(seq[1]).bias.fill_(1);
    third->weight.fill_(3);
  }
  const Tensor y = seq(Tensor::from_vector({3}, {1, 2, 3}));
  CHECK(y.to_vector() == std::vector<double>{9, 15, 21});  // ((2x) + 1) * 3
}

TEST_CASE("module/frozen_head_is_skipped_by_optimizer") {
  // HardTune's frozen random head: the classifier takes part in the loss but is not given to the
  // optimizer; frozen with requires_grad false it gets no gradient either, and step() leaves it alone.
  Net net;
  randomize(net, 4);
  for (auto& [name, p] : net.fc->named_parameters()) p.set_requires_grad(false);
  CHECK(net.num_parameters(true) == net.num_parameters() - 4);
  const auto fc_before = net.fc->weight.to_vector(), stem_before = net.stem->weight.to_vector();

  optim::Adam adam(net.parameters(), {.lr = 0.1, .beta1 = 0.5});
  const Tensor x = Tensor::from_vector({4}, {1, -2, 3, 0.5});
  const Tensor loss = ops::sum(net.fc->forward(net.stem->forward(x).slice(0, 1, 3)));
  loss.backward();
  CHECK_FALSE(net.fc->weight.grad().defined());
  CHECK(net.stem->weight.grad().defined());
  CHECK_FALSE(net.tensor("layer1.0.scale").grad().defined());  // not reached by the loss
  adam.step();
  CHECK(net.fc->weight.to_vector() == fc_before);
  CHECK(net.stem->weight.to_vector() != stem_before);
  CHECK(adam.state(net.tensor("layer1.0.scale")).step == 0);
  CHECK(adam.state(net.stem->weight).step == 1);
  net.zero_grad();
  CHECK_FALSE(net.stem->weight.grad().defined());
}

TEST_CASE("module/param_groups_with_different_lr_and_weight_decay") {
  Net net;
  randomize(net, 5);
  std::vector<Tensor> backbone, head = net.fc->parameters();
  for (auto& [name, p] : net.named_parameters())
    if (!name.starts_with("fc.")) backbone.push_back(p);
  optim::SGD sgd(std::vector<optim::ParamGroup<optim::SgdOptions>>{
      {backbone, {.lr = 0.1}}, {head, {.lr = 0.01, .weight_decay = 0.5}}});
  CHECK(sgd.num_groups() == 2);
  CHECK(sgd.lrs() == std::vector<double>{0.1, 0.01});
  sgd.set_lr(1, 0.02);
  CHECK(sgd.lr(1) == 0.02);
  CHECK(sgd.weight_decay(1) == 0.5);

  const auto w0 = net.stem->weight.to_vector(), h0 = net.fc->weight.to_vector();
  for (const auto& p : net.parameters()) p.set_grad(Tensor::ones(p.shape()));
  sgd.step();
  const auto w1 = net.stem->weight.to_vector(), h1 = net.fc->weight.to_vector();
  for (std::size_t i = 0; i < w0.size(); ++i) CHECK(w1[i] == doctest::Approx(w0[i] - 0.1).epsilon(1e-6));
  for (std::size_t i = 0; i < h0.size(); ++i)
    CHECK(h1[i] == doctest::Approx(h0[i] - 0.02 * (1 + 0.5 * h0[i])).epsilon(1e-6));
  sgd.zero_grad();
  for (const auto& p : net.parameters()) CHECK_FALSE(p.grad().defined());
}
