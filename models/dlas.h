// DLAS: the multi-modal topology of HardTune (REFERENCE.md §1.2), shared by the ResNetCaffe-34 and IR
// families. Three independent streams (rgb_backbone, depth_backbone, ir_backbone) give their stage
// outputs L1, L2, L3. Main path: cat(L3 x 3) -> layer4 -> global average pool. Aggregation path:
// agg_layer1(cat L1) -> A1; agg_layer2(cat L2, + A1) -> A2; agg_layer3(cat L3, + A2) -> A3 -> global
// average pool. Feature = main + agg (512-d). Concatenation order is always rgb, depth, ir.
//   B adds channel attention: in-line on each stream's L1..L3 (the stream builds it), ch_att4 on layer4's
//     output before pooling, and a ch_att inside each AggBlock after its agg_layer.
//   C adds main_bottleneck and agg_bottleneck (1x1 conv 512 -> 128 with bias) on the pooled vectors: the
//     feature is 128-d.
// Ablations: built on a subset of the modalities (one, for a single-modality net), only those streams
// exist and every concatenation, layer4's input and each AggBlock's fusion conv shrink to match.
#pragma once

#include <array>
#include <functional>

#include "models/blocks/attention.h"
#include "models/net.h"

namespace models {

enum class DlasVariant { A, B, C };

// A per-modality backbone: the stem and stages 1-3.
class Stream : public nn::Module {
 public:
  using nn::Module::Module;
  struct Levels {
    Tensor l1, l2, l3;
  };
  virtual Levels levels(const Tensor& x) = 0;
};

// What a backbone family supplies to the topology.
struct DlasFamily {
  std::string name;                       // "ResNet34DLAS", "IR_50DLAS", ...
  std::array<index_t, 3> level_channels;  // channels of L1, L2, L3
  index_t out_channels = 512;             // of layer4 and agg_layer3
  // A stream; with_attention builds DLAS-B's in-line channel attention on L1..L3.
  std::function<std::shared_ptr<Stream>(bool with_attention)> make_stream;
  // The stage with the structure of stage `stage` (2, 3 or 4) on `in_channels` inputs: agg_layer{1,2,3}
  // use stages 2, 3, 4 on the level's channels; layer4 uses stage 4 on 3x the L3 channels.
  std::function<std::shared_ptr<nn::Module>(int stage, index_t in_channels)> make_stage;
};

// Fuses one level of the three streams: conv1 (1x1, 3C -> C, bias) -> ReLU -> [+ previous] -> agg_layer
// [-> ch_att].
class AggBlock : public nn::Module {
 public:
  AggBlock(index_t level_channels, std::shared_ptr<nn::Module> agg_layer, index_t out_channels, bool with_attention,
           index_t streams = 3);
  // cat_levels (N, streams * C, H, W); previous: the last AggBlock's output (N, C, H, W), or undefined.
  Tensor forward(const Tensor& cat_levels, const Tensor& previous);

  std::shared_ptr<nn::Conv2d> conv1;
  std::shared_ptr<nn::Module> agg_layer;
  std::shared_ptr<ChannelAttention> ch_att;  // DLAS-B only
};

class DlasNet : public MultiModalNet {
 public:
  DlasNet(const DlasFamily& family, DlasVariant variant,
          std::vector<Modality> modalities = {kAllModalities, kAllModalities + 3});
  // Inputs of modalities the net was not built on are ignored and may be undefined.
  Tensor features(const Tensor& rgb, const Tensor& depth, const Tensor& ir) override;

  DlasVariant variant;
  std::vector<Modality> modalities;                           // in rgb, depth, ir order
  std::shared_ptr<Stream> rgb_backbone, depth_backbone, ir_backbone;  // null when not built on
  std::shared_ptr<nn::Module> layer4;
  std::shared_ptr<ChannelAttention> ch_att4;  // B
  std::shared_ptr<AggBlock> agg_layer1, agg_layer2, agg_layer3;
  std::shared_ptr<nn::Conv2d> main_bottleneck, agg_bottleneck;  // C
};

}  // namespace models
