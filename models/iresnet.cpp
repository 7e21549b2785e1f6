// The IR stream (ir_se_dlas.Backbone without its output_layer) and the IR family for the DLAS topology.
// Initialisation follows the reference (REFERENCE.md §1.8): a Backbone re-initialises its own modules
// (every Conv2d xavier_uniform with zero bias, every BatchNorm 1/0), while layer4 and the agg_layers are
// bare stages and keep PyTorch's defaults.
#include "models/iresnet.h"

#include <numeric>

#include "libnn/nn/init.h"
#include "models/blocks/bottleneck_ir.h"

namespace models {

namespace {

class IRStream : public Stream {
 public:
  explicit IRStream(const IRConfig& c) : Stream(c.se ? "Backbone_IR_SE" : "Backbone_IR") {
    const auto& w = c.widths;
    input_layer = register_module("input_layer", std::make_shared<nn::Sequential>());
    input_layer->push_back(
        std::make_shared<nn::Conv2d>(3, w[0], nn::Conv2d::Options{.kernel = 3, .padding = 1, .bias = false}));
    input_layer->push_back(std::make_shared<nn::BatchNorm2d>(w[0]));
    input_layer->push_back(std::make_shared<nn::PReLU>(w[0]));
    layer1 = register_module("layer1", make_ir_stage(w[0], w[1], c.units[0], c.se, c.se_reduction));
    layer2 = register_module("layer2", make_ir_stage(w[1], w[2], c.units[1], c.se, c.se_reduction));
    layer3 = register_module("layer3", make_ir_stage(w[2], w[3], c.units[2], c.se, c.se_reduction));
    initialize_weights();
  }

  // (N, 3, H, W) -> L1 (N, w1, H/2, W/2), L2 (N, w2, H/4, W/4), L3 (N, w3, H/8, W/8) (ceil at each step).
  Levels levels(const Tensor& x) override {
    Levels out;
    out.l1 = layer1->forward(input_layer->forward(x));
    out.l2 = layer2->forward(out.l1);
    out.l3 = layer3->forward(out.l2);
    return out;
  }
  Tensor forward(const Tensor& x) override { return levels(x).l3; }

  std::shared_ptr<nn::Sequential> input_layer, layer1, layer2, layer3;

 private:
  // face.evoLVe's Backbone._initialize_weights, applied to every module of the stream (SE convs included).
  void initialize_weights() {
    for (const auto& [name, m] : named_modules()) {
      if (auto* conv = dynamic_cast<nn::Conv2d*>(m)) {
        nn::init::xavier_uniform_(conv->weight);
        if (conv->bias.defined()) nn::init::constant_(conv->bias, 0.0);
      } else if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(m)) {
        nn::init::constant_(bn->weight, 1.0);
        nn::init::constant_(bn->bias, 0.0);
      }
    }
  }
};

// face.evoLVe's names: IR_50 {3,4,14,3}, IR_100 {3,13,30,3}, IR_152 {3,8,36,3} (by convention, not by
// layer count); anything else is named by its weighted layers, 2 per unit plus input and output.
std::string family_name(const IRConfig& c) {
  const std::array<int, 4>& u = c.units;
  int depth = 2 * std::accumulate(u.begin(), u.end(), 0) + 2;
  if (u == std::array<int, 4>{3, 4, 14, 3}) depth = 50;
  if (u == std::array<int, 4>{3, 13, 30, 3}) depth = 100;
  if (u == std::array<int, 4>{3, 8, 36, 3}) depth = 152;
  return std::string(c.se ? "IR_SE_" : "IR_") + std::to_string(depth) + "DLAS";
}

}  // namespace

DlasFamily ir_family(const IRConfig& config) {
  for (int u : config.units) NN_CHECK(u > 0, "ir_family: every stage needs at least one unit");
  DlasFamily f;
  f.name = family_name(config);
  f.level_channels = {config.widths[1], config.widths[2], config.widths[3]};
  f.out_channels = config.widths[4];
  f.make_stream = [config, name = f.name](bool with_attention) -> std::shared_ptr<Stream> {
    NN_CHECK(!with_attention, name, ": DLAS-B (in-line channel attention) is defined only for the ResNetCaffe ",
             "family (REFERENCE.md §1.5); the IR family has DLAS-A only");
    return std::make_shared<IRStream>(config);
  };
  f.make_stage = [config](int stage, index_t in_channels) -> std::shared_ptr<nn::Module> {
    NN_CHECK(stage >= 1 && stage <= 4, "ir_family: no stage ", stage);
    return make_ir_stage(in_channels, config.widths[static_cast<std::size_t>(stage)],
                         config.units[static_cast<std::size_t>(stage - 1)], config.se, config.se_reduction);
  };
  return f;
}

}  // namespace models
