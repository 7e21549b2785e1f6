// The CUDA twins of kernels/cpu/reduce.h: reductions over D of (outer, D, inner). Same names with _cuda,
// same arguments plus a trailing stream, same contracts. Pointers are device memory. T = float or double.
// One thread per output walks d in order, so the forwards are bitwise the CPU's.
#pragma once

#include <cstdint>

#include "kernels/cuda/stream.h"
#include "kernels/params.h"

namespace kern {

// y (outer, inner) = mean over d of x (outer, D, inner), summed in double. D > 0.
template <typename T>
void mean_dim_forward_cuda(index_t outer, index_t D, index_t inner, const T* x, T* y, Stream stream);

// dx (outer, D, inner) = dy[o, i] / D.
template <typename T>
void mean_dim_backward_cuda(index_t outer, index_t D, index_t inner, const T* dy, T* dx, Stream stream);

// y (outer, inner) = max over d; index (outer, inner) = the first d attaining it; the first NaN wins. D > 0.
template <typename T>
void amax_dim_forward_cuda(index_t outer, index_t D, index_t inner, const T* x, T* y, std::int64_t* index,
                           Stream stream);

// dx (outer, D, inner) = dy[o, i] at d == index[o, i], 0 elsewhere.
template <typename T>
void amax_dim_backward_cuda(index_t outer, index_t D, index_t inner, const T* dy, const std::int64_t* index,
                            T* dx, Stream stream);

}  // namespace kern
