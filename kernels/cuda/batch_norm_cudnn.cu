// batch_norm through cuDNN (CUDNN_BATCHNORM_SPATIAL: statistics per channel over N and HW), with the
// contracts of kernels/cpu/batch_norm.h. x (N, C, HW) is described to cuDNN as (N, C, HW, 1).
//
// Where cuDNN's contract differs from ours, and how the wrappers close the gap:
//  - saved statistics: cuDNN's resultSaveInvVariance is 1 / sqrt(var_biased + eps), exactly save_invstd.
//  - running statistics: running = (1 - factor) * running + factor * batch with factor = momentum, and
//    the batch variance in the running update is the unbiased one (n / (n - 1)), as PyTorch and the CPU
//    kernel do. cuDNN updates both or neither; when only one is wanted the other goes to scratch.
//  - null gamma / beta (affine = false): cuDNN has no such case; a per-stream buffer of ones / zeros
//    stands in. Null dx / dgamma / dbeta: cuDNN writes all three, so unwanted ones go to scratch.
//  - aliasing: our y may alias x and dx may alias dy; cuDNN documents no in-place support, so an aliased
//    input is first copied to scratch (only aliased calls pay for the copy).
//  - epsilon: cuDNN refuses eps < CUDNN_BN_MIN_EPSILON (0 in cuDNN 9, 1e-5 in cuDNN 7 and earlier).
//  - accumulation: cuDNN's reductions have their own order and precision (the CPU kernel sums in
//    double), so results agree to a few fp32 roundings, not bitwise.
#include <string>
#include <vector>

#include "kernels/cuda/cudnn_common.cuh"
#include "kernels/cuda/vendor.h"

namespace kern {

namespace {

using cu::check_cudnn;
using cu::CudnnContext;
using cu::TensorDesc;

constexpr cudnnBatchNormMode_t kMode = CUDNN_BATCHNORM_SPATIAL;

template <typename T>
struct BnCall {
  std::string op;
  TensorDesc x;      // (N, C, HW, 1); also y, dy, dx
  TensorDesc param;  // (1, C, 1, 1): gamma, beta, means, variances and their gradients

  BnCall(const char* name, const BatchNormParams& p)
      : op(describe(name, p)),
        x(cu::cudnn_type<T>(), p.N, p.C, p.HW, 1, op),
        param(cu::cudnn_type<T>(), 1, p.C, 1, 1, op) {}

  static std::string describe(const char* name, const BatchNormParams& p) {
    std::string op = std::string(name) + " (N=" + std::to_string(p.N) + " C=" + std::to_string(p.C) +
                     " HW=" + std::to_string(p.HW) + " eps=" + std::to_string(p.eps) + ")";
    if (!(p.eps >= CUDNN_BN_MIN_EPSILON))
      throw std::invalid_argument(op + ": cuDNN needs eps >= CUDNN_BN_MIN_EPSILON");
    return op;
  }
};

// Offsets into the context's workspace, planned before it is reserved (which may move it).
class Scratch {
 public:
  std::size_t take(std::size_t bytes) {
    const std::size_t at = total_;
    total_ += cu::align_up(bytes);
    return at;
  }
  std::size_t total() const { return total_; }

 private:
  std::size_t total_ = 0;
};

template <typename T>
T* at(CudnnContext& ctx, std::size_t offset) {
  return reinterpret_cast<T*>(static_cast<char*>(ctx.workspace.get()) + offset);
}

// C ones of type T, on the context's stream.
template <typename T>
const T* ones(CudnnContext& ctx, index_t C) {
  cu::GrowBuffer& buffer = sizeof(T) == 4 ? ctx.ones_f32 : ctx.ones_f64;
  if (buffer.reserve(sizeof(T) * std::size_t(C))) {
    // Synchronous on purpose: only when the buffer grows, and the host vector dies with this scope.
    const std::vector<T> host(buffer.bytes() / sizeof(T), T(1));
    cu::check(cudaMemcpy(buffer.get(), host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice),
              "batch_norm ones: cudaMemcpy");
  }
  return static_cast<const T*>(buffer.get());
}

template <typename T>
const T* zeros(CudnnContext& ctx, index_t C) {
  if (ctx.zeros.reserve(sizeof(T) * std::size_t(C)))
    cu::check(cudaMemset(ctx.zeros.get(), 0, ctx.zeros.bytes()), "batch_norm zeros: cudaMemset");
  return static_cast<const T*>(ctx.zeros.get());
}

void stage(void* dst, const void* src, std::size_t bytes, Stream stream, const std::string& op) {
  cu::check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream), (op + ": staging copy").c_str());
}

}  // namespace

