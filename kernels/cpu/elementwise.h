// Elementwise arithmetic, the (N, C, H, W) * (N, C, 1, 1) channel-broadcast multiply (squeeze-excitation
// and attention gates) and the (N, C, H, W) * (N, 1, H, W) spatial one (spatial attention), sqrt and
// clamp, l2_normalize over rows, dropout from a given mask, and whole-array reductions.
// Outputs are assigned (=) unless the contract says +=. Elementwise outputs may alias an input exactly
// (in-place), never with an offset. Reductions accumulate in double over fixed blocks summed in order,
// so they do not depend on the number of threads.
#pragma once

#include <cstdint>

#include "kernels/params.h"

namespace kern {

// y (n) = a + b, a - b, a * b.
template <typename T>
void add_cpu(index_t n, const T* a, const T* b, T* y);
template <typename T>
void sub_cpu(index_t n, const T* a, const T* b, T* y);
template <typename T>
void mul_cpu(index_t n, const T* a, const T* b, T* y);

// y (n) = alpha * x, x + alpha.
template <typename T>
void mul_scalar_cpu(index_t n, const T* x, T alpha, T* y);
template <typename T>
void add_scalar_cpu(index_t n, const T* x, T alpha, T* y);

// y (n) = value.
template <typename T>
void fill_cpu(index_t n, T value, T* y);
// y (n) = *value, the scalar read where it lives: on the device for the CUDA twin, so a gradient
// broadcast from a loss needs no host synchronisation.
template <typename T>
void fill_from_cpu(index_t n, const T* value, T* y);

// y (n) = x. x and y are identical or do not overlap.
template <typename T>
void copy_cpu(index_t n, const T* x, T* y);

// y (n) += alpha * x.
template <typename T>
void axpy_cpu(index_t n, T alpha, const T* x, T* y);

// x, y (N, C, HW), s (N, C): y = x * s[n, c].
template <typename T>
void channel_mul_forward_cpu(index_t N, index_t C, index_t HW, const T* x, const T* s, T* y);

// dx (N, C, HW) = dy * s[n, c]; ds (N, C) = sum over HW of dy * x. dx, ds may each be null.
// dx may alias dy; ds aliases nothing.
template <typename T>
void channel_mul_backward_cpu(index_t N, index_t C, index_t HW, const T* dy, const T* x, const T* s,
                              T* dx, T* ds);

// x, y (N, C, HW), s (N, HW): y = x * s[n, k], one gate per position shared by all channels.
template <typename T>
void spatial_mul_forward_cpu(index_t N, index_t C, index_t HW, const T* x, const T* s, T* y);

// dx (N, C, HW) = dy * s[n, k]; ds (N, HW) = sum over C of dy * x (in double, channels in order).
// dx, ds may each be null. dx may alias dy; ds aliases nothing.
template <typename T>
void spatial_mul_backward_cpu(index_t N, index_t C, index_t HW, const T* dy, const T* x, const T* s,
                              T* dx, T* ds);

// y (n) = sqrt(x) (NaN for x < 0, as std::sqrt). y may alias x.
template <typename T>
void sqrt_forward_cpu(index_t n, const T* x, T* y);

// dx (n) = dy / (2 y), from the forward's output y, as PyTorch (inf or NaN where y == 0). dx may alias dy.
template <typename T>
void sqrt_backward_cpu(index_t n, const T* dy, const T* y, T* dx);

// y (n) = x < lo ? lo : x > hi ? hi : x, with lo <= hi (either may be infinite); NaN propagates.
template <typename T>
void clamp_forward_cpu(index_t n, const T* x, T lo, T hi, T* y);

// dx (n) = lo <= x <= hi ? dy : 0 (the bounds themselves pass the gradient, as PyTorch's clamp_backward).
// dx may alias dy.
template <typename T>
void clamp_backward_cpu(index_t n, const T* dy, const T* x, T lo, T hi, T* dx);

// torch.nn.functional.normalize(x, p=2, dim=1, eps): x, y (N, D), y = x / max(||x_row||, eps).
// norm (N), may be null, saves ||x_row|| for the backward. y may alias x.
template <typename T>
void l2_normalize_forward_cpu(index_t N, index_t D, const T* x, T* y, T* norm, double eps = 1e-12);

// With n = norm[row] from the forward and d = max(n, eps):
// dx (N, D) = dy / d - [n >= eps] * x * sum(x * dy) / (n * d^2)
// (clamp_min passes the gradient when n >= eps, as in PyTorch). dx may alias dy.
template <typename T>
void l2_normalize_backward_cpu(index_t N, index_t D, const T* dy, const T* x, const T* norm, T* dx,
                               double eps = 1e-12);

// mask (n), 1 = keep, 0 = drop, drawn by the caller with keep probability 1 - p.
// y (n) = mask ? x * (1 / (1 - p)) : 0; p == 1 gives all zeros. y may alias x.
template <typename T>
void dropout_forward_cpu(index_t n, double p, const T* x, const std::uint8_t* mask, T* y);

// dx (n) = mask ? dy * (1 / (1 - p)) : 0. dx may alias dy.
template <typename T>
void dropout_backward_cpu(index_t n, double p, const T* dy, const std::uint8_t* mask, T* dx);

// *out = sum of x (n), *out = sum of x^2. n == 0 gives 0.
template <typename T>
void sum_cpu(index_t n, const T* x, T* out);
template <typename T>
void sum_squares_cpu(index_t n, const T* x, T* out);

// x, y (planes, HW), s (planes): y = x + s[plane], a (N, C, 1, 1) bias added to (N, C, H, W).
// y may alias x.
template <typename T>
void plane_add_forward_cpu(index_t planes, index_t HW, const T* x, const T* s, T* y);

// y (planes) = the sum of each plane of x (planes, HW), as sum_cpu sums one: the bias gradient.
template <typename T>
void plane_sum_cpu(index_t planes, index_t HW, const T* x, T* y);

}  // namespace kern
