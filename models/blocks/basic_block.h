// The ResNetCaffe building blocks (REFERENCE.md §1.3): BasicBlock and the "caffe" stage. Both are shared
// by the stream (stages 1-3), layer4 and the aggregation blocks.
//
// Initialisation is the one the reference's constructors apply (§1.8): BasicBlock convs N(0, 0.01), the
// stage-entry conv U(-s, s) with s = sqrt(3 / fan_in), BN weight 1 / bias 0 and PReLU 0.25. The stream
// overrides the conv inits afterwards (kaiming_normal fan_out), as the reference's final loop does; it
// passes reference_init = false to skip draws it would overwrite (a normal fill of ~20M weights per net),
// which leaves nn::Conv2d's default init in place until it re-initialises.
#pragma once

#include "libnn/nn/layers.h"

namespace models {

using nn::index_t;
using nn::Tensor;

// conv1 (3x3 pad 1, no bias) -> bn1 -> relu1 (PReLU(C)) -> conv2 -> bn2 -> relu2 (PReLU(C)), plus the
// identity. There is no activation after the add and never a downsample: in and out are both (N, C, H, W).
class BasicBlock : public nn::Module {
 public:
  explicit BasicBlock(index_t channels, nn::Generator& gen = nn::default_generator(), bool reference_init = true);
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
  std::shared_ptr<nn::PReLU> relu1, relu2;
};

// The reference's _make_layer: a Sequential with 0 = conv3x3 (in -> out, pad 0, no bias), 1 = BN(out),
// 2 = PReLU(out), 3 = MaxPool2d(2, 2) (floor), then 4, 5, ... = `blocks` x BasicBlock(out).
// (N, in, H, W) -> (N, out, (H - 2) / 2, (W - 2) / 2). The stride the reference passes is ignored there.
std::shared_ptr<nn::Sequential> caffe_stage(index_t in_channels, index_t out_channels, int blocks,
                                            nn::Generator& gen = nn::default_generator(), bool reference_init = true);

}  // namespace models
