#include "kernels/cpu/affine.h"

namespace kern {

template <typename T>
void channel_affine_forward_cpu(index_t N, index_t C, index_t HW, const T* x, const T* weight, const T* bias, T* y) {
#pragma omp parallel for collapse(2) schedule(static) if (N * C * HW >= kParallelMin)
  for (index_t i = 0; i < N; ++i) {
    for (index_t c = 0; c < C; ++c) {
      const T w = weight[c];
      const T* xc = x + (i * C + c) * HW;
      T* yc = y + (i * C + c) * HW;
      if (bias) {
        const T b = bias[c];
        for (index_t k = 0; k < HW; ++k) {
          const T scaled = xc[k] * w;  // rounded before the add: no fused multiply-add
          yc[k] = scaled + b;
        }
      } else {
        for (index_t k = 0; k < HW; ++k) yc[k] = xc[k] * w;
      }
    }
  }
}

template <typename T>
void channel_affine_backward_cpu(index_t N, index_t C, index_t HW, const T* dy, const T* x, const T* weight, T* dx,
                                 T* dweight, T* dbias) {
#pragma omp parallel for schedule(static) if (N * C * HW >= kParallelMin)
  for (index_t c = 0; c < C; ++c) {
    const T w = weight[c];
    double sum_dy_x = 0, sum_dy = 0;
    for (index_t i = 0; i < N; ++i) {
      const T* xc = x + (i * C + c) * HW;
      const T* dyc = dy + (i * C + c) * HW;
      T* dxc = dx ? dx + (i * C + c) * HW : nullptr;
      for (index_t k = 0; k < HW; ++k) {
        const T g = dyc[k];
        sum_dy_x += double(g) * double(xc[k]);
        sum_dy += double(g);
        if (dxc) dxc[k] = g * w;
      }
    }
    if (dweight) dweight[c] = T(sum_dy_x);
    if (dbias) dbias[c] = T(sum_dy);
  }
}

#define KERN_INSTANTIATE(T)                                                                                 \
  template void channel_affine_forward_cpu<T>(index_t, index_t, index_t, const T*, const T*, const T*, T*); \
  template void channel_affine_backward_cpu<T>(index_t, index_t, index_t, const T*, const T*, const T*, T*, T*, T*);
KERN_INSTANTIATE(float)
KERN_INSTANTIATE(double)
#undef KERN_INSTANTIATE

}  // namespace kern