template <typename T>
void batch_norm_forward_train_cudnn(const BatchNormParams& p, const T* x, const T* gamma, const T* beta, T* y,
                                    T* save_mean, T* save_invstd, T* running_mean, T* running_var,
                                    Stream stream) {
  if (p.C == 0) return;
  const BnCall<T> c("batch_norm_forward_train_cudnn", p);
  auto locked = cu::context_for<CudnnContext>(stream);
  CudnnContext& ctx = locked.ctx;
  const std::size_t x_bytes = sizeof(T) * std::size_t(p.N * p.C * p.HW), c_bytes = sizeof(T) * std::size_t(p.C);
  const bool aliased = static_cast<const void*>(y) == static_cast<const void*>(x);
  const bool one_running = (running_mean == nullptr) != (running_var == nullptr);
  Scratch plan;
  const std::size_t staged_at = aliased ? plan.take(x_bytes) : 0;
  const std::size_t running_at = one_running ? plan.take(c_bytes) : 0;
  ctx.workspace.reserve(plan.total());
  const T* gamma_or_ones = gamma ? gamma : ones<T>(ctx, p.C);
  const T* beta_or_zeros = beta ? beta : zeros<T>(ctx, p.C);
  if (aliased) {
    stage(at<T>(ctx, staged_at), x, x_bytes, stream, c.op);
    x = at<T>(ctx, staged_at);
  }
  if (one_running) {
    // Whatever the scratch holds is updated and dropped; it must only be finite for cuDNN's arithmetic.
    T* dummy = at<T>(ctx, running_at);
    cu::check(cudaMemsetAsync(dummy, 0, c_bytes, stream), (c.op + ": cudaMemsetAsync").c_str());
    (running_mean ? running_var : running_mean) = dummy;
  }
  const T one = 1, zero = 0;
  check_cudnn(cudnnBatchNormalizationForwardTraining(ctx.handle, kMode, &one, &zero, c.x, x, c.x, y, c.param,
                                                     gamma_or_ones, beta_or_zeros, p.momentum, running_mean,
                                                     running_var, p.eps, save_mean, save_invstd),
              "cudnnBatchNormalizationForwardTraining", c.op);
}

template <typename T>
void batch_norm_forward_eval_cudnn(const BatchNormParams& p, const T* x, const T* gamma, const T* beta,
                                   const T* running_mean, const T* running_var, T* y, Stream stream) {
  if (p.C == 0 || p.N * p.HW == 0) return;  // y is empty
  const BnCall<T> c("batch_norm_forward_eval_cudnn", p);
  auto locked = cu::context_for<CudnnContext>(stream);
  CudnnContext& ctx = locked.ctx;
  const std::size_t x_bytes = sizeof(T) * std::size_t(p.N * p.C * p.HW);
  const bool aliased = static_cast<const void*>(y) == static_cast<const void*>(x);
  if (aliased) ctx.workspace.reserve(x_bytes);
  const T* gamma_or_ones = gamma ? gamma : ones<T>(ctx, p.C);
  const T* beta_or_zeros = beta ? beta : zeros<T>(ctx, p.C);
  if (aliased) {
    stage(ctx.workspace.get(), x, x_bytes, stream, c.op);
    x = at<T>(ctx, 0);
  }
  const T one = 1, zero = 0;
  check_cudnn(cudnnBatchNormalizationForwardInference(ctx.handle, kMode, &one, &zero, c.x, x, c.x, y, c.param,
                                                      gamma_or_ones, beta_or_zeros, running_mean, running_var,
                                                      p.eps),
              "cudnnBatchNormalizationForwardInference", c.op);
}

template <typename T>
void batch_norm_backward_train_cudnn(const BatchNormParams& p, const T* dy, const T* x, const T* gamma,
                                     const T* save_mean, const T* save_invstd, T* dx, T* dgamma, T* dbeta,
                                     Stream stream) {
  if (p.C == 0 || (!dx && !dgamma && !dbeta)) return;
  const BnCall<T> c("batch_norm_backward_train_cudnn", p);
  auto locked = cu::context_for<CudnnContext>(stream);
  CudnnContext& ctx = locked.ctx;
  const std::size_t x_bytes = sizeof(T) * std::size_t(p.N * p.C * p.HW), c_bytes = sizeof(T) * std::size_t(p.C);
  const bool aliased = static_cast<const void*>(dx) == static_cast<const void*>(dy);
  Scratch plan;
  // An unwanted dx cannot alias dy, so one full-size slot serves either purpose.
  const std::size_t big_at = aliased || !dx ? plan.take(x_bytes) : 0;
  const std::size_t dgamma_at = dgamma ? 0 : plan.take(c_bytes);
  const std::size_t dbeta_at = dbeta ? 0 : plan.take(c_bytes);
  ctx.workspace.reserve(plan.total());
  const T* gamma_or_ones = gamma ? gamma : ones<T>(ctx, p.C);
  if (aliased) {
    stage(at<T>(ctx, big_at), dy, x_bytes, stream, c.op);
    dy = at<T>(ctx, big_at);
  }
  if (!dx) dx = at<T>(ctx, big_at);
  if (!dgamma) dgamma = at<T>(ctx, dgamma_at);
  if (!dbeta) dbeta = at<T>(ctx, dbeta_at);
  const T one = 1, zero = 0;
  check_cudnn(cudnnBatchNormalizationBackward(ctx.handle, kMode, &one, &zero, &one, &zero, c.x, x, c.x, dy, c.x,
                                              dx, c.param, gamma_or_ones, dgamma, dbeta, p.eps, save_mean,
                                              save_invstd),
              "cudnnBatchNormalizationBackward", c.op);
}

#define KERN_INSTANTIATE(T)                                                                                    \
  template void batch_norm_forward_train_cudnn<T>(const BatchNormParams&, const T*, const T*, const T*, T*,   \
                                                  T*, T*, T*, T*, Stream);                                     \
  template void batch_norm_forward_eval_cudnn<T>(const BatchNormParams&, const T*, const T*, const T*,        \
                                                 const T*, const T*, T*, Stream);                              \
  template void batch_norm_backward_train_cudnn<T>(const BatchNormParams&, const T*, const T*, const T*,      \
                                                   const T*, const T*, T*, T*, T*, Stream);
KERN_INSTANTIATE(float)
KERN_INSTANTIATE(double)
#undef KERN_INSTANTIATE

}  // namespace kern
