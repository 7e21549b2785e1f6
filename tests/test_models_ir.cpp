// The IR family (REFERENCE.md §1.4) in the DLAS topology (§1.2): parameter counts of the full-size nets
// against the counts torch computed on the original classes (§1.7), state_dict keys as the pretrained
// mapping expects them (§2.2), initialisation (§1.8), shapes, the MaxPool(1, 2) shortcut, gradient checks
// of single units and a backward through a tiny net. Reference-state (PyTorch) tests live elsewhere.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "libnn/ops/arith.h"
#include "libnn/ops/tensor_ops.h"
#include "models/blocks/bottleneck_ir.h"
#include "models/iresnet.h"
#include "tests/support/gradcheck.h"

using namespace models;
using nn::DType;
using nn::Shape;
using nn::testing::gradcheck;
using nn::testing::randn_leaf;

namespace {

IRConfig reduced_config(index_t divisor, std::array<int, 4> units) {
  IRConfig c;
  for (auto& w : c.widths) w /= divisor;
  c.units = units;
  return c;
}

double max_abs(const Tensor& t) {
  double m = 0.0;
  for (double v : t.to_vector()) m = std::max(m, std::abs(v));
  return m;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto av = a.to_vector(), bv = b.to_vector();
  double m = 0.0;
  for (std::size_t i = 0; i < av.size(); ++i) m = std::max(m, std::abs(av[i] - bv[i]));
  return m;
}

// Builds the net and reports how long that took (a measurement, never asserted).
std::unique_ptr<DlasNet> timed_build(const IRConfig& config, const std::string& what) {
  const auto t0 = std::chrono::steady_clock::now();
  auto net = std::make_unique<DlasNet>(ir_family(config), DlasVariant::A);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE(what, ": constructed in ", s, " s, ", net->num_parameters(), " parameters");
  return net;
}

bool has_key_with_prefix(const nn::StateDict& dict, const std::string& prefix) {
  return std::any_of(dict.begin(), dict.end(), [&](const auto& kv) { return kv.first.rfind(prefix, 0) == 0; });
}

}  // namespace

