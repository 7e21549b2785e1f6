// Reductions along one dimension, PyTorch semantics: mean_dim = torch.mean(x, dim, keepdim),
// amax_dim = torch.max(x, dim, keepdim).values. Spatial attention (CBAM) reduces (N, C, H, W) over dim 1.
#pragma once

#include "libnn/core/tensor.h"

namespace nn::ops {

// x (..., D, ...) -> the mean over dim (negative counts from the end); keepdim leaves a 1 in its place.
Tensor mean_dim(const Tensor& x, int dim, bool keepdim = false);

// The maximum over dim. Backward routes the whole gradient to the first argmax (int64 indices saved by the
// forward), like torch.max(x, dim); torch.amax would instead split it evenly among tied maxima. NaN wins.
Tensor amax_dim(const Tensor& x, int dim, bool keepdim = false);

}  // namespace nn::ops
