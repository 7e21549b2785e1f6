// The vendor libraries behind the same contracts as our kernels: cuDNN for conv2d and batch_norm, cuBLAS
// for GEMM. They are the yardstick our kernels are benchmarked against and a per-op backend choice
// (`ours|cudnn|cublas`). Handles are created per (device, stream) on first use; cuDNN's algorithm
// choice is made once per shape and cached (cudnnFind on the first call, then reused).
#pragma once

#include "kernels/cuda/stream.h"
#include "kernels/params.h"

namespace kern {

// T = float or double; MathMode selects cuDNN's math type (fp32: CUDNN_FMA_MATH, which excludes TF32;
// tf32: CUDNN_TENSOR_OP_MATH). bf16 is refused (std::invalid_argument: use bf16 tensors), and f64 data takes
// fp32 only. Outputs are assigned (=), as on the CPU; p.has_bias decides whether bias is read.
template <typename T>
void conv2d_forward_cudnn(const Conv2dParams& p, const T* x, const T* w, const T* bias, T* y, MathMode math,
                          Stream stream);
template <typename T>
void conv2d_backward_data_cudnn(const Conv2dParams& p, const T* dy, const T* w, T* dx, MathMode math,
                                Stream stream);
template <typename T>
void conv2d_backward_weight_cudnn(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db, MathMode math,
                                  Stream stream);

// Same contracts as kernels/cpu/batch_norm.h (training: batch statistics, running ones updated in place),
// aliasing and null pointers included; batch_norm_cudnn.cu lists how cuDNN's own contract is bridged.
template <typename T>
void batch_norm_forward_train_cudnn(const BatchNormParams& p, const T* x, const T* gamma, const T* beta, T* y,
                                    T* save_mean, T* save_invstd, T* running_mean, T* running_var,
                                    Stream stream);
template <typename T>
void batch_norm_forward_eval_cudnn(const BatchNormParams& p, const T* x, const T* gamma, const T* beta,
                                   const T* running_mean, const T* running_var, T* y, Stream stream);
template <typename T>
void batch_norm_backward_train_cudnn(const BatchNormParams& p, const T* dy, const T* x, const T* gamma,
                                     const T* save_mean, const T* save_invstd, T* dx, T* dgamma, T* dbeta,
                                     Stream stream);

// C = alpha * op(A) * op(B) + beta * C, row-major (kernels/cpu/gemm.h's contract; beta == 0 never reads
// C), through cublasGemmEx (fp32 / tf32 compute per math, f64 data: fp32 only).
template <typename T>
void gemm_cublas(const GemmParams& p, T alpha, const T* A, const T* B, T beta, T* C, MathMode math,
                 Stream stream);

}  // namespace kern