TEST_CASE("models_ir/ir50_dlas_a_full_size_counts_and_keys") {
  auto net = timed_build(IRConfig{}, "IR_50DLAS_A");
  CHECK(net->type_name() == "IR_50DLAS_A");
  CHECK(net->feature_dim() == 512);

  // §1.7
  CHECK(net->num_parameters() == 99'335'552);
  CHECK(net->rgb_backbone->num_parameters() == 17'611'968);
  CHECK(net->depth_backbone->num_parameters() == 17'611'968);
  CHECK(net->ir_backbone->num_parameters() == 17'611'968);
  CHECK(net->layer4->num_parameters() == 15'737'856);
  CHECK(net->agg_layer1->num_parameters() == 1'129'152);
  CHECK(net->agg_layer2->num_parameters() == 16'320'384);
  CHECK(net->agg_layer3->num_parameters() == 13'312'256);
  CHECK(net->submodule("layer4.0").num_parameters() == 6'295'552);
  CHECK(net->submodule("layer4.1").num_parameters() == 4'721'152);
  CHECK(net->submodule("layer4.2").num_parameters() == 4'721'152);
  CHECK(net->agg_layer1->conv1->num_parameters() == 12'352);
  CHECK(net->agg_layer2->conv1->num_parameters() == 49'280);
  CHECK(net->agg_layer3->conv1->num_parameters() == 196'864);

  // §2.2: the keys the pretrained mapping writes.
  CHECK(net->tensor("rgb_backbone.input_layer.0.weight").shape() == Shape{64, 3, 3, 3});
  CHECK(net->tensor("depth_backbone.input_layer.1.running_var").shape() == Shape{64});
  CHECK(net->tensor("ir_backbone.input_layer.2.weight").shape() == Shape{64});
  CHECK(net->submodule("rgb_backbone.layer1.0.shortcut_layer").type_name() == "MaxPool2d");
  CHECK(net->submodule("rgb_backbone.layer1.0.shortcut_layer").num_parameters() == 0);
  CHECK(net->tensor("rgb_backbone.layer2.0.shortcut_layer.0.weight").shape() == Shape{128, 64, 1, 1});
  CHECK(net->tensor("rgb_backbone.layer2.0.shortcut_layer.1.num_batches_tracked").dtype() == DType::i64);
  CHECK(net->submodule("rgb_backbone.layer2.1.shortcut_layer").type_name() == "MaxPool2d");
  CHECK(net->tensor("ir_backbone.layer3.13.res_layer.4.running_mean").shape() == Shape{256});
  CHECK(net->tensor("layer4.0.res_layer.1.weight").shape() == Shape{512, 768, 3, 3});
  CHECK(net->tensor("layer4.0.res_layer.0.running_mean").shape() == Shape{768});
  CHECK(net->tensor("layer4.0.shortcut_layer.0.weight").shape() == Shape{512, 768, 1, 1});
  CHECK(net->tensor("layer4.2.res_layer.3.weight").shape() == Shape{512, 512, 3, 3});
  CHECK(net->tensor("agg_layer1.conv1.weight").shape() == Shape{64, 192, 1, 1});
  CHECK(net->tensor("agg_layer1.conv1.bias").shape() == Shape{64});
  CHECK(net->tensor("agg_layer1.agg_layer.3.res_layer.2.weight").shape() == Shape{128});
  CHECK(net->tensor("agg_layer2.agg_layer.13.res_layer.3.weight").shape() == Shape{256, 256, 3, 3});
  CHECK(net->tensor("agg_layer3.agg_layer.0.res_layer.1.weight").shape() == Shape{512, 256, 3, 3});
  CHECK_THROWS_AS(net->tensor("rgb_backbone.layer1.0.shortcut_layer.0.weight"), nn::Error);

  const nn::StateDict dict = net->state_dict();
  CHECK_FALSE(has_key_with_prefix(dict, "rgb_backbone.output_layer"));  // commented out in the reference
  CHECK_FALSE(has_key_with_prefix(dict, "rgb_backbone.layer4"));
  CHECK_FALSE(has_key_with_prefix(dict, "rgb_backbone.layer1.0.shortcut_layer"));
  CHECK_FALSE(has_key_with_prefix(dict, "ch_att"));
  // Per unit: 13 entries (BN 5, conv, PReLU, conv, BN 5), +6 with a projection shortcut. Stream: input
  // layer 7 + layer1 3*13 + layer2 19+3*13 + layer3 19+13*13 = 292. layer4 19+2*13 = 45; agg conv1 2 each.
  CHECK(dict.size() == 3 * 292 + 45 + (2 + 58) + (2 + 188) + (2 + 45));

  // Registration order equals torch's: shortcut_layer before res_layer (bottleneck_IR.__init__).
  std::vector<std::string> unit_keys;
  for (const auto& [k, t] : net->submodule("rgb_backbone.layer2.0").state_dict()) unit_keys.push_back(k);
  const std::vector<std::string> expected = {
      "shortcut_layer.0.weight", "shortcut_layer.1.weight", "shortcut_layer.1.bias",
      "shortcut_layer.1.running_mean", "shortcut_layer.1.running_var", "shortcut_layer.1.num_batches_tracked",
      "res_layer.0.weight", "res_layer.0.bias", "res_layer.0.running_mean", "res_layer.0.running_var",
      "res_layer.0.num_batches_tracked", "res_layer.1.weight", "res_layer.2.weight", "res_layer.3.weight",
      "res_layer.4.weight", "res_layer.4.bias", "res_layer.4.running_mean", "res_layer.4.running_var",
      "res_layer.4.num_batches_tracked"};
  CHECK(unit_keys == expected);
}

TEST_CASE("models_ir/ir_se50_dlas_a_full_size_count") {
  IRConfig config;
  config.se = true;
  auto net = timed_build(config, "IR_SE_50DLAS_A");
  CHECK(net->type_name() == "IR_SE_50DLAS_A");
  CHECK(net->num_parameters() == 100'028'288);  // §1.7
  CHECK(net->tensor("rgb_backbone.layer1.0.res_layer.5.fc1.weight").shape() == Shape{4, 64, 1, 1});
  CHECK(net->tensor("layer4.0.res_layer.5.fc2.weight").shape() == Shape{512, 32, 1, 1});
}

TEST_CASE("models_ir/family_names_and_dlas_b_is_refused") {
  CHECK(ir_family().name == "IR_50DLAS");
  CHECK(ir_family(IRConfig{.units = {3, 13, 30, 3}}).name == "IR_100DLAS");
  CHECK(ir_family(IRConfig{.units = {3, 8, 36, 3}, .se = true}).name == "IR_SE_152DLAS");
  const DlasFamily f = ir_family(reduced_config(8, {1, 1, 2, 1}));
  CHECK(f.name == "IR_12DLAS");
  CHECK(f.level_channels == std::array<index_t, 3>{8, 16, 32});
  CHECK(f.out_channels == 64);
  CHECK_THROWS_WITH_AS(f.make_stream(true), doctest::Contains("DLAS-B"), nn::Error);
  CHECK_THROWS_AS(DlasNet(f, DlasVariant::B), nn::Error);
  CHECK_THROWS_AS(ir_family(IRConfig{.units = {3, 0, 14, 3}}), nn::Error);
}

TEST_CASE("models_ir/initialisation") {
  // Widths /4 keep the xavier and default bounds far enough apart to tell them apart by the maximum.
  DlasNet net(ir_family(reduced_config(4, {1, 2, 1, 2})), DlasVariant::A);
  // Streams: xavier_uniform, U(±sqrt(6 / (fan_in + fan_out))); torch's default is U(±1/sqrt(fan_in)).
  const Tensor w = net.tensor("depth_backbone.layer3.0.res_layer.1.weight");  // (64, 32, 3, 3)
  const double xavier = std::sqrt(6.0 / (32 * 9 + 64 * 9)), fallback = 1.0 / std::sqrt(32.0 * 9);
  CHECK(max_abs(w) <= xavier);
  CHECK(max_abs(w) > fallback);
  for (const char* bn : {"rgb_backbone.input_layer.1", "rgb_backbone.layer2.1.res_layer.4",
                         "rgb_backbone.layer2.0.shortcut_layer.1"}) {
    CHECK(max_abs(net.tensor(std::string(bn) + ".weight") + -1.0) == 0.0);
    CHECK(max_abs(net.tensor(std::string(bn) + ".bias")) == 0.0);
  }
  CHECK(max_abs(net.tensor("rgb_backbone.input_layer.2.weight") + -0.25) == 0.0);
  // The streams are independent: same init distribution, different draws.
  CHECK(max_abs_diff(net.tensor("rgb_backbone.input_layer.0.weight"), net.tensor("ir_backbone.input_layer.0.weight")) >
        0.0);

  // layer4 and agg blocks keep PyTorch's default Conv2d init.
  const Tensor w4 = net.tensor("layer4.0.res_layer.1.weight");  // (128, 192, 3, 3)
  const double bound4 = 1.0 / std::sqrt(192.0 * 9);
  CHECK(max_abs(w4) <= bound4);
  CHECK(max_abs(w4) > 0.9 * bound4);
  const Tensor wa = net.tensor("agg_layer1.agg_layer.1.res_layer.3.weight");  // (32, 32, 3, 3)
  CHECK(max_abs(wa) <= 1.0 / std::sqrt(32.0 * 9));
  CHECK(max_abs(net.tensor("agg_layer1.conv1.bias")) > 0.0);
  CHECK(max_abs(net.tensor("agg_layer1.conv1.bias")) <= 1.0 / std::sqrt(48.0));
}

TEST_CASE("models_ir/shapes_at_112_reduced") {
  // Widths /8 (8, 8, 16, 32, 64), units {1, 1, 2, 1}, batch 2.
  DlasNet net(ir_family(reduced_config(8, {1, 1, 2, 1})), DlasVariant::A);
  nn::Generator gen(7);
  const Tensor x = Tensor::normal({2, 3, 112, 112}, 0, 1, gen), y = Tensor::normal({2, 3, 112, 112}, 0, 1, gen);
  const auto r = net.rgb_backbone->levels(x);
  CHECK(r.l1.shape() == Shape{2, 8, 56, 56});
  CHECK(r.l2.shape() == Shape{2, 16, 28, 28});
  CHECK(r.l3.shape() == Shape{2, 32, 14, 14});
  const Tensor main = net.layer4->forward(nn::ops::cat({r.l3, r.l3, r.l3}, 1));
  CHECK(main.shape() == Shape{2, 64, 7, 7});
  const Tensor f = net.features(x, y, x);
  CHECK(f.shape() == Shape{2, 64});
  CHECK(net.feature_dim() == 64);
  for (double v : f.to_vector()) REQUIRE(std::isfinite(v));
}

TEST_CASE("models_ir/maxpool_shortcut_picks_even_pixels") {
  BottleneckIR unit(3, 3, 2);
  REQUIRE(unit.shortcut_layer->type_name() == "MaxPool2d");
  nn::Generator gen(11);
  const Tensor x = Tensor::normal({2, 3, 5, 7}, 0, 1, gen);  // odd sizes: floor((5-1)/2)+1 = 3, 4
  const Tensor s = unit.shortcut_layer->forward(x);
  REQUIRE(s.shape() == Shape{2, 3, 3, 4});
  const auto xv = x.to_vector(), sv = s.to_vector();
  for (index_t n = 0; n < 2; ++n)
    for (index_t c = 0; c < 3; ++c)
      for (index_t i = 0; i < 3; ++i)
        for (index_t j = 0; j < 4; ++j)
          CHECK(sv[static_cast<std::size_t>(((n * 3 + c) * 3 + i) * 4 + j)] ==
                xv[static_cast<std::size_t>(((n * 3 + c) * 5 + 2 * i) * 7 + 2 * j)]);
  unit.eval();
  const Tensor out = unit.forward(x);
  CHECK(out.shape() == Shape{2, 3, 3, 4});
  CHECK(max_abs_diff(out, unit.res_layer->forward(x) + s) == 0.0);  // no activation after the add

  BottleneckIR identity(3, 3, 1);  // stride 1: MaxPool(1, 1) is the identity
  CHECK(max_abs_diff(identity.shortcut_layer->forward(x), x) == 0.0);
}

TEST_CASE("models_ir/unit_gradcheck") {
  struct Case {
    const char* name;
    index_t in, depth, stride;
    bool se;
    bool train;
  };
  const Case cases[] = {
      {"ir maxpool shortcut s2", 3, 3, 2, false, true},
      {"ir conv shortcut s2", 2, 4, 2, false, true},
      {"ir conv shortcut s1 eval", 2, 3, 1, false, false},
      {"ir_se maxpool shortcut s1", 4, 4, 1, true, true},
      {"ir_se conv shortcut s2", 2, 4, 2, true, true},
  };
  for (const Case& c : cases) {
    BottleneckIR unit(c.in, c.depth, c.stride, c.se, 2);  // SE reduction 2: fc1 depth -> depth / 2
    CHECK(unit.type_name() == (c.se ? "BottleneckIR_SE" : "BottleneckIR"));
    CHECK((c.in == c.depth) == (unit.shortcut_layer->type_name() == "MaxPool2d"));
    unit.to(DType::f64);
    unit.train(c.train);
    if (!c.train) {  // non-trivial running statistics, so eval mode is not just train mode at init
      nn::Generator gen(5);
      for (auto& [name, b] : unit.named_buffers())
        if (name.find("running_") != std::string::npos) b.copy_(Tensor::uniform(b.shape(), 0.5, 1.5, gen, DType::f64));
    }
    std::vector<Tensor> inputs = {randn_leaf({2, c.in, 5, 5}, 42)};
    for (const Tensor& p : unit.parameters()) inputs.push_back(p);
    gradcheck(c.name, [&](const std::vector<Tensor>& in) { return unit.forward(in[0]); }, inputs,
              {.kink_filter = true});
  }
}

TEST_CASE("models_ir/tiny_dlas_backward_reaches_every_parameter") {
  IRConfig config{.widths = {4, 4, 8, 16, 16}, .units = {2, 2, 2, 2}};
  DlasNet net(ir_family(config), DlasVariant::A);
  nn::Generator gen(3);
  std::vector<Tensor> x;
  for (int m = 0; m < 3; ++m) {
    x.push_back(Tensor::normal({2, 3, 32, 32}, 0, 1, gen));
    x.back().set_requires_grad(true);
  }
  const Tensor f = net.features(x[0], x[1], x[2]);
  REQUIRE(f.shape() == Shape{2, 16});
  f.backward(Tensor::normal(f.shape(), 0, 1, gen));
  std::size_t n = 0;
  for (const auto& [name, p] : net.named_parameters()) {
    ++n;
    INFO(name);
    REQUIRE(p.grad().defined());
    CHECK(max_abs(p.grad()) > 0.0);
  }
  CHECK(n == net.parameters().size());
  for (const Tensor& xi : x) CHECK(max_abs(xi.grad()) > 0.0);
}

TEST_CASE("models_ir/train_and_eval_modes") {
  DlasNet net(ir_family(reduced_config(16, {1, 1, 1, 1})), DlasVariant::A);
  nn::Generator gen(9);
  const Tensor x = Tensor::normal({2, 3, 32, 32}, 0, 1, gen);
  const Tensor tracked = net.tensor("depth_backbone.layer2.0.res_layer.0.num_batches_tracked");
  const Tensor running = net.tensor("agg_layer2.agg_layer.0.shortcut_layer.1.running_mean");
  const Tensor running_before = running.clone();

  net.eval();
  for (auto& [name, m] : net.named_modules()) CHECK_MESSAGE(!m->is_training(), name);
  const Tensor eval_pair = net.features(x, x, x);
  const Tensor x0 = x.slice(0, 0, 1).contiguous();
  const Tensor eval_single = net.features(x0, x0, x0);
  // Eval uses running statistics: each sample's feature is independent of the rest of the batch.
  CHECK(max_abs_diff(eval_pair.slice(0, 0, 1), eval_single) < 1e-5);
  CHECK(tracked.item() == 0);
  CHECK(max_abs_diff(running, running_before) == 0.0);

  net.train();
  for (auto& [name, m] : net.named_modules()) CHECK_MESSAGE(m->is_training(), name);
  const Tensor train_pair = net.features(x, x, x);
  CHECK(tracked.item() == 1);
  CHECK(max_abs_diff(running, running_before) > 0.0);
  CHECK(max_abs_diff(train_pair, eval_pair) > 1e-3);
  // Batch statistics: a sample's feature depends on its batch.
  CHECK(max_abs_diff(train_pair.slice(0, 0, 1), net.features(x0, x0, x0)) > 1e-3);
}
