#include "models/dlas.h"

#include "libnn/ops/activation.h"
#include "libnn/ops/arith.h"
#include "libnn/ops/pool.h"
#include "libnn/ops/tensor_ops.h"

namespace models {

AggBlock::AggBlock(index_t c, std::shared_ptr<nn::Module> stage, index_t out_channels, bool with_attention)
    : nn::Module("AggBlock") {
  // Registration order follows the reference class, so state_dict() lists keys in PyTorch's order.
  agg_layer = register_module("agg_layer", std::move(stage));
  if (with_attention) ch_att = register_module("ch_att", std::make_shared<ChannelAttention>(out_channels, out_channels / 4));
  conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(3 * c, c, nn::Conv2d::Options{.kernel = 1}));
}

Tensor AggBlock::forward(const Tensor& cat_levels, const Tensor& previous) {
  Tensor fused = nn::ops::relu(conv1->forward(cat_levels));
  if (previous.defined()) {
    NN_CHECK(previous.shape() == fused.shape(), "AggBlock: previous aggregate ", previous.shape(),
             " does not match the fused level ", fused.shape(), " (input size not supported by this net?)");
    fused = fused + previous;
  }
  Tensor out = agg_layer->forward(fused);
  return ch_att ? ch_att->forward(out) : out;
}

DlasNet::DlasNet(const DlasFamily& f, DlasVariant v)
    : MultiModalNet(f.name + (v == DlasVariant::A ? "_A" : v == DlasVariant::B ? "_B" : "_C"),
                    v == DlasVariant::C ? 128 : f.out_channels),
      variant(v) {
  // The reference registers the fusion parts first and the streams last; we follow it so state_dict()
  // lists keys in PyTorch's order (loading is by name either way).
  const bool att = v == DlasVariant::B;
  layer4 = register_module("layer4", f.make_stage(4, 3 * f.level_channels[2]));
  if (att) ch_att4 = register_module("ch_att4", std::make_shared<ChannelAttention>(f.out_channels, f.out_channels / 4));
  const auto [c1, c2, c3] = f.level_channels;
  agg_layer1 = register_module("agg_layer1", std::make_shared<AggBlock>(c1, f.make_stage(2, c1), c2, att));
  agg_layer2 = register_module("agg_layer2", std::make_shared<AggBlock>(c2, f.make_stage(3, c2), c3, att));
  agg_layer3 = register_module("agg_layer3", std::make_shared<AggBlock>(c3, f.make_stage(4, c3), f.out_channels, att));
  if (v == DlasVariant::C) {
    const nn::Conv2d::Options o{.kernel = 1};
    main_bottleneck = register_module("main_bottleneck", std::make_shared<nn::Conv2d>(f.out_channels, 128, o));
    agg_bottleneck = register_module("agg_bottleneck", std::make_shared<nn::Conv2d>(f.out_channels, 128, o));
  }
  rgb_backbone = register_module("rgb_backbone", f.make_stream(att));
  depth_backbone = register_module("depth_backbone", f.make_stream(att));
  ir_backbone = register_module("ir_backbone", f.make_stream(att));
}

Tensor DlasNet::features(const Tensor& rgb, const Tensor& depth, const Tensor& ir) {
  const auto r = rgb_backbone->levels(rgb), d = depth_backbone->levels(depth), i = ir_backbone->levels(ir);
  using nn::ops::cat;
  Tensor main = layer4->forward(cat({r.l3, d.l3, i.l3}, 1));
  if (ch_att4) main = ch_att4->forward(main);
  main = nn::ops::adaptive_avg_pool2d(main, 1);  // (N, 512, 1, 1)

  Tensor agg = agg_layer1->forward(cat({r.l1, d.l1, i.l1}, 1), {});
  agg = agg_layer2->forward(cat({r.l2, d.l2, i.l2}, 1), agg);
  agg = agg_layer3->forward(cat({r.l3, d.l3, i.l3}, 1), agg);
  agg = nn::ops::adaptive_avg_pool2d(agg, 1);

  if (variant == DlasVariant::C) {
    main = main_bottleneck->forward(main);
    agg = agg_bottleneck->forward(agg);
  }
  return (main + agg).flatten(1);
}

}  // namespace models
