// Reductions along one dimension, forward and backward: mean and amax.
// Every tensor is viewed as (outer, D, inner), reduced over D: for x (N, C, H, W) and dim 1 that is
// outer = N, D = C, inner = H * W, which is the channel reduction of spatial attention (CBAM).
// Outputs are assigned (=); nothing aliases. Sums accumulate in double in index order, so the result
// does not depend on the number of threads.
#pragma once

#include <cstdint>

#include "kernels/params.h"

namespace kern {

// y (outer, inner) = mean over d of x (outer, D, inner). D > 0.
template <typename T>
void mean_dim_forward_cpu(index_t outer, index_t D, index_t inner, const T* x, T* y);

// dx (outer, D, inner) = dy[o, i] / D.
template <typename T>
void mean_dim_backward_cpu(index_t outer, index_t D, index_t inner, const T* dy, T* dx);

// y (outer, inner) = max over d of x (outer, D, inner); index (outer, inner) = the first d that attains it
// (torch.max(x, dim) semantics). A NaN wins over every number, and the first NaN is the one indexed,
// so NaN propagates as in PyTorch. D > 0.
template <typename T>
void amax_dim_forward_cpu(index_t outer, index_t D, index_t inner, const T* x, T* y, std::int64_t* index);

// dx (outer, D, inner) = dy[o, i] at d == index[o, i], 0 elsewhere: the whole gradient goes to the saved
// argmax (torch.max(dim)'s backward; torch.amax would split it evenly among ties).
template <typename T>
void amax_dim_backward_cpu(index_t outer, index_t D, index_t inner, const T* dy, const std::int64_t* index, T* dx);

}  // namespace kern
