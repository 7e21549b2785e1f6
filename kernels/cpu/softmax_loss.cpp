// log_softmax and cross_entropy CPU kernels; contracts in softmax_loss.h.
#include "kernels/cpu/softmax_loss.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kern {

template <typename T>
void log_softmax_forward_cpu(index_t N, index_t C, const T* x, T* y) {
#pragma omp parallel for schedule(static) if (N * C >= (1 << 15))
  for (index_t i = 0; i < N; ++i) {
    const T* xr = x + i * C;
    T* yr = y + i * C;
    T mx = -std::numeric_limits<T>::infinity();
    for (index_t c = 0; c < C; ++c) mx = std::max(mx, xr[c]);
    double sum = 0;
    for (index_t c = 0; c < C; ++c) sum += std::exp(double(xr[c]) - double(mx));
    const double shift = double(mx) + std::log(sum);
    for (index_t c = 0; c < C; ++c) yr[c] = T(double(xr[c]) - shift);
  }
}

template <typename T>
void log_softmax_backward_cpu(index_t N, index_t C, const T* dy, const T* y, T* dx) {
#pragma omp parallel for schedule(static) if (N * C >= (1 << 15))
  for (index_t i = 0; i < N; ++i) {
    const T* dyr = dy + i * C;
    const T* yr = y + i * C;
    T* dxr = dx + i * C;
    double sum = 0;
    for (index_t c = 0; c < C; ++c) sum += dyr[c];
    for (index_t c = 0; c < C; ++c) dxr[c] = T(double(dyr[c]) - std::exp(double(yr[c])) * sum);
  }
}

namespace {

template <typename T>
double class_weight(const CrossEntropyParams& p, const T* weight, index_t c) {
  return p.has_weight ? double(weight[c]) : 1.0;
}

// W of the contract: the weight mass of the rows that count.
template <typename T>
double target_weight_sum(const CrossEntropyParams& p, const std::int64_t* target, const T* weight) {
  double total = 0;
  for (index_t i = 0; i < p.N; ++i)
    if (target[i] != p.ignore_index) total += class_weight(p, weight, target[i]);
  return total;
}

}  // namespace

template <typename T>
void cross_entropy_forward_cpu(const CrossEntropyParams& p, const T* logp, const std::int64_t* target,
                               const T* weight, T* loss) {
  const index_t C = p.C;
  double nll = 0, smooth = 0;
  for (index_t i = 0; i < p.N; ++i) {
    const index_t t = target[i];
    if (t == p.ignore_index) continue;
    const T* row = logp + i * C;
    nll -= class_weight(p, weight, t) * double(row[t]);
    if (p.label_smoothing != 0)
      for (index_t c = 0; c < C; ++c) smooth -= class_weight(p, weight, c) * double(row[c]);
  }
  const double ls = p.label_smoothing;
  *loss = T(((1 - ls) * nll + ls / double(C) * smooth) / target_weight_sum(p, target, weight));
}

template <typename T>
void cross_entropy_backward_cpu(const CrossEntropyParams& p, const T* logp, const std::int64_t* target,
                                const T* weight, const T* dloss, T* dlogp) {
  (void)logp;  // the loss is linear in logp; kept in the signature for fused or device backends
  const index_t C = p.C;
  const double ls = p.label_smoothing;
  const double scale = -double(*dloss) / target_weight_sum(p, target, weight);
#pragma omp parallel for schedule(static) if (p.N * C >= (1 << 15))
  for (index_t i = 0; i < p.N; ++i) {
    const index_t t = target[i];
    T* row = dlogp + i * C;
    for (index_t c = 0; c < C; ++c) {
      if (t == p.ignore_index) {
        row[c] = T(0);
        continue;
      }
      const double hit = c == t ? 1 - ls : 0.0;
      row[c] = T(scale * class_weight(p, weight, c) * (hit + ls / double(C)));
    }
  }
}

#define KERN_INSTANTIATE(T)                                                                        \
  template void log_softmax_forward_cpu<T>(index_t, index_t, const T*, T*);                        \
  template void log_softmax_backward_cpu<T>(index_t, index_t, const T*, const T*, T*);             \
  template void cross_entropy_forward_cpu<T>(const CrossEntropyParams&, const T*,                  \
                                             const std::int64_t*, const T*, T*);                   \
  template void cross_entropy_backward_cpu<T>(const CrossEntropyParams&, const T*,                 \
                                              const std::int64_t*, const T*, const T*, T*);
KERN_INSTANTIATE(float)
KERN_INSTANTIATE(double)
#undef KERN_INSTANTIATE

}  // namespace kern
