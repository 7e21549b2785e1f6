// Pointwise activations with their backwards: relu, sigmoid, prelu (PyTorch semantics).
#pragma once

#include "libnn/core/tensor.h"

namespace nn::ops {

Tensor relu(const Tensor& x);
Tensor sigmoid(const Tensor& x);

// x (N, C, ...) with weight (C) (one slope per channel) or (1) (shared); y = x > 0 ? x : weight * x.
// A 1-d x has no channel dimension and takes a weight of one element.
Tensor prelu(const Tensor& x, const Tensor& weight);

}  // namespace nn::ops
