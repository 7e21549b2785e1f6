// Key maps (REFERENCE.md §2) on real checkpoints: tests/reference/make_keymaps.py saves single-stream
// "pretrained" nets with the original projects' key names as .pth files (legacy and zip formats), loads
// them into the DLAS net by a transcription of the §2 tables in PyTorch, and stores the eval logits. Here
// the .pth goes through our reader and key map into the registered *_tiny model; what the map leaves to init
// (fusion convs, classifier) is set from the reference, and the logits must agree.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "infer/weights.h"
#include "libnn/autograd/grad_mode.h"
#include "models/registry.h"
#include "tests/support/reference.h"
#include "weights_import/key_maps.h"
#include "weights_import/load_weights.h"

using namespace nn;
using namespace weights_import;
using nn::testing::check_close;
using nn::testing::reference_tensor;

namespace {

const std::string kCheckpoints = std::string(NN_REFERENCE_DIR) + "/checkpoints/";

struct Case {
  const char* name;       // case in keymaps.safetensors
  const char* file;       // in checkpoints/
  const char* map;
  const char* model;
};
constexpr Case kCases[] = {
    {"evolve_ir50", "keymap_evolve_ir50.pth", "evolve_ir", "ir50_dlas_a_tiny"},
    {"evolve_ir_se50", "keymap_evolve_ir_se50.pth", "evolve_ir", "ir_se50_dlas_a_tiny"},
    {"resnet_caffe", "keymap_resnet_caffe.pth", "resnet_caffe", "resnet34_dlas_a_tiny"},
};

}  // namespace

TEST_CASE("keymaps/reference logits") {
  for (const Case& c : kCases) {
    CAPTURE(c.name);
    auto net = models::build_model(c.model);
    const StateDict source = load_weights(kCheckpoints + c.file);
    const MappedWeights mapped = map_weights(find_key_map(c.map), source, net->state_dict(), true, c.file);
    INFO(mapped.report.describe());
    CHECK(mapped.report.clean());
    CHECK(mapped.report.left_to_init.size() >= 8);  // 3 fusion convs (weight, bias) + the classifier

    StateDict init;
    for (const auto& key : mapped.report.left_to_init) {
      if (key.ends_with("num_batches_tracked")) continue;
      init.emplace_back(key, reference_tensor("keymaps", c.name, "init." + key));
    }
    net->load_state_dict(mapped.tensors, false);
    net->load_state_dict(init, false);
    net->train(false);
    NoGradGuard no_grad;
    const Tensor logits = net->logits(reference_tensor("keymaps", c.name, "rgb"),
                                      reference_tensor("keymaps", c.name, "depth"),
                                      reference_tensor("keymaps", c.name, "ir"));
    check_close(logits, reference_tensor("keymaps", c.name, "logits"), 1e-4, "logits", 1e-3);
  }
}

TEST_CASE("keymaps/evolve: stage boundaries, 3x layer4 inputs, ignored output layer") {
  const StateDict source = load_weights(kCheckpoints + "keymap_evolve_ir50.pth");
  auto net = models::build_model("ir50_dlas_a_tiny");
  const MappedWeights m = map_weights(find_key_map("evolve_ir"), source, net->state_dict(), true, "evolve");
  // body.0 = stage 1, body.1 = stage 2, body.2-3 = stage 3, body.4 = stage 4 (units 1, 1, 2, 1).
  const Tensor l3_1 = find_entry(m.tensors, "ir_backbone.layer3.1.res_layer.1.weight");
  CHECK(l3_1.to_vector() == find_entry(source, "body.3.res_layer.1.weight").to_vector());
  const Tensor agg2 = find_entry(m.tensors, "agg_layer2.agg_layer.0.res_layer.1.weight");
  CHECK(agg2.to_vector() == find_entry(source, "body.2.res_layer.1.weight").to_vector());
  const Tensor src = find_entry(source, "body.4.res_layer.1.weight");
  const Tensor l4 = find_entry(m.tensors, "layer4.0.res_layer.1.weight");
  REQUIRE(l4.size(1) == 3 * src.size(1));
  for (int k = 0; k < 3; ++k)
    CHECK(l4.slice(1, k * src.size(1), (k + 1) * src.size(1)).contiguous().to_vector() == src.to_vector());
  const Tensor bn = find_entry(m.tensors, "layer4.0.res_layer.0.running_var");
  CHECK(bn.size(0) == 3 * find_entry(source, "body.4.res_layer.0.running_var").size(0));
  CHECK(m.report.ignored.size() == 12);  // output_layer: BN2d and BN1d (5 entries each), Linear (2)
}

TEST_CASE("keymaps/ablation: a single-stream net takes one copy and layer4 un-tiled") {
  const StateDict source = load_weights(kCheckpoints + "keymap_resnet_caffe.pth");
  auto net = models::build_model("resnet34_dlas_a_tiny_depth");
  const MappedWeights m = map_weights(find_key_map("resnet_caffe"), source, net->state_dict(), true, "rc");
  CHECK(m.report.clean());
  CHECK(!find_entry(m.tensors, "rgb_backbone.conv1.weight").defined());
  CHECK(find_entry(m.tensors, "depth_backbone.conv1.weight").defined());
  CHECK(find_entry(m.tensors, "layer4.0.weight").shape() == find_entry(source, "layer4.0.weight").shape());
}

