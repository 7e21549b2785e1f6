// Pooling over (N, C, H, W) planes, forward and backward: max_pool2d (with argmax indices), avg_pool2d,
// global average pooling (adaptive_avg_pool2d to 1x1) and global max pooling.
// Floor mode, no dilation. Each (n, c) plane is independent and handled by one thread, so backward
// scatters are race-free and summed in a fixed order even when windows overlap.
#pragma once

#include <cstdint>

#include "kernels/params.h"

namespace kern {

// Requires pad_h <= kernel_h / 2 and pad_w <= kernel_w / 2 (PyTorch's check; the caller makes it), so
// every window holds at least one real input element.
// x (N, C, H, W) -> y (N, C, P, Q) = window max, padding counting as -inf.
// indices (N, C, P, Q), may be null: flat index h * W + w of the max within its input plane, as
// PyTorch returns. Ties go to the first maximum in row-major scan order of the window (PyTorch's CPU
// choice); a NaN in the window wins and propagates. No aliasing.
template <typename T>
void max_pool2d_forward_cpu(const Pool2dParams& p, const T* x, T* y, std::int64_t* indices);

// dx (N, C, H, W) = 0, then dx[plane][indices] += dy for every output, so overlapping windows add.
// No aliasing.
template <typename T>
void max_pool2d_backward_cpu(const Pool2dParams& p, const T* dy, const std::int64_t* indices, T* dx);

// x (N, C, H, W) -> y (N, C, P, Q) = window sum / divisor. With count_include_pad the divisor counts
// the padded window clipped to the padded input (always kernel_h * kernel_w in floor mode); without
// it, only real input elements. No aliasing.
template <typename T>
void avg_pool2d_forward_cpu(const Pool2dParams& p, const T* x, T* y);

// dx (N, C, H, W) = 0, then each dy / divisor is added to its window. No aliasing.
template <typename T>
void avg_pool2d_backward_cpu(const Pool2dParams& p, const T* dy, T* dx);

// x (planes, HW) -> y (planes) = mean over HW, planes = N * C. No aliasing.
template <typename T>
void global_avg_pool_forward_cpu(index_t planes, index_t HW, const T* x, T* y);

// dx (planes, HW) = dy[plane] / HW. No aliasing.
template <typename T>
void global_avg_pool_backward_cpu(index_t planes, index_t HW, const T* dy, T* dx);

// x (planes, HW) -> y (planes) = max over HW; indices (planes), may be null: position in [0, HW) of the
// first maximum (NaN wins), like adaptive_max_pool2d(1). No aliasing.
template <typename T>
void global_max_pool_forward_cpu(index_t planes, index_t HW, const T* x, T* y, std::int64_t* indices);

// dx (planes, HW) = dy[plane] at indices[plane], 0 elsewhere. No aliasing.
template <typename T>
void global_max_pool_backward_cpu(index_t planes, index_t HW, const T* dy, const std::int64_t* indices,
                                  T* dx);

}  // namespace kern
