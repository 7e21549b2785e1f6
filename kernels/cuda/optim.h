// The CUDA twins of kernels/cpu/optim.h (torch.optim.SGD, Adam, AdamW, formula for formula), plus fused
// multi-tensor steps that update a whole list of parameter tensors in one launch per 48 tensors, like
// PyTorch's _foreach / multi_tensor_apply. Both run the same per-element code, so a multi-tensor step is
// bitwise the single-tensor steps one after the other. Every multiply-add is fused exactly where the CPU
// kernel's madd() fuses one (PyTorch's AVX2 path) and every other operation is rounded on its own, so
// the trajectories are bitwise the CPU's when that was built with FMA (the default -march=native on
// x86-64). Pointers are device memory; the params structs and tensor lists live on the host.
// T = float or double.
#pragma once

#include <span>

#include "kernels/cuda/stream.h"
#include "kernels/params.h"

namespace kern {

// One tensor of a multi-tensor SGD step: n elements in each array. momentum_buf may be null when
// momentum == 0; first_step: that buffer has no state yet (see sgd_step_cpu).
template <typename T>
struct SgdTensor {
  index_t n = 0;
  T* param = nullptr;
  const T* grad = nullptr;
  T* momentum_buf = nullptr;
  bool first_step = false;
};

// One tensor of a multi-tensor Adam/AdamW step; max_exp_avg_sq only with amsgrad.
template <typename T>
struct AdamTensor {
  index_t n = 0;
  T* param = nullptr;
  const T* grad = nullptr;
  T* exp_avg = nullptr;
  T* exp_avg_sq = nullptr;
  T* max_exp_avg_sq = nullptr;
};

template <typename T>
void sgd_step_cuda(const SgdParams& p, index_t n, T* param, const T* grad, T* momentum_buf, bool first_step,
                   Stream stream);

// step: the step count after this step's increment (1 on the first call).
template <typename T>
void adam_step_cuda(const AdamParams& p, index_t n, index_t step, T* param, const T* grad, T* exp_avg,
                    T* exp_avg_sq, T* max_exp_avg_sq, Stream stream);

template <typename T>
void adamw_step_cuda(const AdamParams& p, index_t n, index_t step, T* param, const T* grad, T* exp_avg,
                     T* exp_avg_sq, T* max_exp_avg_sq, Stream stream);

// Every tensor of the list takes one step, as the single-tensor call would; no tensor's arrays may
// overlap another's. The list is read on the host before return (it may be a temporary). T is not
// deduced through std::span: call as adam_step_multi_cuda<float>(p, step, tensors, stream).
template <typename T>
void sgd_step_multi_cuda(const SgdParams& p, std::span<const SgdTensor<T>> tensors, Stream stream);

template <typename T>
void adam_step_multi_cuda(const AdamParams& p, index_t step, std::span<const AdamTensor<T>> tensors,
                          Stream stream);

template <typename T>
void adamw_step_multi_cuda(const AdamParams& p, index_t step, std::span<const AdamTensor<T>> tensors,
                           Stream stream);

}  // namespace kern
