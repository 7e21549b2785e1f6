// Elementwise and reduction CPU kernels; contracts in elementwise.h.
#include "kernels/cpu/elementwise.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace kern {


template <typename T>
void add_cpu(index_t n, const T* a, const T* b, T* y) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (index_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

template <typename T>
void sub_cpu(index_t n, const T* a, const T* b, T* y) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (index_t i = 0; i < n; ++i) y[i] = a[i] - b[i];
}

template <typename T>
void mul_cpu(index_t n, const T* a, const T* b, T* y) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (index_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}

template <typename T>
void mul_scalar_cpu(index_t n, const T* x, T alpha, T* y) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (index_t i = 0; i < n; ++i) y[i] = alpha * x[i];
}

template <typename T>
void add_scalar_cpu(index_t n, const T* x, T alpha, T* y) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (index_t i = 0; i < n; ++i) y[i] = x[i] + alpha;
}

template <typename T>
void fill_cpu(index_t n, T value, T* y) {
  std::fill(y, y + n, value);
}

template <typename T>
void fill_from_cpu(index_t n, const T* value, T* y) {
  if (n > 0) std::fill(y, y + n, *value);
}

template <typename T>
void copy_cpu(index_t n, const T* x, T* y) {
  if (x != y && n > 0) std::memcpy(y, x, sizeof(T) * std::size_t(n));
}

template <typename T>
void axpy_cpu(index_t n, T alpha, const T* x, T* y) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (index_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

template <typename T>
void channel_mul_forward_cpu(index_t N, index_t C, index_t HW, const T* x, const T* s, T* y) {
#pragma omp parallel for schedule(static) if (N * C * HW >= kParallelMin)
  for (index_t nc = 0; nc < N * C; ++nc) {
    const T g = s[nc];
    for (index_t k = 0; k < HW; ++k) y[nc * HW + k] = x[nc * HW + k] * g;
  }
}

template <typename T>
void channel_mul_backward_cpu(index_t N, index_t C, index_t HW, const T* dy, const T* x, const T* s,
                              T* dx, T* ds) {
#pragma omp parallel for schedule(static) if (N * C * HW >= kParallelMin)
  for (index_t nc = 0; nc < N * C; ++nc) {
    const T g = s[nc];
    double acc = 0;
    for (index_t k = 0; k < HW; ++k) {
      const T d = dy[nc * HW + k];
      acc += double(d) * double(x[nc * HW + k]);
      if (dx) dx[nc * HW + k] = d * g;
    }
    if (ds) ds[nc] = T(acc);
  }
}

template <typename T>
void spatial_mul_forward_cpu(index_t N, index_t C, index_t HW, const T* x, const T* s, T* y) {
#pragma omp parallel for schedule(static) if (N * C * HW >= kParallelMin)
  for (index_t nc = 0; nc < N * C; ++nc) {
    const T* g = s + (nc / C) * HW;
    for (index_t k = 0; k < HW; ++k) y[nc * HW + k] = x[nc * HW + k] * g[k];
  }
}

template <typename T>
void spatial_mul_backward_cpu(index_t N, index_t C, index_t HW, const T* dy, const T* x, const T* s,
                              T* dx, T* ds) {
  // One sample per iteration: ds (a sum over channels) is then accumulated in a fixed order.
#pragma omp parallel for schedule(static) if (N * C * HW >= kParallelMin)
  for (index_t n = 0; n < N; ++n) {
    const T* g = s + n * HW;
    std::vector<double> acc(ds ? static_cast<std::size_t>(HW) : 0, 0.0);
    for (index_t c = 0; c < C; ++c) {
      const index_t base = (n * C + c) * HW;
      for (index_t k = 0; k < HW; ++k) {
        const T d = dy[base + k];
        if (ds) acc[k] += double(d) * double(x[base + k]);
        if (dx) dx[base + k] = d * g[k];
      }
    }
    if (ds)
      for (index_t k = 0; k < HW; ++k) ds[n * HW + k] = T(acc[k]);
  }
}

template <typename T>
void sqrt_forward_cpu(index_t n, const T* x, T* y) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (index_t i = 0; i < n; ++i) y[i] = std::sqrt(x[i]);
}

template <typename T>
void sqrt_backward_cpu(index_t n, const T* dy, const T* y, T* dx) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (index_t i = 0; i < n; ++i) dx[i] = dy[i] / (T(2) * y[i]);
}

template <typename T>
void clamp_forward_cpu(index_t n, const T* x, T lo, T hi, T* y) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (index_t i = 0; i < n; ++i) y[i] = x[i] < lo ? lo : (x[i] > hi ? hi : x[i]);
}

template <typename T>
void clamp_backward_cpu(index_t n, const T* dy, const T* x, T lo, T hi, T* dx) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (index_t i = 0; i < n; ++i) dx[i] = (x[i] >= lo && x[i] <= hi) ? dy[i] : T(0);
}

template <typename T>
void l2_normalize_forward_cpu(index_t N, index_t D, const T* x, T* y, T* norm, double eps) {
#pragma omp parallel for schedule(static) if (N * D >= kParallelMin)
  for (index_t i = 0; i < N; ++i) {
    const T* xr = x + i * D;
    double ss = 0;
    for (index_t j = 0; j < D; ++j) ss += double(xr[j]) * double(xr[j]);
    const double nrm = std::sqrt(ss);
    const double inv = 1.0 / std::max(nrm, eps);
    for (index_t j = 0; j < D; ++j) y[i * D + j] = T(xr[j] * inv);
    if (norm) norm[i] = T(nrm);
  }
}

