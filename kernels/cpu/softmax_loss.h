// log_softmax over the last dimension of (N, C), and cross_entropy (mean reduction) taken from those
// log-probabilities, forward and backward. Splitting cross_entropy = nll(log_softmax(x)) this way keeps
// each backward simple and lets the log-probs double as the classifier's saved output.
// Outputs are assigned (=). Scalars (the loss and its incoming gradient) are passed by pointer so the
// CUDA kernels can keep them on the device with the same signatures.
#pragma once

#include <cstdint>

#include "kernels/params.h"

namespace kern {

// y (N, C) = x - max(x) - log(sum(exp(x - max(x)))) per row. y may alias x.
template <typename T>
void log_softmax_forward_cpu(index_t N, index_t C, const T* x, T* y);

// From y = the forward's log-probs: dx (N, C) = dy - exp(y) * sum(dy) per row. dx may alias dy.
template <typename T>
void log_softmax_backward_cpu(index_t N, index_t C, const T* dy, const T* y, T* dx);

// Requires every target in [0, C) or == ignore_index (the caller checks; PyTorch raises).
// logp (N, C) log-probabilities; target (N); weight (C) when p.has_weight, else ignored (may be null).
// With w_c = weight[c] (or 1), rows R = {i : target[i] != ignore_index}, W = sum_{i in R} w_{target[i]}:
//   loss = (1 - ls) / W * sum_{i in R} -w_{t_i} logp[i, t_i]
//        +  ls / C / W * sum_{i in R} sum_c -w_c logp[i, c]
// which is torch.nn.functional.cross_entropy(..., reduction='mean') including how label smoothing
// combines with class weights. All rows ignored gives 0/0 = NaN, as in PyTorch.
// Writes *loss =. Sums run in row order in double.
template <typename T>
void cross_entropy_forward_cpu(const CrossEntropyParams& p, const T* logp, const std::int64_t* target,
                               const T* weight, T* loss);

// dlogp (N, C) = -*dloss / W * ((1 - ls) * w_{t_i} * [c == t_i] + ls / C * w_c) for rows in R, 0 for
// ignored rows. dloss points at one element. No aliasing.
template <typename T>
void cross_entropy_backward_cpu(const CrossEntropyParams& p, const T* logp, const std::int64_t* target,
                                const T* weight, const T* dloss, T* dlogp);

}  // namespace kern
