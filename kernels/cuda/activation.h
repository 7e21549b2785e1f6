// The CUDA twins of kernels/cpu/activation.h: same names with _cuda, same arguments plus a trailing
// stream, same contracts. Pointers are device memory. relu and sigmoid take T = float, double or
// __nv_bfloat16 (computed in float, include <cuda_bf16.h> to name it); prelu float or double.
#pragma once

#include "kernels/cuda/stream.h"
#include "kernels/params.h"

namespace kern {

// y (n) = max(x, 0); NaN propagates. y may alias x.
template <typename T>
void relu_forward_cuda(index_t n, const T* x, T* y, Stream stream);

// dx (n) = y > 0 ? dy : 0. dx may alias dy.
template <typename T>
void relu_backward_cuda(index_t n, const T* dy, const T* y, T* dx, Stream stream);

// y (n) = 1 / (1 + exp(-x)), without overflow for large |x|. y may alias x.
template <typename T>
void sigmoid_forward_cuda(index_t n, const T* x, T* y, Stream stream);

// dx (n) = dy * y * (1 - y). dx may alias dy.
template <typename T>
void sigmoid_backward_cuda(index_t n, const T* dy, const T* y, T* dx, Stream stream);

// x, y (N, C, HW); weight (num_weights), num_weights == C or 1: y = x > 0 ? x : weight[c] * x.
template <typename T>
void prelu_forward_cuda(index_t N, index_t C, index_t HW, index_t num_weights, const T* x, const T* weight,
                        T* y, Stream stream);

// dx (N, C, HW) = x > 0 ? dy : weight[c] * dy;
// dweight (num_weights) = sum over N, HW (and over C when num_weights == 1) of (x > 0 ? 0 : x * dy), in
// double through a fixed tree per channel, then over channels in order (no atomics: run to run identical).
// dx, dweight may each be null. dx may alias dy. A shared slope's dweight is reduced by a single block.
template <typename T>
void prelu_backward_cuda(index_t N, index_t C, index_t HW, index_t num_weights, const T* dy, const T* x,
                         const T* weight, T* dx, T* dweight, Stream stream);

}  // namespace kern
