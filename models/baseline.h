// The CASIA-SURF benchmark's baseline (Zhang et al. 2018, "CASIA-SURF: A Dataset and Benchmark for
// Large-scale Multi-modal Face Anti-spoofing", §4), for comparison with HardTune on the same data.
//
// Our reading of the paper: ResNet-18 is the backbone. Each modality (RGB, Depth, IR) has its own stream
// made of ResNet-18's first stages ("res1"-"res3"); the paper's squeeze-and-excitation fusion re-weights
// each stream's channels with an SE block, the three re-weighted maps are concatenated, and the shared
// rest of the network ("res4", then global average pooling and the classifier) works on the fused map.
// The paper names stages res1..res4 without pinning them to torchvision's modules; we read res1 = the stem
// (conv1, bn1, relu, maxpool) plus layer1, res2 = layer2, res3 = layer3, res4 = layer4, so that the net is
// ResNet-18 with a three-way split below layer4, like DLAS's main path (REFERENCE.md §1.2). (The other
// reading, res1 = stem alone and SE on layer2's 128 channels, fuses earlier; it is not built.)
//
//   stream (torchvision ResNet-18 layout): conv1 7x7 s2 p3 (3 -> w, no bias) -> bn1 -> ReLU ->
//     maxpool 3 s2 p1 -> layer1 (2 BasicBlocks, w) -> layer2 (2w, s2) -> layer3 (4w, s2)
//   {rgb,depth,ir}_se: SEModule(4w, reduction 16) (avg-pool, 1x1 conv, ReLU, 1x1 conv, sigmoid, x * gate)
//   cat (rgb, depth, ir) -> 12w -> layer4 (2 BasicBlocks 12w -> 8w, s2, projection shortcut) -> GAP
//   feature: 8w = 512 at full width (w = 64).
// Shapes at 112x112 and w = 64: stem 64x28x28, layer1 64x28x28, layer2 128x14x14, layer3 256x7x7,
// layer4 512x4x4.
//
// Keys follow torchvision inside each stream (rgb_backbone.conv1.weight, rgb_backbone.layer1.0.conv1.weight,
// rgb_backbone.layer2.0.downsample.0.weight / .1 for the projection's conv and BN), so ImageNet ResNet-18
// weights load into a stream by prefix; the SE blocks are rgb_se.fc1.weight ...; the shared stage is
// layer4.*. Initialisation as torchvision's ResNet: every conv kaiming_normal (fan_out, relu), BN 1 / 0.
//
// Parameter count at w = 64, by hand (conv k x k: in*out*k*k; BN: 2*C; all convs without bias):
//   BasicBlock(C -> C):         2 * 9C^2 + 2 * 2C                                  ; C=64: 73,984; 128: 295,424;
//                                                                                    256: 1,180,672; 512: 4,720,640
//   BasicBlock(Cin -> C, s2):   9 Cin C + 2C + 9C^2 + 2C + Cin C + 2C (downsample)  ; 64->128: 230,144;
//                                                                                    128->256: 919,040
//   stream: conv1 3*64*49 = 9,408 + bn1 128 + layer1 2 * 73,984 = 147,968
//           + layer2 230,144 + 295,424 = 525,568 + layer3 919,040 + 1,180,672 = 2,099,712  = 2,782,784
//           (= torchvision resnet18's 11,689,512 minus fc 513,000 minus its layer4 8,393,728)
//   SE(256, r 16): 256*16 + 16*256 = 8,192
//   layer4 on 768: block 0 = 9*768*512 + 1,024 + 9*512^2 + 1,024 + 768*512 + 1,024 = 6,294,528;
//                  block 1 = 4,720,640; total 11,015,168
//   CasiaSurfBaseline = 3 * (2,782,784 + 8,192) + 11,015,168 = 19,388,096  (+ Linear(512, 2) 1,026 = 19,389,122)
//   SingleModalityNet = 2,782,784 + 8,192 + layer4 on 256 (8,393,728) = 11,184,704
#pragma once

#include <memory>
#include <string>

#include "libnn/nn/layers.h"
#include "models/blocks/attention.h"
#include "models/net.h"

namespace models {

// torchvision's BasicBlock: conv1 3x3 (stride s, pad 1, no bias) -> bn1 -> ReLU -> conv2 3x3 -> bn2,
// + shortcut, -> ReLU. The shortcut is the identity, or downsample = [0] conv1x1 (stride s, no bias),
// [1] BN when the stride or the width changes. (Unlike the ResNetCaffe BasicBlock, which has PReLU,
// no strides and no activation after the add.)
class ResNetBasicBlock : public nn::Module {
 public:
  ResNetBasicBlock(index_t in_channels, index_t channels, index_t stride, nn::Generator& gen = nn::default_generator());
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
  std::shared_ptr<nn::Sequential> downsample;  // null for the identity
};

// torchvision's _make_layer: `blocks` BasicBlocks, the first with the stride and the width change.
std::shared_ptr<nn::Sequential> make_resnet_layer(index_t in_channels, index_t channels, index_t blocks, index_t stride,
                                                  nn::Generator& gen = nn::default_generator());

// One modality's ResNet-18 stem and layer1-3: (N, 3, H, W) -> (N, 4w, H/16, W/16) (rounded up per stride).
class ResNet18Stream : public nn::Module {
 public:
  explicit ResNet18Stream(index_t width = 64, nn::Generator& gen = nn::default_generator());
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<nn::Conv2d> conv1;
  std::shared_ptr<nn::BatchNorm2d> bn1;
  std::shared_ptr<nn::Sequential> layer1, layer2, layer3;
};

struct BaselineOptions {
  index_t width = 64;         // ResNet-18's base width; smaller values give a cheap net for tests
  index_t se_reduction = 16;  // of the SE fusion blocks
};

class CasiaSurfBaseline : public MultiModalNet {
 public:
  explicit CasiaSurfBaseline(const BaselineOptions& options = {}, nn::Generator& gen = nn::default_generator());
  // Each (N, 3, H, W), all defined and of one size -> (N, 8w).
  Tensor features(const Tensor& rgb, const Tensor& depth, const Tensor& ir) override;

  std::shared_ptr<ResNet18Stream> rgb_backbone, depth_backbone, ir_backbone;
  std::shared_ptr<SEModule> rgb_se, depth_se, ir_se;
  std::shared_ptr<nn::Sequential> layer4;
};


// The single-modality ablation: the baseline with one stream and nothing to fuse. The chosen modality
// goes through its stream (<m>_backbone) and SE block (<m>_se) -- so the only difference to the fused net
// is the fusion -- then layer4 on 4w channels and GAP. features() reads only that modality's input; the
// other two may be undefined. Keys are the baseline's for the parts it has (layer4's first conv and
// downsample have 4w instead of 12w input channels).
class SingleModalityNet : public MultiModalNet {
 public:
  SingleModalityNet(Modality modality, const BaselineOptions& options = {},
                    nn::Generator& gen = nn::default_generator());
  Tensor features(const Tensor& rgb, const Tensor& depth, const Tensor& ir) override;

  Modality modality;
  std::shared_ptr<ResNet18Stream> backbone;
  std::shared_ptr<SEModule> se;
  std::shared_ptr<nn::Sequential> layer4;
};

}  // namespace models
