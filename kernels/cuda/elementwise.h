// The CUDA twins of kernels/cpu/elementwise.h: same names with _cuda, same arguments plus a trailing
// stream, same contracts (assigned vs accumulated, exact in-place aliasing, null = not wanted). Pointers
// are device memory; sum and sum_squares write their scalar to device memory too.
// T = float or double; the pure arithmetic ops (add ... axpy, fill, copy, dropout) also __nv_bfloat16,
// computed in float and rounded once on the store (include <cuda_bf16.h> to name the type).
// Reductions accumulate in double through fixed trees: run to run identical, a few double roundings
// away from the CPU's order.
#pragma once

#include <cstdint>

#include "kernels/cuda/stream.h"
#include "kernels/params.h"

namespace kern {

// y (n) = a + b, a - b, a * b.
template <typename T>
void add_cuda(index_t n, const T* a, const T* b, T* y, Stream stream);
template <typename T>
void sub_cuda(index_t n, const T* a, const T* b, T* y, Stream stream);
template <typename T>
void mul_cuda(index_t n, const T* a, const T* b, T* y, Stream stream);

// y (n) = alpha * x, x + alpha.
template <typename T>
void mul_scalar_cuda(index_t n, const T* x, T alpha, T* y, Stream stream);
template <typename T>
void add_scalar_cuda(index_t n, const T* x, T alpha, T* y, Stream stream);

// y (n) = value.
template <typename T>
void fill_cuda(index_t n, T value, T* y, Stream stream);
// y (n) = *value, value in device memory.
template <typename T>
void fill_from_cuda(index_t n, const T* value, T* y, Stream stream);

// y (n) = x. x and y are identical or do not overlap.
template <typename T>
void copy_cuda(index_t n, const T* x, T* y, Stream stream);

// y (n) += alpha * x.
template <typename T>
void axpy_cuda(index_t n, T alpha, const T* x, T* y, Stream stream);

// x, y (N, C, HW), s (N, C): y = x * s[n, c].
template <typename T>
void channel_mul_forward_cuda(index_t N, index_t C, index_t HW, const T* x, const T* s, T* y, Stream stream);

// dx (N, C, HW) = dy * s[n, c]; ds (N, C) = sum over HW of dy * x. dx, ds may each be null.
// dx may alias dy; ds aliases nothing.
template <typename T>
void channel_mul_backward_cuda(index_t N, index_t C, index_t HW, const T* dy, const T* x, const T* s,
                               T* dx, T* ds, Stream stream);

// x, y (N, C, HW), s (N, HW): y = x * s[n, k].
template <typename T>
void spatial_mul_forward_cuda(index_t N, index_t C, index_t HW, const T* x, const T* s, T* y, Stream stream);

// dx (N, C, HW) = dy * s[n, k]; ds (N, HW) = sum over C of dy * x (in double, channels in order, so
// bitwise the CPU's). dx, ds may each be null. dx may alias dy; ds aliases nothing.
template <typename T>
void spatial_mul_backward_cuda(index_t N, index_t C, index_t HW, const T* dy, const T* x, const T* s,
                               T* dx, T* ds, Stream stream);

// y (n) = sqrt(x) (NaN for x < 0). y may alias x.
template <typename T>
void sqrt_forward_cuda(index_t n, const T* x, T* y, Stream stream);

// dx (n) = dy / (2 y). dx may alias dy.
template <typename T>
void sqrt_backward_cuda(index_t n, const T* dy, const T* y, T* dx, Stream stream);

// y (n) = x < lo ? lo : x > hi ? hi : x, with lo <= hi; NaN propagates. y may alias x.
template <typename T>
void clamp_forward_cuda(index_t n, const T* x, T lo, T hi, T* y, Stream stream);

// dx (n) = lo <= x <= hi ? dy : 0. dx may alias dy.
template <typename T>
void clamp_backward_cuda(index_t n, const T* dy, const T* x, T lo, T hi, T* dx, Stream stream);

// x, y (N, D): y = x / max(||x_row||, eps); norm (N), may be null, = ||x_row||. y may alias x.
template <typename T>
void l2_normalize_forward_cuda(index_t N, index_t D, const T* x, T* y, T* norm, double eps, Stream stream);

// With n = norm[row], d = max(n, eps): dx (N, D) = dy / d - [n >= eps] * x * sum(x * dy) / (n * d^2).
// dx may alias dy.
template <typename T>
void l2_normalize_backward_cuda(index_t N, index_t D, const T* dy, const T* x, const T* norm, T* dx,
                                double eps, Stream stream);

// mask (n), 1 = keep, 0 = drop: y (n) = mask ? x * (1 / (1 - p)) : 0; p == 1 gives zeros. y may alias x.
template <typename T>
void dropout_forward_cuda(index_t n, double p, const T* x, const std::uint8_t* mask, T* y, Stream stream);

// dx (n) = mask ? dy * (1 / (1 - p)) : 0. dx may alias dy.
template <typename T>
void dropout_backward_cuda(index_t n, double p, const T* dy, const std::uint8_t* mask, T* dx, Stream stream);

// *out (one element, device memory) = sum of x (n), sum of x^2; n == 0 gives 0. One block of 1024
// threads: a fixed tree needs no workspace, at the price of one SM's bandwidth on large arrays.
template <typename T>
void sum_cuda(index_t n, const T* x, T* out, Stream stream);
template <typename T>
void sum_squares_cuda(index_t n, const T* x, T* out, Stream stream);

template <typename T>
void plane_add_forward_cuda(index_t planes, index_t HW, const T* x, const T* s, T* y, Stream stream);
template <typename T>
void plane_sum_cuda(index_t planes, index_t HW, const T* x, T* y, Stream stream);

}  // namespace kern
