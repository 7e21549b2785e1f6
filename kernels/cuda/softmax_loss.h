// The CUDA twins of kernels/cpu/softmax_loss.h: log_softmax over the rows of (N, C) and cross_entropy
// (mean reduction) from those log-probabilities. Same names with _cuda, same arguments plus a trailing
// stream, same contracts. Pointers are device memory, the loss and its gradient included; the params
// struct lives on the host. T = float or double.
#pragma once

#include <cstdint>

#include "kernels/cuda/stream.h"
#include "kernels/params.h"

namespace kern {

// y (N, C) = x - max(x) - log(sum(exp(x - max(x)))) per row, in double. One block per row. y may alias x.
template <typename T>
void log_softmax_forward_cuda(index_t N, index_t C, const T* x, T* y, Stream stream);

// From y = the forward's log-probs: dx (N, C) = dy - exp(y) * sum(dy) per row. dx may alias dy.
template <typename T>
void log_softmax_backward_cuda(index_t N, index_t C, const T* dy, const T* y, T* dx, Stream stream);

// Every target in [0, C) or == ignore_index (unchecked here). weight (C) when p.has_weight.
// Writes *loss (one element) = the CPU contract's mean loss; one block, sums in double through a fixed tree.
template <typename T>
void cross_entropy_forward_cuda(const CrossEntropyParams& p, const T* logp, const std::int64_t* target,
                                const T* weight, T* loss, Stream stream);

// dlogp (N, C) = -*dloss / W * ((1 - ls) * w_t [c == t] + ls / C * w_c), 0 for ignored rows. No aliasing.
template <typename T>
void cross_entropy_backward_cuda(const CrossEntropyParams& p, const T* logp, const std::int64_t* target,
                                 const T* weight, const T* dloss, T* dlogp, Stream stream);

}  // namespace kern
