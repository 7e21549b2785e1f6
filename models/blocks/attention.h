// Squeeze-and-excitation and channel attention (REFERENCE.md §1.4, §1.5). Both rescale each channel of
// x (N, C, H, W) by a gate in (0, 1) computed from globally pooled features.
#pragma once

#include "libnn/nn/layers.h"

namespace models {

using nn::index_t;
using nn::Tensor;

// SE of bottleneck_IR_SE: avg-pool -> fc1 (1x1 conv C -> C/r, no bias) -> ReLU -> fc2 (C/r -> C, no bias)
// -> sigmoid -> x * gate. Keys fc1.weight, fc2.weight.
class SEModule : public nn::Module {
 public:
  SEModule(index_t channels, index_t reduction = 16);
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<nn::Conv2d> fc1, fc2;
};

// ChannelAttention(C, C/4) of DLAS-B: the shared se_fc1 (+bias) + ReLU is applied to the global max-
// and average-pooled features, the two are summed, then se_fc2 (+bias) and a sigmoid give the gate.
class ChannelAttention : public nn::Module {
 public:
  ChannelAttention(index_t channels, index_t hidden);
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<nn::Conv2d> se_fc1, se_fc2;
};

}  // namespace models
