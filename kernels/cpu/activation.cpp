// Activation CPU kernels; contracts in activation.h.
#include "kernels/cpu/activation.h"

#include <cmath>
#include <vector>

namespace kern {


template <typename T>
void relu_forward_cpu(index_t n, const T* x, T* y) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (index_t i = 0; i < n; ++i) y[i] = (x[i] > T(0) || std::isnan(x[i])) ? x[i] : T(0);
}

template <typename T>
void relu_backward_cpu(index_t n, const T* dy, const T* y, T* dx) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (index_t i = 0; i < n; ++i) dx[i] = y[i] > T(0) ? dy[i] : T(0);
}

template <typename T>
void sigmoid_forward_cpu(index_t n, const T* x, T* y) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (index_t i = 0; i < n; ++i) {
    // exp of a non-positive argument never overflows.
    if (x[i] >= T(0)) {
      y[i] = T(1) / (T(1) + std::exp(-x[i]));
    } else {
      const T e = std::exp(x[i]);
      y[i] = e / (T(1) + e);
    }
  }
}

template <typename T>
void sigmoid_backward_cpu(index_t n, const T* dy, const T* y, T* dx) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (index_t i = 0; i < n; ++i) dx[i] = dy[i] * y[i] * (T(1) - y[i]);
}

template <typename T>
void prelu_forward_cpu(index_t N, index_t C, index_t HW, index_t num_weights, const T* x,
                       const T* weight, T* y) {
#pragma omp parallel for collapse(2) schedule(static) if (N * C * HW >= kParallelMin)
  for (index_t i = 0; i < N; ++i) {
    for (index_t c = 0; c < C; ++c) {
      const T a = weight[num_weights == 1 ? 0 : c];
      const T* xc = x + (i * C + c) * HW;
      T* yc = y + (i * C + c) * HW;
      for (index_t k = 0; k < HW; ++k) yc[k] = xc[k] > T(0) ? xc[k] : a * xc[k];
    }
  }
}

template <typename T>
void prelu_backward_cpu(index_t N, index_t C, index_t HW, index_t num_weights, const T* dy,
                        const T* x, const T* weight, T* dx, T* dweight) {
  // One partial per channel even for a shared slope, so the order of the final sum is fixed.
  std::vector<double> partial(dweight ? C : 0);
#pragma omp parallel for schedule(static) if (N * C * HW >= kParallelMin)
  for (index_t c = 0; c < C; ++c) {
    const T a = weight[num_weights == 1 ? 0 : c];
    double acc = 0;
    for (index_t i = 0; i < N; ++i) {
      const T* xc = x + (i * C + c) * HW;
      const T* dyc = dy + (i * C + c) * HW;
      if (dx) {
        T* dxc = dx + (i * C + c) * HW;
        for (index_t k = 0; k < HW; ++k) dxc[k] = xc[k] > T(0) ? dyc[k] : a * dyc[k];
      }
      if (!dweight) continue;
      // Lane-wise partial sums (independent, so the compiler vectorises them without reassociating),
      // added in double once per plane: fixed order, whatever the thread count.
      constexpr int L = 16;
      T lanes[L] = {};
      index_t k = 0;
      for (; k + L <= HW; k += L)
        for (int l = 0; l < L; ++l) lanes[l] += xc[k + l] > T(0) ? T(0) : xc[k + l] * dyc[k + l];
      for (; k < HW; ++k) acc += xc[k] > T(0) ? 0.0 : double(xc[k]) * double(dyc[k]);
      for (int l = 0; l < L; ++l) acc += double(lanes[l]);
    }
    if (dweight) partial[c] = acc;
  }
  if (!dweight) return;
  if (num_weights == 1) {
    double total = 0;
    for (index_t c = 0; c < C; ++c) total += partial[c];
    dweight[0] = T(total);
  } else {
    for (index_t c = 0; c < C; ++c) dweight[c] = T(partial[c]);
  }
}

#define KERN_INSTANTIATE(T)                                                                        \
  template void relu_forward_cpu<T>(index_t, const T*, T*);                                        \
  template void relu_backward_cpu<T>(index_t, const T*, const T*, T*);                             \
  template void sigmoid_forward_cpu<T>(index_t, const T*, T*);                                     \
  template void sigmoid_backward_cpu<T>(index_t, const T*, const T*, T*);                          \
  template void prelu_forward_cpu<T>(index_t, index_t, index_t, index_t, const T*, const T*, T*); \
  template void prelu_backward_cpu<T>(index_t, index_t, index_t, index_t, const T*, const T*,     \
                                      const T*, T*, T*);
KERN_INSTANTIATE(float)
KERN_INSTANTIATE(double)
#undef KERN_INSTANTIATE

}  // namespace kern
