// ResNetCaffe-34 (MCS2018 layout, REFERENCE.md §1.3): every stage is conv3x3 pad 0 (no bias) -> BN ->
// PReLU -> MaxPool 2x2 s2 -> N x BasicBlock; no strided convs, no projection shortcuts. At 112x112 the
// spatial sizes are 110 / 108 / 54 / 52 / 26 / 24 / 12 (stream) and 10 / 5 (layer4, agg_layer3).
//
// The stem maps H -> H - 2 and each stage H -> floor((H - 2) / 2), so the smallest input the whole DLAS
// net accepts is 48x48 (46, 22, 10, L3 4, layer4 1).
#pragma once

#include <array>

#include "models/blocks/basic_block.h"
#include "models/dlas.h"

namespace models {

struct ResNetCaffeConfig {
  // Channels of conv1 and of stages 1..4 (the full net: 32, 64, 128, 256, 512).
  std::array<index_t, 5> widths{32, 64, 128, 256, 512};
  // BasicBlocks in stages 1..4 (ResNet-34 caffe: 1, 2, 5, 3).
  std::array<int, 4> blocks{1, 2, 5, 3};
};

// One modality's stream (`resnet_caffe_DLAS.ResNetCaffe`): conv1 (3 -> widths[0], k3 p0, no bias), bn1,
// relu (PReLU), layer1..3 (caffe stages) and, for DLAS-B, ch_att1..3 = ChannelAttention(C, C/4) applied
// in-line on L1..L3, so the attended map also feeds the next stage.
// Init (§1.8): every conv, the attention convs included, is kaiming_normal (fan_out, relu); BN 1 / 0; the
// attention biases keep torch's default U(+-1/sqrt(fan_in)). All draws come from `gen`.
class ResNetCaffeStream : public Stream {
 public:
  ResNetCaffeStream(const ResNetCaffeConfig& config, bool with_attention, nn::Generator& gen = nn::default_generator());
  Levels levels(const Tensor& x) override;  // (N, 3, H, W) -> L1, L2, L3
  Tensor forward(const Tensor& x) override { return levels(x).l3; }

  std::shared_ptr<nn::Conv2d> conv1;
  std::shared_ptr<nn::BatchNorm2d> bn1;
  std::shared_ptr<nn::PReLU> relu;
  std::shared_ptr<nn::Sequential> layer1, layer2, layer3;
  std::shared_ptr<ChannelAttention> ch_att1, ch_att2, ch_att3;  // DLAS-B only
};

// The family for DlasNet: name "ResNet34DLAS", level channels widths[1..3], out_channels widths[4];
// make_stage(k, in) = caffe_stage(in, widths[k], blocks[k - 1]) with the _make_layer init (stage-entry
// conv U(+-sqrt(3 / fan_in)), block convs N(0, 0.01)). The agg fusion convs (built by AggBlock) keep
// nn::Conv2d's default init from the default generator.
// The family's functions draw from `gen`, which must outlive every call to them.
DlasFamily resnet_caffe_family(const ResNetCaffeConfig& config = {}, nn::Generator& gen = nn::default_generator());

}  // namespace models
