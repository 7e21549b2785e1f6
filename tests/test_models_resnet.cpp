// ResNetCaffe-34 and ResNet34DLAS A/B/C: parameter counts against REFERENCE.md §1.7 (counted with torch on
// the original classes), state_dict keys as in §1.3 / §2.1, spatial sizes, initialisation (§1.8), train vs
// eval mode, and gradients (finite differences in f64 on tiny widths). The PyTorch reference-state test
// lives elsewhere.
#include <doctest/doctest.h>

#include <cmath>

#include "libnn/autograd/grad_mode.h"
#include "libnn/nn/init.h"
#include "libnn/ops/arith.h"
#include "models/resnet_caffe.h"
#include "tests/support/gradcheck.h"

using namespace models;
using nn::DType;
using nn::Shape;

namespace {

std::shared_ptr<DlasNet> make_net(DlasVariant v, const ResNetCaffeConfig& cfg = {}, std::uint64_t seed = 7) {
  static nn::Generator gen;  // the family draws from it during construction only
  gen.set_state(seed, 0);
  return std::make_shared<DlasNet>(resnet_caffe_family(cfg, gen), v);
}

// Full widths / 8 with one block per stage: fast, every structural feature kept.
ResNetCaffeConfig reduced() { return {.widths = {4, 8, 16, 32, 64}, .blocks = {1, 1, 1, 1}}; }

Tensor input(const Shape& shape, std::uint64_t seed, DType dtype = DType::f32) {
  nn::Generator g(seed);
  return Tensor::normal(shape, 0.0, 1.0, g, dtype);
}

struct Moments {
  double mean, stddev, max_abs;
};
Moments moments(const Tensor& t) {
  const auto v = t.to_vector();
  double s = 0, s2 = 0, m = 0;
  for (double x : v) s += x, s2 += x * x, m = std::max(m, std::abs(x));
  const double n = static_cast<double>(v.size()), mean = s / n;
  return {mean, std::sqrt(s2 / n - mean * mean), m};
}

}  // namespace

