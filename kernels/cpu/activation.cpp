// Activation CPU kernels; contracts in activation.h.
#include "kernels/cpu/activation.h"

#include <cmath>
#include <vector>

#include "kernels/cpu/simd.h"

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
      affine_prelu(xc, yc, HW, T(1), T(0), a);
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
    using S = Simd<T>;
    const typename S::reg va = S::set1(a);
    double acc = 0;
    for (index_t i = 0; i < N; ++i) {
      const T* xc = x + (i * C + c) * HW;
      const T* dyc = dy + (i * C + c) * HW;
      T* dxc = dx ? dx + (i * C + c) * HW : nullptr;
      // Vector lanes of the slope's partial sum are added in double once per plane: a fixed order,
      // whatever the thread count.
      typename S::reg lanes = S::zero();
      index_t k = 0;
      for (; k + S::width <= HW; k += S::width) {
        const typename S::reg xv = S::load(xc + k), g = S::load(dyc + k);
        if (dxc) S::store(dxc + k, S::select_positive(xv, g, S::mul(va, g)));
        lanes = S::fma(S::select_positive(xv, S::zero(), xv), g, lanes);
      }
      for (; k < HW; ++k) {
        if (dxc) dxc[k] = xc[k] > T(0) ? dyc[k] : a * dyc[k];
        if (!(xc[k] > T(0))) acc += double(xc[k]) * double(dyc[k]);
      }
      alignas(64) T lane[S::width];
      S::store(lane, lanes);
      for (int l = 0; l < S::width; ++l) acc += double(lane[l]);
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
