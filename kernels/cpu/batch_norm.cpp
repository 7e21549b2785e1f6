// batch_norm CPU kernels; contracts in batch_norm.h.
// The variance is two-pass (mean first, then squared deviations) rather than E[x^2] - E[x]^2, which
// cancels badly when |mean| >> std.
#include "kernels/cpu/batch_norm.h"

#include <cmath>

namespace kern {

template <typename T>
void batch_norm_forward_train_cpu(const BatchNormParams& p, const T* x, const T* gamma, const T* beta,
                                  T* y, T* save_mean, T* save_invstd, T* running_mean, T* running_var) {
  const index_t N = p.N, C = p.C, HW = p.HW;
  const double n = double(N * HW);
#pragma omp parallel for schedule(static) if (N * C * HW >= kParallelMin)
  for (index_t c = 0; c < C; ++c) {
    double sum = 0;
    for (index_t i = 0; i < N; ++i) {
      const T* xc = x + (i * C + c) * HW;
      for (index_t k = 0; k < HW; ++k) sum += xc[k];
    }
    const double mean = sum / n;
    double ssd = 0;
    for (index_t i = 0; i < N; ++i) {
      const T* xc = x + (i * C + c) * HW;
      for (index_t k = 0; k < HW; ++k) {
        const double d = double(xc[k]) - mean;
        ssd += d * d;
      }
    }
    const double var_biased = ssd / n;
    const double invstd = 1.0 / std::sqrt(var_biased + p.eps);
    save_mean[c] = T(mean);
    save_invstd[c] = T(invstd);
    if (running_mean) running_mean[c] = T((1 - p.momentum) * running_mean[c] + p.momentum * mean);
    if (running_var) {
      const double var_unbiased = ssd / (n - 1);
      running_var[c] = T((1 - p.momentum) * running_var[c] + p.momentum * var_unbiased);
    }
    const double scale = (gamma ? double(gamma[c]) : 1.0) * invstd;
    const double shift = (beta ? double(beta[c]) : 0.0) - mean * scale;
    for (index_t i = 0; i < N; ++i) {
      const T* xc = x + (i * C + c) * HW;
      T* yc = y + (i * C + c) * HW;
      for (index_t k = 0; k < HW; ++k) yc[k] = T(xc[k] * scale + shift);
    }
  }
}

template <typename T>
void batch_norm_forward_eval_cpu(const BatchNormParams& p, const T* x, const T* gamma, const T* beta,
                                 const T* running_mean, const T* running_var, T* y) {
  const index_t N = p.N, C = p.C, HW = p.HW;
#pragma omp parallel for collapse(2) schedule(static) if (N * C * HW >= kParallelMin)
  for (index_t i = 0; i < N; ++i) {
    for (index_t c = 0; c < C; ++c) {
      const double invstd = 1.0 / std::sqrt(double(running_var[c]) + p.eps);
      const double scale = (gamma ? double(gamma[c]) : 1.0) * invstd;
      const double shift = (beta ? double(beta[c]) : 0.0) - double(running_mean[c]) * scale;
      const T* xc = x + (i * C + c) * HW;
      T* yc = y + (i * C + c) * HW;
      for (index_t k = 0; k < HW; ++k) yc[k] = T(xc[k] * scale + shift);
    }
  }
}

template <typename T>
void batch_norm_backward_train_cpu(const BatchNormParams& p, const T* dy, const T* x, const T* gamma,
                                   const T* save_mean, const T* save_invstd, T* dx, T* dgamma, T* dbeta) {
  const index_t N = p.N, C = p.C, HW = p.HW;
  const double n = double(N * HW);
#pragma omp parallel for schedule(static) if (N * C * HW >= kParallelMin)
  for (index_t c = 0; c < C; ++c) {
    const double mean = save_mean[c], invstd = save_invstd[c];
    double sum_dy = 0, sum_dy_xhat = 0;
    for (index_t i = 0; i < N; ++i) {
      const T* xc = x + (i * C + c) * HW;
      const T* dyc = dy + (i * C + c) * HW;
      for (index_t k = 0; k < HW; ++k) {
        sum_dy += dyc[k];
        sum_dy_xhat += double(dyc[k]) * (double(xc[k]) - mean) * invstd;
      }
    }
    if (dgamma) dgamma[c] = T(sum_dy_xhat);
    if (dbeta) dbeta[c] = T(sum_dy);
    if (!dx) continue;
    const double g_invstd = (gamma ? double(gamma[c]) : 1.0) * invstd;
    const double mean_dy = sum_dy / n, mean_dy_xhat = sum_dy_xhat / n;
    for (index_t i = 0; i < N; ++i) {
      const T* xc = x + (i * C + c) * HW;
      const T* dyc = dy + (i * C + c) * HW;
      T* dxc = dx + (i * C + c) * HW;
      for (index_t k = 0; k < HW; ++k) {
        const double xhat = (double(xc[k]) - mean) * invstd;
        dxc[k] = T(g_invstd * (double(dyc[k]) - mean_dy - xhat * mean_dy_xhat));
      }
    }
  }
}

template <typename T>
void batch_norm_backward_eval_cpu(const BatchNormParams& p, const T* dy, const T* x, const T* gamma,
                                  const T* running_mean, const T* running_var, T* dx, T* dgamma,
                                  T* dbeta) {
  const index_t N = p.N, C = p.C, HW = p.HW;
#pragma omp parallel for schedule(static) if (N * C * HW >= kParallelMin)
  for (index_t c = 0; c < C; ++c) {
    const double mean = running_mean[c];
    const double invstd = 1.0 / std::sqrt(double(running_var[c]) + p.eps);
    const double g_invstd = (gamma ? double(gamma[c]) : 1.0) * invstd;
    double sum_dy = 0, sum_dy_xhat = 0;
    for (index_t i = 0; i < N; ++i) {
      const T* xc = x + (i * C + c) * HW;
      const T* dyc = dy + (i * C + c) * HW;
      T* dxc = dx ? dx + (i * C + c) * HW : nullptr;
      for (index_t k = 0; k < HW; ++k) {
        const double g = dyc[k];
        sum_dy += g;
        sum_dy_xhat += g * (double(xc[k]) - mean) * invstd;
        if (dxc) dxc[k] = T(g * g_invstd);
      }
    }
    if (dgamma) dgamma[c] = T(sum_dy_xhat);
    if (dbeta) dbeta[c] = T(sum_dy);
  }
}

#define KERN_INSTANTIATE(T)                                                                          \
  template void batch_norm_forward_train_cpu<T>(const BatchNormParams&, const T*, const T*, const T*, \
                                                T*, T*, T*, T*, T*);                                 \
  template void batch_norm_forward_eval_cpu<T>(const BatchNormParams&, const T*, const T*, const T*,  \
                                               const T*, const T*, T*);                              \
  template void batch_norm_backward_train_cpu<T>(const BatchNormParams&, const T*, const T*,         \
                                                 const T*, const T*, const T*, T*, T*, T*);          \
  template void batch_norm_backward_eval_cpu<T>(const BatchNormParams&, const T*, const T*, const T*, \
                                                const T*, const T*, T*, T*, T*);
KERN_INSTANTIATE(float)
KERN_INSTANTIATE(double)
#undef KERN_INSTANTIATE

}  // namespace kern