TEST_CASE("models_resnet/basic_block_and_stage_counts") {
  BasicBlock block(64);
  CHECK(block.num_parameters() == 74'112);
  const auto names = block.state_dict();
  REQUIRE(names.size() == 14);  // conv1, bn1 (5), relu1, conv2, bn2 (5), relu2
  CHECK(names[0].first == "conv1.weight");
  CHECK(names[13].first == "relu2.weight");

  ResNetCaffeStream stream(ResNetCaffeConfig{}, false);
  CHECK(stream.num_parameters() == 6'960'768);
  CHECK(stream.conv1->num_parameters() == 864);
  CHECK(stream.bn1->num_parameters() == 64);
  CHECK(stream.relu->num_parameters() == 32);
  CHECK(stream.layer1->num_parameters() == 92'736);
  CHECK(stream.layer2->num_parameters() == 665'472);
  CHECK(stream.layer3->num_parameters() == 6'201'600);
  CHECK(stream.layer1->size() == 5);
  CHECK(stream.layer2->size() == 6);
  CHECK(stream.layer3->size() == 9);
}

TEST_CASE("models_resnet/dlas_full_size_parameter_counts") {
  const auto a = make_net(DlasVariant::A);
  CHECK(a->type_name() == "ResNet34DLAS_A");
  CHECK(a->feature_dim() == 512);
  CHECK(a->num_parameters() == 61'059'520);
  CHECK(a->rgb_backbone->num_parameters() == 6'960'768);
  CHECK(a->depth_backbone->num_parameters() == 6'960'768);
  CHECK(a->ir_backbone->num_parameters() == 6'960'768);
  CHECK(a->layer4->num_parameters() == 17'705'472);
  CHECK(a->agg_layer1->num_parameters() == 677'824);
  CHECK(a->agg_layer2->num_parameters() == 6'250'880);
  CHECK(a->agg_layer3->num_parameters() == 15'543'040);
  CHECK(a->agg_layer1->conv1->num_parameters() == 12'352);
  CHECK(a->agg_layer2->conv1->num_parameters() == 49'280);
  CHECK(a->agg_layer3->conv1->num_parameters() == 196'864);

  const auto b = make_net(DlasVariant::B);
  CHECK(b->num_parameters() == 61'495'088);
  CHECK(b->rgb_backbone->num_parameters() == 7'004'336);
  CHECK(b->ch_att4->num_parameters() == 131'712);

  const auto c = make_net(DlasVariant::C);
  CHECK(c->num_parameters() == 61'190'848);
  CHECK(c->feature_dim() == 128);
  CHECK(c->main_bottleneck->num_parameters() == 65'664);
  CHECK(c->agg_bottleneck->num_parameters() == 65'664);
}

TEST_CASE("models_resnet/state_dict_keys") {
  const auto a = make_net(DlasVariant::A);
  // Per stream 140 entries: conv1 1 + bn1 5 + relu 1 + stages of 7 + 14 per block (1, 2, 5 blocks);
  // layer4 49; agg blocks 2 (fusion conv) + 35, 77, 49.
  CHECK(a->state_dict().size() == 3 * 140 + 49 + 37 + 79 + 51);
  const std::vector<std::pair<std::string, Shape>> shapes{
      {"rgb_backbone.conv1.weight", {32, 3, 3, 3}},
      {"rgb_backbone.bn1.running_var", {32}},
      {"rgb_backbone.relu.weight", {32}},
      {"rgb_backbone.layer1.0.weight", {64, 32, 3, 3}},
      {"depth_backbone.layer1.1.bias", {64}},
      {"ir_backbone.layer1.2.weight", {64}},
      {"rgb_backbone.layer1.4.conv1.weight", {64, 64, 3, 3}},
      {"rgb_backbone.layer1.4.relu2.weight", {64}},
      {"rgb_backbone.layer2.5.bn2.running_mean", {128}},
      {"ir_backbone.layer3.8.conv2.weight", {256, 256, 3, 3}},
      {"layer4.0.weight", {512, 768, 3, 3}},
      {"layer4.6.relu1.weight", {512}},
      {"agg_layer1.conv1.weight", {64, 192, 1, 1}},
      {"agg_layer1.conv1.bias", {64}},
      {"agg_layer1.agg_layer.0.weight", {128, 64, 3, 3}},
      {"agg_layer1.agg_layer.5.conv1.weight", {128, 128, 3, 3}},
      {"agg_layer2.agg_layer.8.bn1.weight", {256}},
      {"agg_layer3.conv1.weight", {256, 768, 1, 1}},
      {"agg_layer3.agg_layer.0.weight", {512, 256, 3, 3}},
      {"agg_layer3.agg_layer.6.conv2.weight", {512, 512, 3, 3}},
  };
  for (const auto& [key, shape] : shapes) {
    INFO(key);
    CHECK(a->tensor(key).shape() == shape);
  }
  for (const char* key : {"rgb_backbone.bn1.num_batches_tracked", "layer4.1.num_batches_tracked",
                          "agg_layer2.agg_layer.4.bn2.num_batches_tracked"}) {
    INFO(key);
    const Tensor t = a->tensor(key);
    CHECK(t.dtype() == DType::i64);
    CHECK(t.dim() == 0);
  }
  CHECK_THROWS(a->tensor("layer4.7.conv1.weight"));
  CHECK_THROWS(a->tensor("rgb_backbone.layer1.4.downsample.0.weight"));
  CHECK_THROWS(a->tensor("rgb_backbone.layer1.0.bias"));  // stage convs have no bias
  CHECK_THROWS(a->tensor("rgb_backbone.ch_att1.se_fc1.weight"));

  const auto b = make_net(DlasVariant::B);
  CHECK(b->tensor("rgb_backbone.ch_att1.se_fc1.weight").shape() == Shape{16, 64, 1, 1});
  CHECK(b->tensor("depth_backbone.ch_att3.se_fc2.bias").shape() == Shape{256});
  CHECK(b->tensor("ch_att4.se_fc1.weight").shape() == Shape{128, 512, 1, 1});
  CHECK(b->tensor("agg_layer1.ch_att.se_fc1.weight").shape() == Shape{32, 128, 1, 1});
  CHECK(b->tensor("agg_layer3.ch_att.se_fc2.weight").shape() == Shape{512, 128, 1, 1});

  const auto c = make_net(DlasVariant::C);
  CHECK(c->tensor("main_bottleneck.weight").shape() == Shape{128, 512, 1, 1});
  CHECK(c->tensor("agg_bottleneck.bias").shape() == Shape{128});
}

TEST_CASE("models_resnet/initialisation") {
  const auto a = make_net(DlasVariant::B, {}, 11);
  // Stream: every conv kaiming_normal(fan_out, relu): std sqrt(2 / (out * 9)).
  for (const auto& [key, fan_out] :
       std::vector<std::pair<std::string, double>>{{"rgb_backbone.conv1.weight", 32 * 9},
                                                   {"rgb_backbone.layer1.0.weight", 64 * 9},
                                                   {"depth_backbone.layer3.6.conv2.weight", 256 * 9},
                                                   {"ir_backbone.ch_att2.se_fc1.weight", 32}}) {
    INFO(key);
    const Moments m = moments(a->tensor(key));
    CHECK(std::abs(m.mean) < 0.1 * std::sqrt(2.0 / fan_out));
    CHECK(m.stddev == doctest::Approx(std::sqrt(2.0 / fan_out)).epsilon(0.1));
  }
  // ...and the attention biases keep torch's default U(+-1/sqrt(fan_in)).
  CHECK(moments(a->tensor("rgb_backbone.ch_att3.se_fc1.bias")).max_abs <= 1.0 / std::sqrt(256.0));

  // layer4 and agg stages: entry conv U(+-sqrt(3 / fan_in)), block convs N(0, 0.01).
  for (const auto& [key, fan_in] :
       std::vector<std::pair<std::string, double>>{{"layer4.0.weight", 768 * 9},
                                                   {"agg_layer1.agg_layer.0.weight", 64 * 9},
                                                   {"agg_layer3.agg_layer.0.weight", 256 * 9}}) {
    INFO(key);
    const double s = std::sqrt(3.0 / fan_in);
    const Moments m = moments(a->tensor(key));
    CHECK(m.max_abs <= s);
    CHECK(m.max_abs > 0.99 * s);
    CHECK(m.stddev == doctest::Approx(s / std::sqrt(3.0)).epsilon(0.02));
  }
  for (const char* key : {"layer4.4.conv1.weight", "layer4.6.conv2.weight", "agg_layer2.agg_layer.8.conv1.weight"}) {
    INFO(key);
    const Moments m = moments(a->tensor(key));
    CHECK(std::abs(m.mean) < 1e-3);
    CHECK(m.stddev == doctest::Approx(0.01).epsilon(0.02));
  }
  // Fusion convs: nn::Conv2d's default, U(+-1/sqrt(fan_in)) for weight and bias.
  CHECK(moments(a->tensor("agg_layer2.conv1.weight")).max_abs <= 1.0 / std::sqrt(384.0));
  CHECK(moments(a->tensor("agg_layer2.conv1.bias")).max_abs <= 1.0 / std::sqrt(384.0));
  // BN 1 / 0 with fresh running stats, PReLU 0.25.
  for (const char* key :
       {"rgb_backbone.bn1.weight", "layer4.1.weight", "agg_layer1.agg_layer.4.bn2.weight", "layer4.5.bn1.running_var"})
    CHECK(moments(a->tensor(key)).mean == 1.0);
  for (const char* key : {"rgb_backbone.layer2.1.bias", "layer4.4.bn2.running_mean"})
    CHECK(moments(a->tensor(key)).max_abs == 0.0);
  for (const char* key : {"rgb_backbone.relu.weight", "layer4.2.weight", "agg_layer3.agg_layer.5.relu2.weight"}) {
    const Moments m = moments(a->tensor(key));
    CHECK(m.mean == doctest::Approx(0.25));
    CHECK(m.stddev == doctest::Approx(0.0));
  }
}

TEST_CASE("models_resnet/initialisation_is_deterministic") {
  // The fusion convs draw from the default generator (nn::Conv2d's default), so seed it too.
  const auto build = [](std::uint64_t seed) {
    nn::manual_seed(seed);
    return make_net(DlasVariant::B, reduced(), seed);
  };
  const auto n1 = build(3), n2 = build(3), n3 = build(4);
  const auto s1 = n1->state_dict(), s2 = n2->state_dict(), s3 = n3->state_dict();
  REQUIRE(s1.size() == s2.size());
  for (std::size_t i = 0; i < s1.size(); ++i) {
    INFO(s1[i].first);
    CHECK(s1[i].second.to_vector() == s2[i].second.to_vector());
  }
  CHECK(n1->tensor("rgb_backbone.conv1.weight").to_vector() != n3->tensor("rgb_backbone.conv1.weight").to_vector());
  // The three streams are independent: different initial weights.
  CHECK(n1->tensor("rgb_backbone.conv1.weight").to_vector() != n1->tensor("ir_backbone.conv1.weight").to_vector());
}

TEST_CASE("models_resnet/shapes_at_112") {
  const auto cfg = reduced();
  ResNetCaffeStream stream(cfg, false);
  const Tensor x = input({2, 3, 112, 112}, 1);
  const auto l = stream.levels(x);
  CHECK(l.l1.shape() == Shape{2, 8, 54, 54});
  CHECK(l.l2.shape() == Shape{2, 16, 26, 26});
  CHECK(l.l3.shape() == Shape{2, 32, 12, 12});
  CHECK(stream.forward(x).shape() == Shape{2, 32, 12, 12});
  CHECK((*stream.layer1)[0].forward(stream.relu->forward(stream.bn1->forward(stream.conv1->forward(x)))).shape() ==
        Shape{2, 8, 108, 108});

  const Tensor d = input({2, 3, 112, 112}, 2), ir = input({2, 3, 112, 112}, 3);
  for (auto v : {DlasVariant::A, DlasVariant::B}) {
    const auto net = make_net(v, cfg);
    CHECK(net->layer4->forward(input({2, 96, 12, 12}, 4)).shape() == Shape{2, 64, 5, 5});
    CHECK(net->features(x, d, ir).shape() == Shape{2, 64});
  }
  // DLAS-C's bottlenecks are out_channels -> 128 (512 -> 128 at full size), whatever the widths.
  const auto c = make_net(DlasVariant::C, cfg);
  CHECK(c->feature_dim() == 128);
  CHECK(c->features(x, d, ir).shape() == Shape{2, 128});
  // 48x48 is the smallest input (layer4 and agg_layer3 end at 1x1); 47 fails with a clear error.
  const Tensor s48 = input({2, 3, 48, 48}, 5), s47 = input({2, 3, 47, 47}, 5);
  CHECK(c->features(s48, s48, s48).shape() == Shape{2, 128});
  CHECK_THROWS(c->features(s47, s47, s47));
}

TEST_CASE("models_resnet/train_and_eval_modes") {
  const auto net = make_net(DlasVariant::A, reduced());
  const Tensor x = input({2, 3, 64, 64}, 1), d = input({2, 3, 64, 64}, 2), ir = input({2, 3, 64, 64}, 3);
  nn::NoGradGuard no_grad;

  net->eval();
  const auto e1 = net->features(x, d, ir).to_vector();
  const auto e2 = net->features(x, d, ir).to_vector();
  CHECK(e1 == e2);
  CHECK(net->tensor("layer4.1.num_batches_tracked").item() == 0);
  CHECK(moments(net->tensor("layer4.1.running_mean")).max_abs == 0.0);
  // Eval mode is per-sample: the first sample alone gives the first row.
  const auto first = net->features(x.slice(0, 0, 1), d.slice(0, 0, 1), ir.slice(0, 0, 1)).to_vector();
  for (std::size_t i = 0; i < first.size(); ++i) CHECK(first[i] == doctest::Approx(e1[i]).epsilon(1e-4));

  net->train();
  const auto t1 = net->features(x, d, ir).to_vector();
  CHECK(net->tensor("layer4.1.num_batches_tracked").item() == 1);
  CHECK(net->tensor("rgb_backbone.layer3.4.bn2.num_batches_tracked").item() == 1);
  CHECK(moments(net->tensor("layer4.1.running_mean")).max_abs > 0.0);
  double diff = 0;
  for (std::size_t i = 0; i < t1.size(); ++i) diff = std::max(diff, std::abs(t1[i] - e1[i]));
  CHECK(diff > 1e-3);
}

TEST_CASE("models_resnet/every_parameter_gets_a_gradient") {
  // Twice the reduced widths: with 2 hidden units, ch_att1's se_fc1 can be all dead (zero gradient).
  for (auto v : {DlasVariant::A, DlasVariant::B, DlasVariant::C}) {
    const auto net = make_net(v, {.widths = {8, 16, 32, 64, 64}, .blocks = {1, 1, 1, 1}});
    net->train();
    const Tensor x = input({2, 3, 48, 48}, 1), d = input({2, 3, 48, 48}, 2), ir = input({2, 3, 48, 48}, 3);
    const Tensor y = net->features(x, d, ir);
    y.backward(input(y.shape(), 9));
    for (const auto& [name, p] : net->named_parameters()) {
      INFO(name);
      REQUIRE(p.grad().defined());
      CHECK(moments(p.grad()).max_abs > 0.0);
    }
  }
}

TEST_CASE("models_resnet/gradcheck") {
  using nn::testing::gradcheck;
  using nn::testing::randn_leaf;
  nn::testing::GradcheckOptions opt;
  opt.kink_filter = true;
  opt.atol = 1e-6;
  opt.rtol = 1e-4;

  {  // BasicBlock, training mode: input and every parameter.
    BasicBlock block(3);
    block.to(DType::f64);
    // Larger weights than the N(0, 0.01) init, so the residual branch matters; PReLU slopes of both signs.
    nn::init::normal_(block.conv1->weight, 0.0, 0.3);
    nn::init::normal_(block.conv2->weight, 0.0, 0.3);
    nn::init::uniform_(block.relu1->weight, -0.5, 0.5);
    nn::init::uniform_(block.relu2->weight, -0.5, 0.5);
    std::vector<Tensor> in{randn_leaf({2, 3, 5, 5}, 1)};
    for (auto& p : block.parameters()) in.push_back(p);
    const auto r = gradcheck(
        "basic_block", [&](const auto& t) { return block.forward(t[0]); }, in, opt);
    CHECK(r.skipped_kinks * 10 < r.checked);  // measured: 330 checked, none skipped
  }
  {  // A caffe stage with one block.
    auto stage = caffe_stage(2, 3, 1);
    stage->to(DType::f64);
    std::vector<Tensor> in{randn_leaf({2, 2, 8, 8}, 2)};
    for (auto& p : stage->parameters()) in.push_back(p);
    const auto r = gradcheck(
        "caffe_stage", [&](const auto& t) { return stage->forward(t[0]); }, in, opt);
    CHECK(r.skipped_kinks * 10 < r.checked);  // measured: 499 checked, none skipped
  }
  {  // The whole DLAS-B net at widths 4, one block per stage, 48x48, in eval mode after one training
     // forward (so BN uses non-trivial running statistics and the function is smooth in every parameter).
     // Small tensors from every part keep the number of forwards down.
    const auto net = make_net(DlasVariant::B, {.widths = {4, 4, 4, 4, 4}, .blocks = {1, 1, 1, 1}});
    net->to(DType::f64);
    const Tensor x = input({2, 3, 48, 48}, 1, DType::f64), d = input({2, 3, 48, 48}, 2, DType::f64),
                 ir = input({2, 3, 48, 48}, 3, DType::f64);
    {
      nn::NoGradGuard no_grad;
      net->features(x, d, ir);
    }
    net->eval();
    std::vector<Tensor> in;
    for (const char* key :
         {"rgb_backbone.conv1.weight", "depth_backbone.relu.weight", "ir_backbone.layer3.1.bias",
          "rgb_backbone.layer1.4.relu2.weight", "rgb_backbone.ch_att3.se_fc1.bias", "layer4.1.weight",
          "layer4.4.relu1.weight", "ch_att4.se_fc2.weight", "agg_layer1.conv1.bias", "agg_layer2.conv1.weight",
          "agg_layer3.agg_layer.4.bn2.bias", "agg_layer2.ch_att.se_fc1.weight"})
      in.push_back(net->tensor(key));
    const auto r = gradcheck(
        "dlas_b", [&](const auto&) { return net->features(x, d, ir); }, in, opt);
    CHECK(r.skipped_kinks * 10 < r.checked);  // measured: 193 checked, none skipped, max error ~1e-9
  }
}
