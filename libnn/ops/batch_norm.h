// batch_norm with torch.nn.functional.batch_norm semantics over x (N, C) or (N, C, *), statistics per
// channel C.
#pragma once

#include "libnn/core/tensor.h"

namespace nn::ops {

// training: normalises with the batch statistics and, when running_mean / running_var (C) are given,
// updates them in place (running = (1 - momentum) * running + momentum * batch, unbiased variance);
// needs more than one value per channel. eval: normalises with the running statistics (required).
// weight, bias (C) may be undefined (affine = false). Gradients flow to x, weight and bias; the running
// statistics are buffers and never receive one.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum = 0.1, double eps = 1e-5);

}  // namespace nn::ops
