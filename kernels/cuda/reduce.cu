// Reductions along one dimension on the GPU; contracts in reduce.h (and kernels/cpu/reduce.h).
// Threads of a warp take neighbouring inner positions, so for inner > 1 the loop over d reads coalesced.
#include "kernels/cuda/reduce.h"

#include "kernels/cuda/common.cuh"

namespace kern {

namespace {

using cu::global_index;
using cu::grid_stride;

template <typename T>
__global__ void mean_dim_forward_kernel(index_t outer, index_t D, index_t inner, const T* x, T* y) {
  for (index_t j = global_index(); j < outer * inner; j += grid_stride()) {
    const T* xo = x + (j / inner) * D * inner + j % inner;
    double acc = 0;
    for (index_t d = 0; d < D; ++d) acc += double(xo[d * inner]);
    y[j] = T(acc / double(D));
  }
}

template <typename T>
__global__ void mean_dim_backward_kernel(index_t n, index_t D, index_t inner, const T* dy, T scale, T* dx) {
  for (index_t j = global_index(); j < n; j += grid_stride())
    dx[j] = dy[(j / (D * inner)) * inner + j % inner] * scale;
}

template <typename T>
__global__ void amax_dim_forward_kernel(index_t outer, index_t D, index_t inner, const T* x, T* y,
                                        std::int64_t* index) {
  for (index_t j = global_index(); j < outer * inner; j += grid_stride()) {
    const T* xo = x + (j / inner) * D * inner + j % inner;
    T best = xo[0];
    std::int64_t arg = 0;
    for (index_t d = 1; d < D && !isnan(best); ++d) {
      const T v = xo[d * inner];
      if (v > best || isnan(v)) {  // strict: the first maximum keeps the index
        best = v;
        arg = d;
      }
    }
    y[j] = best;
    index[j] = arg;
  }
}

template <typename T>
__global__ void amax_dim_backward_kernel(index_t n, index_t D, index_t inner, const T* dy,
                                         const std::int64_t* index, T* dx) {
  for (index_t j = global_index(); j < n; j += grid_stride()) {
    const index_t o = j / (D * inner), d = (j / inner) % D, i = j % inner;
    dx[j] = index[o * inner + i] == d ? dy[o * inner + i] : T(0);
  }
}

}  // namespace

template <typename T>
void mean_dim_forward_cuda(index_t outer, index_t D, index_t inner, const T* x, T* y, Stream stream) {
  if (outer * inner <= 0) return;
  mean_dim_forward_kernel<<<cu::blocks_for(outer * inner), cu::kThreads, 0, stream>>>(outer, D, inner, x, y);
  cu::check_launch("mean_dim_forward_cuda");
}

template <typename T>
void mean_dim_backward_cuda(index_t outer, index_t D, index_t inner, const T* dy, T* dx, Stream stream) {
  const index_t n = outer * D * inner;
  if (n <= 0) return;
  const T scale = T(1.0 / double(D));
  mean_dim_backward_kernel<<<cu::blocks_for(n), cu::kThreads, 0, stream>>>(n, D, inner, dy, scale, dx);
  cu::check_launch("mean_dim_backward_cuda");
}

template <typename T>
void amax_dim_forward_cuda(index_t outer, index_t D, index_t inner, const T* x, T* y, std::int64_t* index,
                           Stream stream) {
  if (outer * inner <= 0) return;
  amax_dim_forward_kernel<<<cu::blocks_for(outer * inner), cu::kThreads, 0, stream>>>(outer, D, inner, x, y,
                                                                                      index);
  cu::check_launch("amax_dim_forward_cuda");
}

template <typename T>
void amax_dim_backward_cuda(index_t outer, index_t D, index_t inner, const T* dy, const std::int64_t* index,
                            T* dx, Stream stream) {
  const index_t n = outer * D * inner;
  if (n <= 0) return;
  amax_dim_backward_kernel<<<cu::blocks_for(n), cu::kThreads, 0, stream>>>(n, D, inner, dy, index, dx);
  cu::check_launch("amax_dim_backward_cuda");
}

#define KERN_INSTANTIATE(T)                                                                                  \
  template void mean_dim_forward_cuda<T>(index_t, index_t, index_t, const T*, T*, Stream);                   \
  template void mean_dim_backward_cuda<T>(index_t, index_t, index_t, const T*, T*, Stream);                  \
  template void amax_dim_forward_cuda<T>(index_t, index_t, index_t, const T*, T*, std::int64_t*, Stream);    \
  template void amax_dim_backward_cuda<T>(index_t, index_t, index_t, const T*, const std::int64_t*, T*, Stream);
KERN_INSTANTIATE(float)
KERN_INSTANTIATE(double)
#undef KERN_INSTANTIATE

}  // namespace kern
