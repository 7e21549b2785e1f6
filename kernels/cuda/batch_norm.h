// batch_norm on the GPU: the four kernels of kernels/cpu/batch_norm.h with the same contracts (outputs
// assigned, null pointers not wanted, y may alias x, dx may alias dy), plus a workspace and a stream.
// All pointers are device memory. T = float or double; statistics accumulate in double either way.
//
// Channel statistics are reduced in a fixed tree of (channel, chunk) partials whose shape depends on p
// only, so results are reproducible run to run (they differ from the CPU's sequential sums by rounding).
// The batch variance merges (count, mean, M2) triples (Chan et al.) rather than E[x^2] - E[x]^2, which
// would cancel when |mean| >> std.
#pragma once

#include "kernels/cuda/stream.h"
#include "kernels/params.h"

namespace kern {

// Doubles of device scratch the training forward and both backwards need: chunk partials and
// per-channel coefficients. The eval forward needs none. Nothing is allocated by the kernels.
index_t batch_norm_workspace_size(const BatchNormParams& p);

template <typename T>
void batch_norm_forward_train_cuda(const BatchNormParams& p, const T* x, const T* gamma, const T* beta, T* y,
                                   T* save_mean, T* save_invstd, T* running_mean, T* running_var,
                                   double* workspace, Stream stream);

// The training forward fused with the activation that follows it, in the same pass over the output:
// y_act = act(y), with act none, relu, or prelu (slope_count 1 shared or C per-channel slopes, as
// kernels/cpu/activation.h). The backward still has what it needs: prelu's reads the pre-activation y;
// relu's reads y_act (y may then be null, saving its write); batch_norm's reads x and the saved statistics.
// y and y_act may each alias x, not each other; y_act may be null (then this is the plain forward).
template <typename T>
void batch_norm_forward_train_act_cuda(const BatchNormParams& p, const T* x, const T* gamma, const T* beta, T* y,
                                       T* save_mean, T* save_invstd, T* running_mean, T* running_var,
                                       Activation act, const T* slope, index_t slope_count, T* y_act,
                                       double* workspace, Stream stream);

template <typename T>
void batch_norm_forward_eval_cuda(const BatchNormParams& p, const T* x, const T* gamma, const T* beta,
                                  const T* running_mean, const T* running_var, T* y, Stream stream);

template <typename T>
void batch_norm_backward_train_cuda(const BatchNormParams& p, const T* dy, const T* x, const T* gamma,
                                    const T* save_mean, const T* save_invstd, T* dx, T* dgamma, T* dbeta,
                                    double* workspace, Stream stream);

// The workspace is read only when dgamma or dbeta is wanted (it may be null otherwise).
template <typename T>
void batch_norm_backward_eval_cuda(const BatchNormParams& p, const T* dy, const T* x, const T* gamma,
                                   const T* running_mean, const T* running_var, T* dx, T* dgamma, T* dbeta,
                                   double* workspace, Stream stream);

}  // namespace kern
