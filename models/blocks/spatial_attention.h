// SpatialAttention (REFERENCE.md §1.5): defined in the reference's resnet_caffe_DLAS.py, used by none of
// its networks. It gates every position of x (N, C, H, W) by one value in (0, 1) shared by all channels:
//   maps = cat(mean over channels, max over channels) (N, 2, H, W) -> conv1 (2 -> 1, k x k, pad k / 2)
//   -> sigmoid (N, 1, H, W) -> x * gate.
// The reference class takes the kernel size as a required argument and keeps nn.Conv2d's default bias;
// CBAM (Woo et al. 2018), which it follows, uses a 7x7 conv without bias. We default to the reference
// (bias) with CBAM's kernel 7, since nothing in the reference fixes k; Options{.bias = false} gives CBAM.
// Keys: conv1.weight (1, 2, k, k) and conv1.bias (1).
#pragma once

#include "libnn/nn/layers.h"

namespace models {

using nn::index_t;
using nn::Tensor;

class SpatialAttention : public nn::Module {
 public:
  struct Options {
    index_t kernel = 7;  // odd, so that padding kernel / 2 keeps H x W
    bool bias = true;
  };
  explicit SpatialAttention(const Options& options, nn::Generator& gen = nn::default_generator());
  SpatialAttention() : SpatialAttention(Options{}) {}
  Tensor forward(const Tensor& x) override;
  Tensor gate(const Tensor& x);  // (N, C, H, W) -> (N, 1, H, W) in (0, 1)

  std::shared_ptr<nn::Conv2d> conv1;
};

}  // namespace models
