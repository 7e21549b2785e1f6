// ChannelAffine: y = x * weight[c] + bias[c], a learnable per-channel multiply-then-add. It is dlib's affine
// layer (a batch norm folded into two vectors), which face-api calls "scale"; parameters are PyTorch-shaped
// (C), named weight and bias like a BatchNorm2d's, and start as the identity (1, 0).
#pragma once

#include "libnn/nn/module.h"

namespace models {

class ChannelAffine : public nn::Module {
 public:
  explicit ChannelAffine(nn::index_t channels);
  nn::Tensor forward(const nn::Tensor& x) override;  // (N, C, ...) -> same shape

  nn::Tensor weight, bias;  // (C), (C)
};

}  // namespace models