TEST_CASE("keymaps/strict mode names every problem") {
  StateDict source = load_weights(kCheckpoints + "keymap_resnet_caffe.pth");
  auto net = models::build_model("resnet34_dlas_a_tiny");
  source.emplace_back("extra.weight", Tensor::zeros({3}));
  std::erase_if(source, [](const auto& kv) { return kv.first == "layer1.0.weight"; });
  CHECK_THROWS_WITH(map_weights(find_key_map("resnet_caffe"), source, net->state_dict(), true, "x.pth"),
                    doctest::Contains("unused source key: extra.weight"));
  const MappedWeights loose = map_weights(find_key_map("resnet_caffe"), source, net->state_dict(), false, "x.pth");
  CHECK(loose.report.unused == std::vector<std::string>{"extra.weight"});
  CHECK(loose.report.missing.size() == 3);  // layer1.0.weight of each stream
  CHECK_THROWS_WITH(find_key_map("nope"), doctest::Contains("known maps: identity"));
}

TEST_CASE("keymaps/identity map round-trips our own nets") {
  auto net = models::build_model("ir50_dlas_a_tiny");
  const StateDict own = net->state_dict();
  const MappedWeights m = map_weights(find_key_map("identity"), own, own, true, "own");
  CHECK(m.report.clean());
  CHECK(m.tensors.size() == own.size());
  auto other = models::build_model("resnet34_dlas_a_tiny");
  CHECK_THROWS_WITH(map_weights(find_key_map("identity"), own, other->state_dict(), true, "own"),
                    doctest::Contains("unexpected"));
}

TEST_CASE("keymaps/evolve: full-depth IR-50 layout (3, 4, 14, 3 units) maps onto ir50_dlas_a_w4 strictly") {
  // A face.evoLVe-layout source made from the model itself: the stream's input_layer and stages 1-3 and
  // agg_layer3's stage 4 (stage-4 structure on one stream's channels) as the flat body.0 ... body.23.
  auto net = models::build_model("ir50_dlas_a_w4");
  const StateDict own = net->state_dict();
  StateDict source;
  int unit = 0;
  auto add_stage = [&](const std::string& prefix) {
    for (int i = 0;; ++i, ++unit) {
      const StateDict u = strip_prefix(own, prefix + std::to_string(i) + ".");
      if (u.empty()) return;
      for (const auto& [k, t] : u) source.emplace_back("body." + std::to_string(unit) + "." + k, t);
    }
  };
  for (const auto& [k, t] : strip_prefix(own, "rgb_backbone.input_layer."))
    source.emplace_back("input_layer." + k, t);
  for (const char* stage : {"rgb_backbone.layer1.", "rgb_backbone.layer2.", "rgb_backbone.layer3.",
                            "agg_layer3.agg_layer."})
    add_stage(stage);
  REQUIRE(unit == 24);
  const MappedWeights m = map_weights(find_key_map("evolve_ir"), source, own, true, "ir50 layout");
  CHECK(m.report.clean());
  // Only unit 0 of layer4 reads the 3 streams; units 1 and 2 keep the pretrained shapes.
  CHECK(find_entry(m.tensors, "layer4.1.res_layer.0.weight").shape() == find_entry(source, "body.22.res_layer.0.weight").shape());
}

TEST_CASE("keymaps/import writes the model's full state; inspect and load_weights_into read it back") {
  const std::string out = "/tmp/hardtune_test_import_" + std::to_string(::getpid()) + ".safetensors";
  std::ostringstream log;
  infer::run_import({.from = "pth", .map = "evolve_ir", .model = "ir50_dlas_a_tiny",
                     .in = kCheckpoints + "keymap_evolve_ir50.pth", .out = out, .strict = true},
                    log);
  CHECK(log.str().find("299 tensors mapped") != std::string::npos);
  const io::Safetensors written = io::load_safetensors(out);
  CHECK(written.metadata.at("key_map") == "evolve_ir");
  CHECK(written.metadata.at("source_format") == "pth (legacy)");

  auto net = models::build_model("ir50_dlas_a_tiny");
  CHECK(written.tensors.size() == net->state_dict().size());
  const MapReport r = infer::load_weights_into(*net, out);  // identity, strict
  CHECK(r.mapped == written.tensors.size());
  CHECK(find_entry(net->state_dict(), "ir_backbone.input_layer.0.weight").to_vector() ==
        find_entry(load_weights(kCheckpoints + "keymap_evolve_ir50.pth"), "input_layer.0.weight").to_vector());

  std::ostringstream listing;
  infer::run_inspect(out, listing);
  CHECK(listing.str().find("metadata model = ir50_dlas_a_tiny") != std::string::npos);
  CHECK(listing.str().find("layer4.0.res_layer.1.weight") != std::string::npos);
  std::filesystem::remove(out);

  CHECK_THROWS_WITH(infer::run_import({.from = "tfjs", .map = "evolve_ir", .model = "ir50_dlas_a_tiny",
                                       .in = kCheckpoints + "keymap_evolve_ir50.pth", .out = out, .strict = false},
                                      log),
                    doctest::Contains("is a pth (legacy) file, not tfjs"));
  CHECK(!std::filesystem::exists(out));
}
