// Pooling on the GPU: the kernels of kernels/cpu/pool.h with the same contracts (outputs assigned, no
// aliasing, indices may be null in the forwards), plus a stream. All pointers are device memory;
// T = float or double. No workspace.
//
// Forwards give one output to one thread (one warp per plane for the global pools) and scan the window
// in the CPU's order, so values, the tie rule (first maximum, a NaN wins) and the indices agree exactly.
// Backwards gather instead of scatter: each input element sums the outputs whose windows cover it, in
// increasing output order, which is the order the CPU's scatter adds them in. Race-free without atomics,
// and bit-identical to the CPU except global average pooling's forward sum (a tree).
#pragma once

#include <cstdint>

#include "kernels/cuda/stream.h"
#include "kernels/params.h"

namespace kern {

template <typename T>
void max_pool2d_forward_cuda(const Pool2dParams& p, const T* x, T* y, std::int64_t* indices, Stream stream);

// indices must come from max_pool2d_forward (each lies in its own window): the gather only looks there.
template <typename T>
void max_pool2d_backward_cuda(const Pool2dParams& p, const T* dy, const std::int64_t* indices, T* dx,
                              Stream stream);

template <typename T>
void avg_pool2d_forward_cuda(const Pool2dParams& p, const T* x, T* y, Stream stream);

template <typename T>
void avg_pool2d_backward_cuda(const Pool2dParams& p, const T* dy, T* dx, Stream stream);

template <typename T>
void global_avg_pool_forward_cuda(index_t planes, index_t HW, const T* x, T* y, Stream stream);

template <typename T>
void global_avg_pool_backward_cuda(index_t planes, index_t HW, const T* dy, T* dx, Stream stream);

template <typename T>
void global_max_pool_forward_cuda(index_t planes, index_t HW, const T* x, T* y, std::int64_t* indices,
                                  Stream stream);

template <typename T>
void global_max_pool_backward_cuda(index_t planes, index_t HW, const T* dy, const std::int64_t* indices, T* dx,
                                   Stream stream);

}  // namespace kern
