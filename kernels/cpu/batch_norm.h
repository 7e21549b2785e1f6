// batch_norm over x (N, C, HW), statistics per channel: training forward (batch statistics, running
// statistics updated in place), eval forward (running statistics), and the two backwards.
// Outputs are assigned (=). Pointers marked "may be null" skip that input or output, so a frozen layer
// or an input image costs no gradient. Channel reductions accumulate in double in a fixed order, one
// channel per thread, so results do not depend on the number of threads.
#pragma once

#include "kernels/params.h"

namespace kern {

// Requires N * HW > 1: with one value per channel the unbiased variance is 0/0. The caller checks it and
// raises PyTorch's "Expected more than 1 value per channel when training".
// gamma, beta (C), may be null (affine = false: gamma = 1, beta = 0).
// Writes y (N, C, HW) = (x - mean) * invstd * gamma + beta, save_mean (C) = mean,
// save_invstd (C) = 1 / sqrt(var_biased + eps).
// running_mean, running_var (C), may be null (track_running_stats = false), else updated in place:
// running = (1 - momentum) * running + momentum * batch, where batch variance is the unbiased
// var_biased * n / (n - 1), n = N * HW, as PyTorch does.
// y may alias x; nothing else aliases.
template <typename T>
void batch_norm_forward_train_cpu(const BatchNormParams& p, const T* x, const T* gamma, const T* beta,
                                  T* y, T* save_mean, T* save_invstd, T* running_mean, T* running_var);

// Writes y (N, C, HW) = (x - running_mean) / sqrt(running_var + eps) * gamma + beta.
// gamma, beta may be null. y may alias x.
template <typename T>
void batch_norm_forward_eval_cpu(const BatchNormParams& p, const T* x, const T* gamma, const T* beta,
                                 const T* running_mean, const T* running_var, T* y);

// Backward of the training forward, where mean and invstd depend on x:
// x_hat = (x - save_mean) * save_invstd, n = N * HW, per channel
// dx = gamma * invstd / n * (n * dy - sum(dy) - x_hat * sum(dy * x_hat)),
// dgamma (C) = sum(dy * x_hat), dbeta (C) = sum(dy).
// gamma may be null (taken as 1); dx, dgamma, dbeta may each be null (not wanted).
// dx may alias dy (each channel reads all its dy before writing dx); nothing else aliases.
template <typename T>
void batch_norm_backward_train_cpu(const BatchNormParams& p, const T* dy, const T* x, const T* gamma,
                                   const T* save_mean, const T* save_invstd, T* dx, T* dgamma, T* dbeta);

// Backward of the eval forward, where the running statistics are constants:
// invstd = 1 / sqrt(running_var + eps), dx = dy * gamma * invstd,
// dgamma (C) = sum(dy * (x - running_mean) * invstd), dbeta (C) = sum(dy).
// gamma may be null; dx, dgamma, dbeta may each be null. dx may alias dy.
template <typename T>
void batch_norm_backward_eval_cpu(const BatchNormParams& p, const T* dy, const T* x, const T* gamma,
                                  const T* running_mean, const T* running_var, T* dx, T* dgamma,
                                  T* dbeta);

}  // namespace kern
