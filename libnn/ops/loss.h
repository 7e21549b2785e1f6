// Classification heads and losses over 2-d tensors, PyTorch semantics.
#pragma once

#include "libnn/core/tensor.h"

namespace nn::ops {

// x (N, C) -> log-probabilities (N, C) over the last dimension.
Tensor log_softmax(const Tensor& x);

// logits (N, C), target i64 (N) in [0, C) (or -100, PyTorch's ignore_index: the row is left out),
// optional class weight (C), label_smoothing in [0, 1] -> scalar mean loss, as
// torch.nn.functional.cross_entropy(logits, target, weight, reduction='mean', label_smoothing).
// Differentiable in logits; target and weight are constants.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight = {},
                     double label_smoothing = 0.0);

// x (N, D) -> x / max(||x||_2, eps) along dim (1 = rows, 0 = columns), as torch.nn.functional.normalize.
Tensor l2_normalize(const Tensor& x, int dim = 1, double eps = 1e-12);

}  // namespace nn::ops
