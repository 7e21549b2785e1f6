// The conv2d spec: direct loops over every (output, tap) pair, written for obviousness, not speed. The
// fast im2col path in conv2d.cpp is tested against these. Contracts are in conv2d.h.
#include <algorithm>

#include "kernels/cpu/conv2d.h"

namespace kern {

namespace {
// The input pixel tap (r, s) of output (pp, q) reads, or false when it falls in the padding.
bool tap(const Conv2dParams& p, index_t pp, index_t q, index_t r, index_t s, index_t& h, index_t& w) {
  h = pp * p.stride_h - p.pad_h + r * p.dil_h;
  w = q * p.stride_w - p.pad_w + s * p.dil_w;
  return h >= 0 && h < p.H && w >= 0 && w < p.W;
}
}  // namespace

template <typename T>
void conv2d_forward_reference(const Conv2dParams& p, const T* x, const T* w, const T* bias, T* y) {
  const index_t P = p.P(), Q = p.Q(), Cg = p.C_per_group(), Kg = p.K_per_group();
  for (index_t n = 0; n < p.N; ++n)
    for (index_t k = 0; k < p.K; ++k)
      for (index_t pp = 0; pp < P; ++pp)
        for (index_t q = 0; q < Q; ++q) {
          T sum = p.has_bias ? bias[k] : T(0);
          for (index_t cg = 0; cg < Cg; ++cg) {
            const index_t c = (k / Kg) * Cg + cg;
            for (index_t r = 0; r < p.R; ++r)
              for (index_t s = 0; s < p.S; ++s) {
                index_t h, ww;
                if (!tap(p, pp, q, r, s, h, ww)) continue;
                sum += w[((k * Cg + cg) * p.R + r) * p.S + s] * x[((n * p.C + c) * p.H + h) * p.W + ww];
              }
          }
          y[((n * p.K + k) * P + pp) * Q + q] = sum;
        }
}

template <typename T>
void conv2d_backward_data_reference(const Conv2dParams& p, const T* dy, const T* w, T* dx) {
  const index_t P = p.P(), Q = p.Q(), Cg = p.C_per_group(), Kg = p.K_per_group();
  std::fill(dx, dx + p.N * p.C * p.H * p.W, T(0));
  for (index_t n = 0; n < p.N; ++n)
    for (index_t k = 0; k < p.K; ++k)
      for (index_t pp = 0; pp < P; ++pp)
        for (index_t q = 0; q < Q; ++q) {
          const T g = dy[((n * p.K + k) * P + pp) * Q + q];
          for (index_t cg = 0; cg < Cg; ++cg) {
            const index_t c = (k / Kg) * Cg + cg;
            for (index_t r = 0; r < p.R; ++r)
              for (index_t s = 0; s < p.S; ++s) {
                index_t h, ww;
                if (!tap(p, pp, q, r, s, h, ww)) continue;
                dx[((n * p.C + c) * p.H + h) * p.W + ww] += g * w[((k * Cg + cg) * p.R + r) * p.S + s];
              }
          }
        }
}

template <typename T>
void conv2d_backward_weight_reference(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db) {
  const index_t P = p.P(), Q = p.Q(), Cg = p.C_per_group(), Kg = p.K_per_group();
  for (index_t k = 0; k < p.K; ++k)
    for (index_t cg = 0; cg < Cg; ++cg) {
      const index_t c = (k / Kg) * Cg + cg;
      for (index_t r = 0; r < p.R; ++r)
        for (index_t s = 0; s < p.S; ++s) {
          T sum = 0;
          for (index_t n = 0; n < p.N; ++n)
            for (index_t pp = 0; pp < P; ++pp)
              for (index_t q = 0; q < Q; ++q) {
                index_t h, ww;
                if (!tap(p, pp, q, r, s, h, ww)) continue;
                sum += dy[((n * p.K + k) * P + pp) * Q + q] * x[((n * p.C + c) * p.H + h) * p.W + ww];
              }
          dw[((k * Cg + cg) * p.R + r) * p.S + s] = sum;
        }
    }
  if (db)
    for (index_t k = 0; k < p.K; ++k) {
      T sum = 0;
      for (index_t n = 0; n < p.N; ++n)
        for (index_t j = 0; j < P * Q; ++j) sum += dy[(n * p.K + k) * P * Q + j];
      db[k] = sum;
    }
}

#define NN_CONV2D_REFERENCE_INSTANTIATE(T)                                                              \
  template void conv2d_forward_reference<T>(const Conv2dParams&, const T*, const T*, const T*, T*);    \
  template void conv2d_backward_data_reference<T>(const Conv2dParams&, const T*, const T*, T*);        \
  template void conv2d_backward_weight_reference<T>(const Conv2dParams&, const T*, const T*, T*, T*);
NN_CONV2D_REFERENCE_INSTANTIATE(float)
NN_CONV2D_REFERENCE_INSTANTIATE(double)
#undef NN_CONV2D_REFERENCE_INSTANTIATE

}  // namespace kern
