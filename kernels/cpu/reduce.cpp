// Reductions along one dimension; contracts in reduce.h.
#include "kernels/cpu/reduce.h"

#include <cmath>
#include <vector>

namespace kern {


template <typename T>
void mean_dim_forward_cpu(index_t outer, index_t D, index_t inner, const T* x, T* y) {
  // Each output row is accumulated over d in order, inner positions side by side (unit stride).
#pragma omp parallel for schedule(static) if (outer * D * inner >= kParallelMin)
  for (index_t o = 0; o < outer; ++o) {
    std::vector<double> acc(static_cast<std::size_t>(inner), 0.0);
    const T* xo = x + o * D * inner;
    for (index_t d = 0; d < D; ++d)
      for (index_t i = 0; i < inner; ++i) acc[i] += double(xo[d * inner + i]);
    for (index_t i = 0; i < inner; ++i) y[o * inner + i] = T(acc[i] / double(D));
  }
}

template <typename T>
void mean_dim_backward_cpu(index_t outer, index_t D, index_t inner, const T* dy, T* dx) {
  const T scale = T(1.0 / double(D));
#pragma omp parallel for schedule(static) if (outer * D * inner >= kParallelMin)
  for (index_t o = 0; o < outer; ++o)
    for (index_t d = 0; d < D; ++d)
      for (index_t i = 0; i < inner; ++i) dx[(o * D + d) * inner + i] = dy[o * inner + i] * scale;
}

template <typename T>
void amax_dim_forward_cpu(index_t outer, index_t D, index_t inner, const T* x, T* y, std::int64_t* index) {
#pragma omp parallel for schedule(static) if (outer * D * inner >= kParallelMin)
  for (index_t o = 0; o < outer; ++o) {
    const T* xo = x + o * D * inner;
    for (index_t i = 0; i < inner; ++i) {
      T best = xo[i];
      std::int64_t arg = 0;
      for (index_t d = 1; d < D && !std::isnan(best); ++d) {
        const T v = xo[d * inner + i];
        if (v > best || std::isnan(v)) {  // strict: the first maximum keeps the index
          best = v;
          arg = d;
        }
      }
      y[o * inner + i] = best;
      index[o * inner + i] = arg;
    }
  }
}

template <typename T>
void amax_dim_backward_cpu(index_t outer, index_t D, index_t inner, const T* dy, const std::int64_t* index, T* dx) {
#pragma omp parallel for schedule(static) if (outer * D * inner >= kParallelMin)
  for (index_t o = 0; o < outer; ++o)
    for (index_t d = 0; d < D; ++d)
      for (index_t i = 0; i < inner; ++i)
        dx[(o * D + d) * inner + i] = index[o * inner + i] == d ? dy[o * inner + i] : T(0);
}

#define KERN_INSTANTIATE(T)                                                                      \
  template void mean_dim_forward_cpu<T>(index_t, index_t, index_t, const T*, T*);                \
  template void mean_dim_backward_cpu<T>(index_t, index_t, index_t, const T*, T*);               \
  template void amax_dim_forward_cpu<T>(index_t, index_t, index_t, const T*, T*, std::int64_t*); \
  template void amax_dim_backward_cpu<T>(index_t, index_t, index_t, const T*, const std::int64_t*, T*);
KERN_INSTANTIATE(float)
KERN_INSTANTIATE(double)
#undef KERN_INSTANTIATE

}  // namespace kern
