#include "models/blocks/spatial_attention.h"

#include "libnn/ops/activation.h"
#include "libnn/ops/arith.h"
#include "libnn/ops/reduce.h"
#include "libnn/ops/tensor_ops.h"

namespace models {

SpatialAttention::SpatialAttention(const Options& o, nn::Generator& gen) : nn::Module("SpatialAttention") {
  NN_CHECK(o.kernel > 0 && o.kernel % 2 == 1, "SpatialAttention: kernel must be odd, got ", o.kernel);
  conv1 = register_module(
      "conv1", std::make_shared<nn::Conv2d>(
                   2, 1, nn::Conv2d::Options{.kernel = o.kernel, .padding = o.kernel / 2, .bias = o.bias}, gen));
}

Tensor SpatialAttention::gate(const Tensor& x) {
  NN_CHECK(x.defined() && x.dim() == 4, "SpatialAttention: x must be (N, C, H, W), got ",
           x.defined() ? x.describe() : std::string("an undefined tensor"));
  const Tensor maps = nn::ops::cat({nn::ops::mean_dim(x, 1, true), nn::ops::amax_dim(x, 1, true)}, 1);  // (N, 2, H, W)
  return nn::ops::sigmoid(conv1->forward(maps));
}

Tensor SpatialAttention::forward(const Tensor& x) { return nn::ops::mul(x, gate(x)); }

}  // namespace models