template <typename T>
void l2_normalize_backward_cpu(index_t N, index_t D, const T* dy, const T* x, const T* norm, T* dx,
                               double eps) {
#pragma omp parallel for schedule(static) if (N * D >= kParallelMin)
  for (index_t i = 0; i < N; ++i) {
    const T* xr = x + i * D;
    const T* dyr = dy + i * D;
    const double nrm = norm[i];
    const double d = std::max(nrm, eps);
    double x_dot_dy = 0;
    for (index_t j = 0; j < D; ++j) x_dot_dy += double(xr[j]) * double(dyr[j]);
    const double through_norm = nrm >= eps ? x_dot_dy / (nrm * d * d) : 0.0;
    for (index_t j = 0; j < D; ++j) dx[i * D + j] = T(dyr[j] / d - xr[j] * through_norm);
  }
}

template <typename T>
void dropout_forward_cpu(index_t n, double p, const T* x, const std::uint8_t* mask, T* y) {
  // PyTorch multiplies by the scale 1 / (1 - p) rounded to T rather than dividing by 1 - p; so do we,
  // so the rounding matches.
  const T scale = p >= 1 ? T(0) : T(1) / T(1 - p);
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (index_t i = 0; i < n; ++i) y[i] = mask[i] ? x[i] * scale : T(0);
}

template <typename T>
void dropout_backward_cpu(index_t n, double p, const T* dy, const std::uint8_t* mask, T* dx) {
  const T scale = p >= 1 ? T(0) : T(1) / T(1 - p);
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (index_t i = 0; i < n; ++i) dx[i] = mask[i] ? dy[i] * scale : T(0);
}

namespace {

// Block size fixed independently of the thread count, so the summation tree is too.
constexpr index_t kSumBlock = 4096;

template <typename T, typename F>
double blocked_sum(index_t n, const T* x, F term) {
  const index_t blocks = (n + kSumBlock - 1) / kSumBlock;
  std::vector<double> partial(blocks);
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (index_t b = 0; b < blocks; ++b) {
    double acc = 0;
    for (index_t i = b * kSumBlock; i < std::min(n, (b + 1) * kSumBlock); ++i) acc += term(x[i]);
    partial[b] = acc;
  }
  double total = 0;
  for (double v : partial) total += v;
  return total;
}

}  // namespace

template <typename T>
void sum_cpu(index_t n, const T* x, T* out) {
  *out = T(blocked_sum(n, x, [](T v) { return double(v); }));
}

template <typename T>
void sum_squares_cpu(index_t n, const T* x, T* out) {
  *out = T(blocked_sum(n, x, [](T v) { return double(v) * double(v); }));
}

template <typename T>
void plane_add_forward_cpu(index_t planes, index_t HW, const T* x, const T* s, T* y) {
#pragma omp parallel for schedule(static) if (planes * HW >= kParallelMin)
  for (index_t i = 0; i < planes; ++i) add_scalar_cpu(HW, x + i * HW, s[i], y + i * HW);
}

template <typename T>
void plane_sum_cpu(index_t planes, index_t HW, const T* x, T* y) {
#pragma omp parallel for schedule(static) if (planes * HW >= kParallelMin)
  for (index_t i = 0; i < planes; ++i) sum_cpu(HW, x + i * HW, y + i);
}

#define KERN_INSTANTIATE(T)                                                                          \
  template void add_cpu<T>(index_t, const T*, const T*, T*);                                         \
  template void sub_cpu<T>(index_t, const T*, const T*, T*);                                         \
  template void mul_cpu<T>(index_t, const T*, const T*, T*);                                         \
  template void mul_scalar_cpu<T>(index_t, const T*, T, T*);                                         \
  template void add_scalar_cpu<T>(index_t, const T*, T, T*);                                         \
  template void fill_cpu<T>(index_t, T, T*);                                                         \
  template void fill_from_cpu<T>(index_t, const T*, T*);                                             \
  template void copy_cpu<T>(index_t, const T*, T*);                                                  \
  template void axpy_cpu<T>(index_t, T, const T*, T*);                                               \
  template void channel_mul_forward_cpu<T>(index_t, index_t, index_t, const T*, const T*, T*);       \
  template void channel_mul_backward_cpu<T>(index_t, index_t, index_t, const T*, const T*, const T*, \
                                            T*, T*);                                                 \
  template void spatial_mul_forward_cpu<T>(index_t, index_t, index_t, const T*, const T*, T*);       \
  template void spatial_mul_backward_cpu<T>(index_t, index_t, index_t, const T*, const T*, const T*, \
                                            T*, T*);                                                 \
  template void sqrt_forward_cpu<T>(index_t, const T*, T*);                                          \
  template void sqrt_backward_cpu<T>(index_t, const T*, const T*, T*);                               \
  template void clamp_forward_cpu<T>(index_t, const T*, T, T, T*);                                   \
  template void clamp_backward_cpu<T>(index_t, const T*, const T*, T, T, T*);                        \
  template void l2_normalize_forward_cpu<T>(index_t, index_t, const T*, T*, T*, double);             \
  template void l2_normalize_backward_cpu<T>(index_t, index_t, const T*, const T*, const T*, T*,     \
                                             double);                                                \
  template void dropout_forward_cpu<T>(index_t, double, const T*, const std::uint8_t*, T*);          \
  template void dropout_backward_cpu<T>(index_t, double, const T*, const std::uint8_t*, T*);         \
  template void sum_cpu<T>(index_t, const T*, T*);                                                   \
  template void sum_squares_cpu<T>(index_t, const T*, T*);                                           \
  template void plane_add_forward_cpu<T>(index_t, index_t, const T*, const T*, T*);                  \
  template void plane_sum_cpu<T>(index_t, index_t, const T*, T*);
KERN_INSTANTIATE(float)
KERN_INSTANTIATE(double)
#undef KERN_INSTANTIATE

}  // namespace kern
