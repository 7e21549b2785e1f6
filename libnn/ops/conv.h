// conv2d and linear: the two GEMM-shaped ops. Forward and backward run on kern::conv2d_* / kern::gemm;
// the im2col scratch comes from the caching allocator, so a training step makes no system allocation.
#pragma once

#include <array>
#include <functional>
#include <mutex>

#include "libnn/ops/common.h"

namespace nn::ops {

struct Conv2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 dilation = 1;
  index_t groups = 1;
};

// x (N, C, H, W), weight (K, C/groups, R, S), bias (K) or undefined -> (N, K, P, Q).
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, const Conv2dOptions& options = {});

// The inference form of conv -> BatchNorm2d (eval) -> activation, in one pass over y:
// y[n, k] = act(scale[k] * conv2d(x, weight)[n, k] + shift[k]), scale and shift (K) or undefined (1, 0).
// The weights are used as they are: BN enters as scale / shift, so nothing is folded ahead of time and
// nothing goes stale when parameters change. No autograd: an input that needs a gradient is an error.
enum class Activation { none, relu, prelu };
struct ConvEpilogue {
  Tensor scale, shift;
  Activation act = Activation::none;
  Tensor slope;  // prelu: (1) or (K) negative slopes
};

// A Conv2d's weights prepared once for the CPU forward of frozen inference (Module::freeze_for_inference):
// packed for the GEMM, or Winograd-transformed, one tensor per form the forward has needed (the batch and
// plane size choose; kern::conv2d_forward_weight_layout). It cannot see the weights change: its owner
// clears it whenever they may. Thread-safe.
class PreparedConvWeights {
 public:
  // The tensor kept for form, made by make() the first time (and again after clear()).
  Tensor get(int form, DType dtype, const std::function<Tensor()>& make);
  void clear();

 private:
  std::mutex mutex_;
  std::array<Tensor, 2> tensors_;
};

// With prepared (CPU tensors only; ignored on a GPU), the weight tensor is read only when a form of it is
// first prepared (or where the shape's path keeps none).
Tensor conv2d_fused(const Tensor& x, const Tensor& weight, const Conv2dOptions& options, const ConvEpilogue& epilogue,
                    PreparedConvWeights* prepared = nullptr);

// x (N, in), weight (out, in), bias (out) or undefined -> (N, out) = x weight^T + bias.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});

}  // namespace nn::ops
