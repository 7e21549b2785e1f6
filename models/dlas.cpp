#include "models/dlas.h"

#include <algorithm>

#include "libnn/ops/activation.h"
#include "libnn/ops/arith.h"
#include "libnn/ops/pool.h"
#include "libnn/ops/tensor_ops.h"

namespace models {

AggBlock::AggBlock(index_t c, std::shared_ptr<nn::Module> stage, index_t out_channels, bool with_attention,
                   index_t streams)
    : nn::Module("AggBlock") {
  // Registration order follows the reference class, so state_dict() lists keys in PyTorch's order.
  agg_layer = register_module("agg_layer", std::move(stage));
  if (with_attention) ch_att = register_module("ch_att", std::make_shared<ChannelAttention>(out_channels, out_channels / 4));
  conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(streams * c, c, nn::Conv2d::Options{.kernel = 1}));
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

namespace {
std::string variant_suffix(DlasVariant v) { return v == DlasVariant::A ? "_A" : v == DlasVariant::B ? "_B" : "_C"; }

std::string net_name(const DlasFamily& f, DlasVariant v, const std::vector<Modality>& modalities) {
  std::string name = f.name + variant_suffix(v);
  if (modalities.size() < 3)
    for (Modality m : modalities) name += std::string("_") + modality_name(m);
  return name;
}
}  // namespace

DlasNet::DlasNet(const DlasFamily& f, DlasVariant v, std::vector<Modality> mods)
    : MultiModalNet(net_name(f, v, mods), v == DlasVariant::C ? 128 : f.out_channels), variant(v), modalities(mods) {
  NN_CHECK(!modalities.empty() && modalities.size() <= 3, "DlasNet: needs 1 to 3 modalities");
  std::sort(modalities.begin(), modalities.end());
  NN_CHECK(std::adjacent_find(modalities.begin(), modalities.end()) == modalities.end(), "DlasNet: modality repeated");
  const index_t streams = static_cast<index_t>(modalities.size());
  // The reference registers the fusion parts first and the streams last; we follow it so state_dict()
  // lists keys in PyTorch's order (loading is by name either way).
  const bool att = v == DlasVariant::B;
  layer4 = register_module("layer4", f.make_stage(4, streams * f.level_channels[2]));
  if (att) ch_att4 = register_module("ch_att4", std::make_shared<ChannelAttention>(f.out_channels, f.out_channels / 4));
  const auto [c1, c2, c3] = f.level_channels;
  agg_layer1 = register_module("agg_layer1", std::make_shared<AggBlock>(c1, f.make_stage(2, c1), c2, att, streams));
  agg_layer2 = register_module("agg_layer2", std::make_shared<AggBlock>(c2, f.make_stage(3, c2), c3, att, streams));
  agg_layer3 =
      register_module("agg_layer3", std::make_shared<AggBlock>(c3, f.make_stage(4, c3), f.out_channels, att, streams));
  if (v == DlasVariant::C) {
    const nn::Conv2d::Options o{.kernel = 1};
    main_bottleneck = register_module("main_bottleneck", std::make_shared<nn::Conv2d>(f.out_channels, 128, o));
    agg_bottleneck = register_module("agg_bottleneck", std::make_shared<nn::Conv2d>(f.out_channels, 128, o));
  }
  for (Modality m : modalities) {
    auto stream = register_module(std::string(modality_name(m)) + "_backbone", f.make_stream(att));
    (m == Modality::rgb ? rgb_backbone : m == Modality::depth ? depth_backbone : ir_backbone) = stream;
  }
}

Tensor DlasNet::features(const Tensor& rgb, const Tensor& depth, const Tensor& ir) {
  std::vector<Stream::Levels> levels;  // one per built stream, in rgb, depth, ir order
  for (Modality m : modalities) {
    const Tensor& x = m == Modality::rgb ? rgb : m == Modality::depth ? depth : ir;
    NN_CHECK(x.defined(), type_name(), ": the ", modality_name(m), " input is undefined");
    levels.push_back((m == Modality::rgb ? rgb_backbone : m == Modality::depth ? depth_backbone : ir_backbone)->levels(x));
  }
  auto joined = [&](Tensor Stream::Levels::*level) {
    std::vector<Tensor> parts;
    for (const auto& l : levels) parts.push_back(l.*level);
    return parts.size() == 1 ? parts[0] : nn::ops::cat(parts, 1);
  };
  Tensor main = layer4->forward(joined(&Stream::Levels::l3));
  if (ch_att4) main = ch_att4->forward(main);
  main = nn::ops::adaptive_avg_pool2d(main, 1);  // (N, 512, 1, 1)

  Tensor agg = agg_layer1->forward(joined(&Stream::Levels::l1), {});
  agg = agg_layer2->forward(joined(&Stream::Levels::l2), agg);
  agg = agg_layer3->forward(joined(&Stream::Levels::l3), agg);
  agg = nn::ops::adaptive_avg_pool2d(agg, 1);

  if (variant == DlasVariant::C) {
    main = main_bottleneck->forward(main);
    agg = agg_bottleneck->forward(agg);
  }
  return (main + agg).flatten(1);
}

}  // namespace models
