// Pointwise activations, forward and backward: relu, sigmoid, prelu.
// Outputs are assigned (=). Elementwise outputs may alias their inputs exactly (in-place), never with
// an offset. relu and sigmoid backward read the forward output y, so the forward can run in place.
#pragma once

#include "kernels/params.h"

namespace kern {

// y (n) = max(x, 0). NaN propagates, as in PyTorch.
template <typename T>
void relu_forward_cpu(index_t n, const T* x, T* y);

// dx (n) = y > 0 ? dy : 0, the gradient at 0 being 0 (PyTorch's threshold_backward on the result).
template <typename T>
void relu_backward_cpu(index_t n, const T* dy, const T* y, T* dx);

// y (n) = 1 / (1 + exp(-x)), evaluated without overflow for large |x|.
template <typename T>
void sigmoid_forward_cpu(index_t n, const T* x, T* y);

// dx (n) = dy * y * (1 - y).
template <typename T>
void sigmoid_backward_cpu(index_t n, const T* dy, const T* y, T* dx);

// x, y (N, C, HW); weight (num_weights) with num_weights == C (one slope per channel) or 1 (shared).
// y = x > 0 ? x : weight[c] * x.
template <typename T>
void prelu_forward_cpu(index_t N, index_t C, index_t HW, index_t num_weights, const T* x,
                       const T* weight, T* y);

// dx (N, C, HW) = x > 0 ? dy : weight[c] * dy;
// dweight (num_weights) = sum over N, HW (and over C when num_weights == 1) of (x > 0 ? 0 : x * dy),
// reduced per channel in a fixed order, then over channels in order.
// dx, dweight may each be null. dx may alias dy.
template <typename T>
void prelu_backward_cpu(index_t N, index_t C, index_t HW, index_t num_weights, const T* dy,
                        const T* x, const T* weight, T* dx, T* dweight);

}  // namespace kern
