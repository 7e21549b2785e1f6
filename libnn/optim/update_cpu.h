// Per-element update loops of SGD, Adam and AdamW on raw arrays: torch 1.13's single-tensor
// (non-foreach, non-capturable) formulas, operation for operation. Scalar coefficients are formed in
// double, as Python does, and rounded to T where PyTorch's tensor ops round them. PyTorch's vectorised
// CPU kernels fuse `a.add_(b, alpha=c)` (vec::fmadd) and `addcmul_` into one multiply-add; madd() does
// the same when the target has FMA (the default -march=native build), which makes f32 trajectories
// match PyTorch's bit for bit in practice. A portable build rounds twice, a few ulps away. Private to libnn/optim: the fused kernels kern::sgd_step_cpu / adam_step_cpu /
// adamw_step_cpu (kernels/cpu/optim.h, in progress on the kern branch) have the same contract and
// replace these once merged.
#pragma once

#include <cmath>
#include <cstdint>

namespace nn::optim::detail {

// a * b + c, rounded once where the hardware can.
template <typename T>
inline T madd(T a, T b, T c) {
#if defined(__FMA__)
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

struct SgdCoeffs {
  double lr, momentum, dampening, weight_decay;
  bool nesterov;
};

// g = grad + wd * p;  buf = first ? g : momentum * buf + (1 - dampening) * g
// g = nesterov ? g + momentum * buf : buf;  p -= lr * g.  buf may be null when momentum == 0.
template <typename T>
void sgd_update(const SgdCoeffs& c, std::int64_t n, T* p, const T* grad, T* buf, bool first) {
  const T wd = static_cast<T>(c.weight_decay), mom = static_cast<T>(c.momentum);
  const T one_minus_damp = static_cast<T>(1.0 - c.dampening), neg_lr = static_cast<T>(-c.lr);
  for (std::int64_t i = 0; i < n; ++i) {
    T g = grad[i];
    if (c.weight_decay != 0) g = madd(p[i], wd, g);
    if (c.momentum != 0) {
      const T b = first ? g : madd(g, one_minus_damp, static_cast<T>(buf[i] * mom));
      buf[i] = b;
      g = c.nesterov ? madd(b, mom, g) : b;
    }
    p[i] = madd(g, neg_lr, p[i]);
  }
}

struct AdamCoeffs {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled;  // AdamW: p *= 1 - lr * wd first, gradient untouched
};

// step: the count after this step's increment (1 on the first update).
// m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g g
// p -= lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
template <typename T>
void adam_update(const AdamCoeffs& c, std::int64_t step, std::int64_t n, T* p, const T* grad, T* m, T* v) {
  const double bc1 = 1.0 - std::pow(c.beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(c.beta2, static_cast<double>(step));
  const T b1 = static_cast<T>(c.beta1), b2 = static_cast<T>(c.beta2);
  const T one_minus_b1 = static_cast<T>(1.0 - c.beta1), one_minus_b2 = static_cast<T>(1.0 - c.beta2);
  const T neg_step_size = static_cast<T>(-(c.lr / bc1));
  const T bc2_sqrt = static_cast<T>(std::sqrt(bc2)), eps = static_cast<T>(c.eps);
  const T wd = static_cast<T>(c.weight_decay), decay = static_cast<T>(1.0 - c.lr * c.weight_decay);
  for (std::int64_t i = 0; i < n; ++i) {
    T g = grad[i];
    if (c.decoupled) {
      p[i] = p[i] * decay;
    } else if (c.weight_decay != 0) {
      g = madd(p[i], wd, g);
    }
    m[i] = madd(g, one_minus_b1, static_cast<T>(m[i] * b1));
    v[i] = madd(static_cast<T>(one_minus_b2 * g), g, static_cast<T>(v[i] * b2));
    const T denom = static_cast<T>(std::sqrt(v[i]) / bc2_sqrt) + eps;
    p[i] = p[i] + static_cast<T>(neg_step_size * m[i]) / denom;
  }
}

}  // namespace nn::optim::detail
