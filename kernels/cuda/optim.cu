// Optimizer step CUDA kernels; contracts in optim.h (and kernels/cpu/optim.h, whose rounding this file
// reproduces). nvcc contracts a * b + c into an FMA by default, so every operation here goes through
// the explicitly rounded intrinsics of Rn<T>: fma only where the CPU's madd() fuses, the rest rounded
// one operation at a time whatever the compiler flags.
//
// Every launch goes through one kernel over a batch of up to kBatch tensors passed by value
// (__grid_constant__, no device-side list to allocate): the batch is one flat index space, each thread
// walking its elements in increasing order and so its tensors forward. A single-tensor step is a batch
// of one, which makes the multi-tensor step bitwise the single-tensor ones.
#include "kernels/cuda/optim.h"

#include <cmath>

#include "kernels/cuda/common.cuh"

namespace kern {

namespace {

template <typename T> struct Rn;
template <> struct Rn<float> {
  static __device__ __forceinline__ float mul(float a, float b) { return __fmul_rn(a, b); }
  static __device__ __forceinline__ float add(float a, float b) { return __fadd_rn(a, b); }
  static __device__ __forceinline__ float div(float a, float b) { return __fdiv_rn(a, b); }
  static __device__ __forceinline__ float sqrt(float a) { return __fsqrt_rn(a); }
  static __device__ __forceinline__ float fma(float a, float b, float c) { return __fmaf_rn(a, b, c); }
};
template <> struct Rn<double> {
  static __device__ __forceinline__ double mul(double a, double b) { return __dmul_rn(a, b); }
  static __device__ __forceinline__ double add(double a, double b) { return __dadd_rn(a, b); }
  static __device__ __forceinline__ double div(double a, double b) { return __ddiv_rn(a, b); }
  static __device__ __forceinline__ double sqrt(double a) { return __dsqrt_rn(a); }
  static __device__ __forceinline__ double fma(double a, double b, double c) { return __fma_rn(a, b, c); }
};

// The step's scalars, rounded to T on the host exactly as sgd_step_cpu rounds them.
template <typename T>
struct SgdCoef {
  T neg_lr, wd, mom, one_minus_damp;
  bool maximize, weight_decay, momentum, nesterov;
};

template <typename T>
SgdCoef<T> sgd_coef(const SgdParams& p) {
  return {T(-p.lr), T(p.weight_decay), T(p.momentum), T(1 - p.dampening),
          p.maximize, p.weight_decay != 0, p.momentum != 0, p.nesterov};
}

template <typename T>
__device__ __forceinline__ void sgd_element(const SgdCoef<T>& k, const SgdTensor<T>& t, index_t i) {
  using R = Rn<T>;
  const T param = t.param[i];
  T g = k.maximize ? -t.grad[i] : t.grad[i];
  if (k.weight_decay) g = R::fma(param, k.wd, g);  // g.add(param, alpha=wd)
  if (k.momentum) {
    T& buf = t.momentum_buf[i];
    buf = t.first_step ? g : R::fma(g, k.one_minus_damp, R::mul(buf, k.mom));  // buf.mul_(mom).add_(g, alpha=1-damp)
    g = k.nesterov ? R::fma(buf, k.mom, g) : buf;
  }
  t.param[i] = R::fma(g, k.neg_lr, param);  // param.add_(g, alpha=-lr)
}

// As adam_update in kernels/cpu/optim.cpp.
template <typename T>
struct AdamCoef {
  T neg_step_size, bias_correction2_sqrt, beta1, beta2, one_minus_beta1, one_minus_beta2, eps, wd, decay;
  bool maximize, weight_decay, amsgrad, decoupled;
};

template <typename T>
AdamCoef<T> adam_coef(const AdamParams& p, index_t step, bool decoupled) {
  const double bias_correction1 = 1 - std::pow(p.beta1, double(step));
  const double bias_correction2 = 1 - std::pow(p.beta2, double(step));
  return {T(-(p.lr / bias_correction1)), T(std::sqrt(bias_correction2)), T(p.beta1), T(p.beta2),
          T(1 - p.beta1), T(1 - p.beta2), T(p.eps), T(p.weight_decay), T(1 - p.lr * p.weight_decay),
          p.maximize, p.weight_decay != 0, p.amsgrad, decoupled};
}

template <typename T>
__device__ __forceinline__ void adam_element(const AdamCoef<T>& k, const AdamTensor<T>& t, index_t i) {
  using R = Rn<T>;
  T param = t.param[i];
  T g = k.maximize ? -t.grad[i] : t.grad[i];
  if (k.decoupled) {
    param = R::mul(param, k.decay);
  } else if (k.weight_decay) {
    g = R::fma(param, k.wd, g);  // g.add(param, alpha=wd)
  }
  const T m = R::fma(g, k.one_minus_beta1, R::mul(t.exp_avg[i], k.beta1));  // m.mul_(b1).add_(g, alpha=1-b1)
  const T v = R::fma(R::mul(k.one_minus_beta2, g), g, R::mul(t.exp_avg_sq[i], k.beta2));  // addcmul_
  t.exp_avg[i] = m;
  t.exp_avg_sq[i] = v;
  T v_used = v;
  if (k.amsgrad) {
    const T v_max = t.max_exp_avg_sq[i];
    v_used = v_max < v ? v : v_max;  // std::max(v_max, v), NaN included
    t.max_exp_avg_sq[i] = v_used;
  }
  const T denom = R::add(R::div(R::sqrt(v_used), k.bias_correction2_sqrt), k.eps);
  t.param[i] = R::add(param, R::div(R::mul(k.neg_step_size, m), denom));  // addcdiv: self + value * t1 / t2
}

constexpr int kBatch = 48;  // keeps the kernel's parameters under the classic 4 KiB

template <typename Tensor>
struct Batch {
  int count = 0;
  index_t start[kBatch + 1] = {};  // start[t] = elements before tensor t; start[count] = the total
  Tensor tensors[kBatch];
};

struct SgdStep {
  template <typename T>
  static __device__ __forceinline__ void apply(const SgdCoef<T>& k, const SgdTensor<T>& t, index_t i) {
    sgd_element(k, t, i);
  }
};
struct AdamStep {
  template <typename T>
  static __device__ __forceinline__ void apply(const AdamCoef<T>& k, const AdamTensor<T>& t, index_t i) {
    adam_element(k, t, i);
  }
};

template <typename Step, typename Coef, typename Tensor>
__global__ void step_kernel(const __grid_constant__ Coef k, const __grid_constant__ Batch<Tensor> b) {
  int t = 0;
  for (index_t j = cu::global_index(); j < b.start[b.count]; j += cu::grid_stride()) {
    while (j >= b.start[t + 1]) ++t;  // j only grows, so t only moves forward (over empty tensors too)
    Step::apply(k, b.tensors[t], j - b.start[t]);
  }
}

template <typename Step, typename Coef, typename Tensor>
void launch_steps(const char* name, const Coef& k, std::span<const Tensor> tensors, Stream stream) {
  Batch<Tensor> b;
  auto flush = [&] {
    if (b.start[b.count] > 0) {
      step_kernel<Step><<<cu::blocks_for(b.start[b.count]), cu::kThreads, 0, stream>>>(k, b);
      cu::check_launch(name);
    }
    b.count = 0;
  };
  for (const Tensor& t : tensors) {
    if (t.n <= 0) continue;
    b.tensors[b.count] = t;
    b.start[b.count + 1] = b.start[b.count] + t.n;
    if (++b.count == kBatch) flush();
  }
  if (b.count > 0) flush();
}

}  // namespace

template <typename T>
void sgd_step_multi_cuda(const SgdParams& p, std::span<const SgdTensor<T>> tensors, Stream stream) {
  launch_steps<SgdStep>("sgd_step_cuda", sgd_coef<T>(p), tensors, stream);
}

template <typename T>
void adam_step_multi_cuda(const AdamParams& p, index_t step, std::span<const AdamTensor<T>> tensors,
                          Stream stream) {
  launch_steps<AdamStep>("adam_step_cuda", adam_coef<T>(p, step, /*decoupled=*/false), tensors, stream);
}

template <typename T>
void adamw_step_multi_cuda(const AdamParams& p, index_t step, std::span<const AdamTensor<T>> tensors,
                           Stream stream) {
  launch_steps<AdamStep>("adamw_step_cuda", adam_coef<T>(p, step, /*decoupled=*/true), tensors, stream);
}

template <typename T>
void sgd_step_cuda(const SgdParams& p, index_t n, T* param, const T* grad, T* momentum_buf, bool first_step,
                   Stream stream) {
  const SgdTensor<T> t{n, param, grad, momentum_buf, first_step};
  sgd_step_multi_cuda<T>(p, std::span<const SgdTensor<T>>(&t, 1), stream);
}

template <typename T>
void adam_step_cuda(const AdamParams& p, index_t n, index_t step, T* param, const T* grad, T* exp_avg,
                    T* exp_avg_sq, T* max_exp_avg_sq, Stream stream) {
  const AdamTensor<T> t{n, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq};
  adam_step_multi_cuda<T>(p, step, std::span<const AdamTensor<T>>(&t, 1), stream);
}

template <typename T>
void adamw_step_cuda(const AdamParams& p, index_t n, index_t step, T* param, const T* grad, T* exp_avg,
                     T* exp_avg_sq, T* max_exp_avg_sq, Stream stream) {
  const AdamTensor<T> t{n, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq};
  adamw_step_multi_cuda<T>(p, step, std::span<const AdamTensor<T>>(&t, 1), stream);
}

#define KERN_INSTANTIATE(T)                                                                                    \
  template void sgd_step_cuda<T>(const SgdParams&, index_t, T*, const T*, T*, bool, Stream);                   \
  template void adam_step_cuda<T>(const AdamParams&, index_t, index_t, T*, const T*, T*, T*, T*, Stream);      \
  template void adamw_step_cuda<T>(const AdamParams&, index_t, index_t, T*, const T*, T*, T*, T*, Stream);     \
  template void sgd_step_multi_cuda<T>(const SgdParams&, std::span<const SgdTensor<T>>, Stream);               \
  template void adam_step_multi_cuda<T>(const AdamParams&, index_t, std::span<const AdamTensor<T>>, Stream);   \
  template void adamw_step_multi_cuda<T>(const AdamParams&, index_t, std::span<const AdamTensor<T>>, Stream);
KERN_INSTANTIATE(float)
KERN_INSTANTIATE(double)
#undef KERN_INSTANTIATE

}  // namespace kern
