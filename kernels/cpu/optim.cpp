// Optimizer step CPU kernels; contracts in optim.h. The statement order in each loop mirrors
// torch/optim/{sgd,adam,adamw}.py so rounding happens at the same places, and a multiply-add is fused
// exactly where PyTorch's vectorised CPU kernels fuse one: `a.add_(b, alpha=c)` is vec::fmadd(b, c, a)
// and `addcmul_(t1, t2, value=c)` is (c * t1) * t2 + a in one rounding. madd() fuses only when the target
// has FMA (__FMA__, as with the default -march=native), because PyTorch fuses only on its AVX2 path;
// there f32 and f64 trajectories match PyTorch's bit for bit. A portable build rounds twice, a few ulps
// away. Every other a * b + c must round twice, so kernels/meson.build compiles this file with
// -ffp-contract=off: GCC's default (fast) would otherwise fuse them wherever it likes.
#include "kernels/cpu/optim.h"

#include <algorithm>
#include <cmath>

namespace kern {

namespace {

// a * b + c, rounded once where the hardware can.
template <typename T>
inline T madd(T a, T b, T c) {
#if defined(__FMA__)
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

}  // namespace

template <typename T>
void sgd_step_cpu(const SgdParams& p, index_t n, T* param, const T* grad, T* momentum_buf,
                  bool first_step) {
  const T neg_lr = T(-p.lr), wd = T(p.weight_decay), mom = T(p.momentum), one_minus_damp = T(1 - p.dampening);
#pragma omp parallel for schedule(static) if (n >= (1 << 15))
  for (index_t i = 0; i < n; ++i) {
    T g = p.maximize ? -grad[i] : grad[i];
    if (p.weight_decay != 0) g = madd(param[i], wd, g);  // g.add(param, alpha=wd)
    if (p.momentum != 0) {
      T& buf = momentum_buf[i];
      buf = first_step ? g : madd(g, one_minus_damp, T(buf * mom));  // buf.mul_(mom).add_(g, alpha=1-damp)
      g = p.nesterov ? madd(buf, mom, g) : buf;
    }
    param[i] = madd(g, neg_lr, param[i]);  // param.add_(g, alpha=-lr)
  }
}

namespace {

// The shared tail of Adam and AdamW, once the gradient g is final.
template <typename T>
void adam_update(const AdamParams& p, index_t n, index_t step, T* param, const T* grad, T* exp_avg,
                 T* exp_avg_sq, T* max_exp_avg_sq, bool decoupled) {
  const double bias_correction1 = 1 - std::pow(p.beta1, double(step));
  const double bias_correction2 = 1 - std::pow(p.beta2, double(step));
  const T neg_step_size = T(-(p.lr / bias_correction1));
  const T bias_correction2_sqrt = T(std::sqrt(bias_correction2));
  const T beta1 = T(p.beta1), beta2 = T(p.beta2), one_minus_beta1 = T(1 - p.beta1),
          one_minus_beta2 = T(1 - p.beta2), eps = T(p.eps), wd = T(p.weight_decay);
  const T decay = T(1 - p.lr * p.weight_decay);
#pragma omp parallel for schedule(static) if (n >= (1 << 15))
  for (index_t i = 0; i < n; ++i) {
    T g = p.maximize ? -grad[i] : grad[i];
    if (decoupled) {
      param[i] = param[i] * decay;
    } else if (p.weight_decay != 0) {
      g = madd(param[i], wd, g);  // g.add(param, alpha=wd)
    }
    exp_avg[i] = madd(g, one_minus_beta1, T(exp_avg[i] * beta1));  // m.mul_(b1).add_(g, alpha=1-b1)
    exp_avg_sq[i] = madd(T(one_minus_beta2 * g), g, T(exp_avg_sq[i] * beta2));  // v.mul_(b2).addcmul_(g, g, 1-b2)
    T v = exp_avg_sq[i];
    if (p.amsgrad) {
      max_exp_avg_sq[i] = std::max(max_exp_avg_sq[i], v);
      v = max_exp_avg_sq[i];
    }
    const T denom = T(std::sqrt(v) / bias_correction2_sqrt) + eps;
    param[i] = param[i] + T(neg_step_size * exp_avg[i]) / denom;  // ATen addcdiv: self + value * t1 / t2
  }
}

}  // namespace

template <typename T>
void adam_step_cpu(const AdamParams& p, index_t n, index_t step, T* param, const T* grad, T* exp_avg,
                   T* exp_avg_sq, T* max_exp_avg_sq) {
  adam_update(p, n, step, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, /*decoupled=*/false);
}

template <typename T>
void adamw_step_cpu(const AdamParams& p, index_t n, index_t step, T* param, const T* grad, T* exp_avg,
                    T* exp_avg_sq, T* max_exp_avg_sq) {
  adam_update(p, n, step, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, /*decoupled=*/true);
}

#define KERN_INSTANTIATE(T)                                                                  \
  template void sgd_step_cpu<T>(const SgdParams&, index_t, T*, const T*, T*, bool);          \
  template void adam_step_cpu<T>(const AdamParams&, index_t, index_t, T*, const T*, T*, T*, T*); \
  template void adamw_step_cpu<T>(const AdamParams&, index_t, index_t, T*, const T*, T*, T*, T*);
KERN_INSTANTIATE(float)
KERN_INSTANTIATE(double)
#undef KERN_INSTANTIATE

}  // namespace kern
