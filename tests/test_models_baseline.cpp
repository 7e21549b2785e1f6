// The CASIA-SURF baseline and its single-modality ablation (models/baseline.h): keys, output shapes at
// 112x112 (reduced width), backward reaching every parameter, the hand-derived parameter count of the
// full-size net, and the spatial-attention block.
#include <doctest/doctest.h>

#include <algorithm>

#include "libnn/core/rng.h"
#include "libnn/ops/arith.h"
#include "libnn/ops/loss.h"
#include "models/baseline.h"
#include "models/blocks/spatial_attention.h"
#include "models/heads.h"
#include "tests/support/gradcheck.h"

using namespace nn;
using models::BaselineOptions;
using models::CasiaSurfBaseline;
using models::Modality;
using models::SingleModalityNet;

namespace {

bool has_key(const Module& m, const std::string& key) {
  const auto sd = m.state_dict();
  return std::any_of(sd.begin(), sd.end(), [&](const auto& kv) { return kv.first == key; });
}

Tensor image(index_t n, index_t size, std::uint64_t seed) {
  Generator gen(seed);
  return Tensor::normal({n, 3, size, size}, 0, 1, gen);
}

// Every trainable parameter received a gradient with at least one non-zero element.
void check_all_parameters_reached(const Module& net) {
  int checked = 0;
  for (const auto& [name, p] : net.named_parameters()) {
    if (!p.requires_grad()) continue;
    CAPTURE(name);
    REQUIRE(p.grad().defined());
    const auto g = p.grad().to_vector();
    CHECK(std::any_of(g.begin(), g.end(), [](double v) { return v != 0.0; }));
    ++checked;
  }
  CHECK(checked > 0);
}

}  // namespace

TEST_CASE("baseline/keys") {
  CasiaSurfBaseline net(BaselineOptions{.width = 8});
  for (const char* key :
       {"rgb_backbone.conv1.weight", "rgb_backbone.bn1.running_var", "rgb_backbone.layer1.0.conv1.weight",
        "depth_backbone.layer1.1.bn2.bias", "ir_backbone.layer2.0.downsample.0.weight",
        "ir_backbone.layer3.0.downsample.1.running_mean", "rgb_se.fc1.weight", "depth_se.fc2.weight",
        "ir_se.fc1.weight", "layer4.0.conv1.weight", "layer4.0.downsample.0.weight", "layer4.1.bn2.weight"}) {
    CAPTURE(key);
    CHECK(has_key(net, key));
  }
  CHECK_FALSE(has_key(net, "rgb_backbone.layer1.0.downsample.0.weight"));     // same width, stride 1: identity
  CHECK(net.tensor("layer4.0.conv1.weight").shape() == Shape{64, 96, 3, 3});  // 8w <- 12w
  CHECK(net.tensor("rgb_backbone.conv1.weight").shape() == Shape{8, 3, 7, 7});
}

TEST_CASE("baseline/forward_backward") {
  CasiaSurfBaseline net(BaselineOptions{.width = 8, .se_reduction = 4});
  net.set_head(models::make_head("linear", net.feature_dim(), 2));
  const Tensor rgb = image(2, 112, 1), depth = image(2, 112, 2), ir = image(2, 112, 3);
  const Tensor f = net.features(rgb, depth, ir);
  CHECK(f.shape() == Shape{2, 64});
  const Tensor logits = net.logits(rgb, depth, ir);
  CHECK(logits.shape() == Shape{2, 2});
  ops::cross_entropy(logits, Tensor::from_labels(std::vector<std::int64_t>{1, 0})).backward();
  check_all_parameters_reached(net);
  CHECK_THROWS_WITH_AS(net.features(rgb, Tensor(), ir),
                       doctest::Contains("CasiaSurfBaseline: depth must be (N, 3, H, W), got an undefined tensor"),
                       Error);
}

TEST_CASE("baseline/single_modality") {
  for (Modality m : {Modality::rgb, Modality::depth, Modality::ir}) {
    const std::string name = models::modality_name(m);
    CAPTURE(name);
    CHECK(models::parse_modality(name) == m);
    SingleModalityNet net(m, BaselineOptions{.width = 8, .se_reduction = 4});
    net.set_head(models::make_head("linear", net.feature_dim(), 2));
    CHECK(has_key(net, name + "_backbone.layer3.1.conv2.weight"));
    CHECK(has_key(net, name + "_se.fc1.weight"));
    CHECK(net.tensor("layer4.0.conv1.weight").shape() == Shape{64, 32, 3, 3});
    const Tensor x = image(2, 112, 4);
    const Tensor rgb = m == Modality::rgb ? x : Tensor(), depth = m == Modality::depth ? x : Tensor(),
                 ir = m == Modality::ir ? x : Tensor();
    const Tensor logits = net.logits(rgb, depth, ir);  // the other two inputs are undefined
    CHECK(logits.shape() == Shape{2, 2});
    ops::cross_entropy(logits, Tensor::from_labels(std::vector<std::int64_t>{0, 1})).backward();
    check_all_parameters_reached(net);
    CHECK_THROWS_AS(net.features(Tensor(), Tensor(), Tensor()), Error);
  }
  CHECK_THROWS_WITH_AS(models::parse_modality("thermal"), doctest::Contains("unknown modality 'thermal'"), Error);
}

TEST_CASE("baseline/parameter_count") {
  // Full size (w = 64); the derivation is in the file-top comment of models/baseline.h.
  CasiaSurfBaseline net;
  MESSAGE("CasiaSurfBaseline parameters: ", net.num_parameters());
  CHECK(net.num_parameters() == 19'388'096);
  CHECK(net.rgb_backbone->num_parameters() == 2'782'784);
  CHECK(net.rgb_se->num_parameters() == 8'192);
  CHECK(net.layer4->num_parameters() == 11'015'168);
  net.set_head(models::make_head("linear", 512, 2, /*frozen=*/true));
  CHECK(net.num_parameters() == 19'389'122);
  CHECK(net.num_parameters(/*trainable_only=*/true) == 19'388'096);
  SingleModalityNet single(Modality::depth);
  MESSAGE("SingleModalityNet parameters: ", single.num_parameters());
  CHECK(single.num_parameters() == 11'184'704);
}

TEST_CASE("spatial_attention/module") {
  models::SpatialAttention att;
  CHECK(att.conv1->weight.shape() == Shape{1, 2, 7, 7});
  CHECK(att.conv1->bias.defined());  // the reference keeps nn.Conv2d's default bias
  models::SpatialAttention cbam(models::SpatialAttention::Options{.kernel = 7, .bias = false});
  CHECK_FALSE(cbam.conv1->bias.defined());
  CHECK_THROWS_WITH_AS(models::SpatialAttention(models::SpatialAttention::Options{.kernel = 4}),
                       doctest::Contains("SpatialAttention: kernel must be odd"), Error);

  models::SpatialAttention small(models::SpatialAttention::Options{.kernel = 3});
  small.to(DType::f64);
  std::vector<Tensor> inputs{testing::randn_leaf({2, 4, 5, 6}, 9)};
  for (const auto& p : small.parameters()) inputs.push_back(p);
  const Tensor y = small.forward(inputs[0]);
  CHECK(y.shape() == inputs[0].shape());
  testing::gradcheck("spatial_attention", [&](const auto& in) { return small.forward(in[0]); }, inputs,
                     {.kink_filter = true});
}
