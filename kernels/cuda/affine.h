// channel_affine on the GPU: the kernels of kernels/cpu/affine.h with the same contracts (outputs
// assigned, null pointers not wanted, y may alias x, dx may alias dy), plus a workspace and a stream.
// All pointers are device memory; T = float or double. The forward rounds its multiply and its add
// separately, as the CPU kernel does, so the two agree bit for bit. The backward's channel sums
// accumulate in double in a fixed tree (reproducible, not the CPU's order).
#pragma once

#include "kernels/cuda/stream.h"
#include "kernels/params.h"

namespace kern {

// Doubles of device scratch the backward needs for dweight and dbias (nothing is allocated).
index_t channel_affine_backward_workspace_size(index_t N, index_t C, index_t HW);

template <typename T>
void channel_affine_forward_cuda(index_t N, index_t C, index_t HW, const T* x, const T* weight, const T* bias, T* y,
                                 Stream stream);

// The workspace is read only when dweight or dbias is wanted (it may be null otherwise).
template <typename T>
void channel_affine_backward_cuda(index_t N, index_t C, index_t HW, const T* dy, const T* x, const T* weight, T* dx,
                                  T* dweight, T* dbias, double* workspace, Stream stream);

}  // namespace kern
