// channel_affine: y = x * weight[c] + bias[c] per channel, the affine layer of dlib (a batch norm folded into
// a multiply and an add; face-api calls it "scale"). Unlike mul/add with a (1, C, 1, 1) operand it takes the
// parameters as (C), so a module can keep PyTorch-shaped parameters and still be traced as their reader.
#pragma once

#include "libnn/core/tensor.h"

namespace nn::ops {

// x (N, C, ...) with at least 2 dimensions, weight (C), bias (C) or undefined -> x's shape. The multiply and
// the add round separately (as two framework ops would).
Tensor channel_affine(const Tensor& x, const Tensor& weight, const Tensor& bias = {});

}  // namespace nn::ops
