// Pointwise math with PyTorch semantics: sqrt and clamp (ArcFace's sine, range limits).
#pragma once

#include <limits>

#include "libnn/core/tensor.h"

namespace nn::ops {

// y = sqrt(x); NaN for x < 0. Backward dy / (2 y): infinite at x == 0, as in PyTorch.
Tensor sqrt(const Tensor& x);

// y = min(max(x, lo), hi), lo <= hi; pass +-infinity for a one-sided clamp (clamp_min / clamp_max).
// The gradient passes where lo <= x <= hi, the bounds included (PyTorch's clamp_backward). NaN propagates.
Tensor clamp(const Tensor& x, double lo = -std::numeric_limits<double>::infinity(),
             double hi = std::numeric_limits<double>::infinity());

}  // namespace nn::ops
