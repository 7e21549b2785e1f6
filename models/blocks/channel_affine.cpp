#include "models/blocks/channel_affine.h"

#include "libnn/ops/affine.h"

namespace models {

ChannelAffine::ChannelAffine(nn::index_t channels) : nn::Module("ChannelAffine") {
  weight = register_parameter("weight", nn::Tensor::ones({channels}));
  bias = register_parameter("bias", nn::Tensor::zeros({channels}));
}

nn::Tensor ChannelAffine::forward(const nn::Tensor& x) { return nn::ops::channel_affine(x, weight, bias); }

}  // namespace models
