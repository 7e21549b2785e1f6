// Fused single-tensor optimizer steps on raw arrays: torch.optim.SGD, Adam and AdamW (torch 1.13,
// the single-tensor, non-capturable path), formula for formula, so a training run can be held next to
// PyTorch's step by step. Every array has n elements and is updated in place; none alias each other.
// Scalar coefficients are formed in double, as Python does, and rounded to T where PyTorch's tensor ops
// would round them.
#pragma once

#include "kernels/params.h"

namespace kern {

// g = grad (negated if maximize) + weight_decay * param
// momentum != 0: buf = first_step ? g : momentum * buf + (1 - dampening) * g
//                g = nesterov ? g + momentum * buf : buf
// param -= lr * g.
// momentum_buf may be null when momentum == 0. first_step: the buffer has no state yet (PyTorch
// clones the gradient into it, ignoring dampening).
template <typename T>
void sgd_step_cpu(const SgdParams& p, index_t n, T* param, const T* grad, T* momentum_buf,
                  bool first_step);

// step: the step count after this step's increment (1 on the first call).
// g = grad (negated if maximize) + weight_decay * param
// m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g
// amsgrad: v_max = max(v_max, v), used in place of v below (v_max must be non-null then)
// denom = sqrt(v) / sqrt(1 - beta2^step) + eps;  param -= lr / (1 - beta1^step) * m / denom.
template <typename T>
void adam_step_cpu(const AdamParams& p, index_t n, index_t step, T* param, const T* grad, T* exp_avg,
                   T* exp_avg_sq, T* max_exp_avg_sq);

// As adam_step_cpu, except weight decay is decoupled: param *= 1 - lr * weight_decay first, and the
// gradient is not changed.
template <typename T>
void adamw_step_cpu(const AdamParams& p, index_t n, index_t step, T* param, const T* grad, T* exp_avg,
                    T* exp_avg_sq, T* max_exp_avg_sq);

}  // namespace kern
