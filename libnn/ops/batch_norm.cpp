// batch_norm: forward and backward side by side, over kern::batch_norm_* (x viewed as (N, C, HW)).
// The training forward's saved tensors are explicit: save_mean and save_invstd (C), captured with x by
// the backward. The eval backward treats the running statistics as constants, as PyTorch does.
#include "libnn/ops/batch_norm.h"

#include <algorithm>

#include "kernels/cpu/batch_norm.h"
#include "kernels/cuda/batch_norm.h"
#include "kernels/cuda/vendor.h"
#include "libnn/autograd/node.h"
#include "libnn/core/cuda_options.h"
#include "libnn/core/dispatch.h"
#include "libnn/core/trace.h"
#include "libnn/ops/common.h"

namespace nn::ops {

namespace {

constexpr const char* kOp = "batch_norm";

// A per-channel tensor (C): optional ones may be undefined.
void check_channel_tensor(const Tensor& t, const Tensor& x, index_t C, const char* arg, bool optional) {
  if (optional && !t.defined()) return;
  check_floating(t, kOp, arg);
  check_same(x, t, kOp);
  NN_CHECK(t.dim() == 1 && t.size(0) == C, kOp, ": ", arg, " ", t.shape(), " must be (C) = (", C, ") for x ",
           x.shape());
}

template <typename T>
T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

bool use_cudnn(const Tensor& x) {
  return x.device().is_cuda() && CudaOptions::current().batch_norm == ConvBackend::cudnn;
}

// The scratch of our CUDA kernels' per-channel reductions; cuDNN (when it runs) needs none.
Tensor reduction_scratch(const Tensor& x, const kern::BatchNormParams& p) {
  return use_cudnn(x) ? Tensor() : NN_CUDA_SCRATCH(x.device(), kern::batch_norm_workspace_size(p));
}

// A training-mode batch_norm kernel on x's device: cuDNN's (name_cudnn) when CudaOptions asks for it,
// else ours.
#define NN_BATCH_NORM_KERNEL(x, ws, name, ...) \
  (use_cudnn(x) ? NN_CUDA(name##_cudnn, __VA_ARGS__) : NN_KERNEL_WS((x).device(), ws, name, __VA_ARGS__))

}  // namespace

Tensor batch_norm(const Tensor& x_in, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight_in,
                  const Tensor& bias_in, bool training, double momentum, double eps) {
  check_floating(x_in, kOp, "x");
  NN_CHECK(x_in.dim() >= 2, kOp, ": x must be (N, C) or (N, C, H, W), got ", x_in.describe());
  const index_t N = x_in.size(0), C = x_in.size(1);
  kern::BatchNormParams p{
      .N = N, .C = C, .HW = N * C == 0 ? 0 : x_in.numel() / (N * C), .eps = eps, .momentum = momentum};
  check_channel_tensor(weight_in, x_in, C, "weight", true);
  check_channel_tensor(bias_in, x_in, C, "bias", true);
  NN_CHECK(running_mean.defined() == running_var.defined(), kOp,
           ": running_mean and running_var must be both given or both undefined");
  NN_CHECK(training || running_mean.defined(), kOp, ": eval mode needs running_mean and running_var (x ", x_in.shape(),
           ")");
  check_channel_tensor(running_mean, x_in, C, "running_mean", true);
  check_channel_tensor(running_var, x_in, C, "running_var", true);
  for (const Tensor* r : {&running_mean, &running_var})
    NN_CHECK(!r->defined() || r->is_contiguous(), kOp,
             ": running statistics are updated in place and must be "
             "contiguous, got ",
             r->describe());
  NN_CHECK(!training || p.N * p.HW > 1, kOp,
           ": Expected more than 1 value per channel when training, got input of shape ", x_in.shape());
  NN_CHECK(eps > 0, kOp, ": eps must be positive, got ", eps);

  const Tensor x = x_in.contiguous();
  const Tensor weight = weight_in.defined() ? weight_in.contiguous() : Tensor();
  const Tensor bias = bias_in.defined() ? bias_in.contiguous() : Tensor();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());

  if (training) {
    Tensor save_mean = Tensor::empty({C}, x.dtype(), x.device());
    Tensor save_invstd = Tensor::empty({C}, x.dtype(), x.device());
    const Tensor ws = reduction_scratch(x, p);
    dispatch_floating(x.dtype(), kOp, [&]<typename T>() {
      NN_BATCH_NORM_KERNEL(x, ws, batch_norm_forward_train, p, x.data<T>(), ptr_or_null<T>(weight),
                           ptr_or_null<T>(bias), y.data<T>(), save_mean.data<T>(), save_invstd.data<T>(),
                           ptr_or_null<T>(running_mean), ptr_or_null<T>(running_var));
    });
    if (autograd::needs_grad({&x_in, &weight_in, &bias_in}))
      autograd::record(y, "batch_norm_train", {x_in, weight_in, bias_in},
                       [p, x, weight, save_mean, save_invstd](const Tensor& dy_in, const autograd::GradMask& needs) {
                         const Tensor dy = dy_in.contiguous();
                         Tensor dx = needs[0] ? Tensor::empty(x.shape(), x.dtype(), x.device()) : Tensor();
                         Tensor dw = needs[1] ? Tensor::empty({p.C}, x.dtype(), x.device()) : Tensor();
                         Tensor db = needs[2] ? Tensor::empty({p.C}, x.dtype(), x.device()) : Tensor();
                         const Tensor ws = reduction_scratch(dy, p);
                         dispatch_floating(x.dtype(), "batch_norm_backward", [&]<typename T>() {
                           NN_BATCH_NORM_KERNEL(dy, ws, batch_norm_backward_train, p, dy.data<T>(), x.data<T>(),
                                                ptr_or_null<T>(weight), save_mean.data<T>(), save_invstd.data<T>(),
                                                ptr_or_null<T>(dx), ptr_or_null<T>(dw), ptr_or_null<T>(db));
                         });
                         return autograd::Grads{dx, dw, db};
                       });
    trace::record("batch_norm", y, {&x_in, &weight_in}, 4.0 * x_in.numel());
    return y;
  }

  // Eval: the backward must see the statistics used here, so when it will run it keeps copies (a later
  // training forward may update the buffers in place before backward runs).
  const bool grad = autograd::needs_grad({&x_in, &weight_in, &bias_in});
  const Tensor mean = grad ? running_mean.clone() : running_mean;
  const Tensor var = grad ? running_var.clone() : running_var;
  dispatch_floating(x.dtype(), kOp, [&]<typename T>() {
    if (use_cudnn(x))
      NN_CUDA(batch_norm_forward_eval_cudnn, p, x.data<T>(), ptr_or_null<T>(weight), ptr_or_null<T>(bias),
              mean.data<T>(), var.data<T>(), y.data<T>());
    else
      NN_KERNEL(x.device(), batch_norm_forward_eval, p, x.data<T>(), ptr_or_null<T>(weight), ptr_or_null<T>(bias),
                mean.data<T>(), var.data<T>(), y.data<T>());
  });
  if (grad)
    autograd::record(y, "batch_norm_eval", {x_in, weight_in, bias_in},
                     [p, x, weight, mean, var](const Tensor& dy_in, const autograd::GradMask& needs) {
                       const Tensor dy = dy_in.contiguous();
                       Tensor dx = needs[0] ? Tensor::empty(x.shape(), x.dtype(), x.device()) : Tensor();
                       Tensor dw = needs[1] ? Tensor::empty({p.C}, x.dtype(), x.device()) : Tensor();
                       Tensor db = needs[2] ? Tensor::empty({p.C}, x.dtype(), x.device()) : Tensor();
                       // cuDNN has no eval-mode backward: ours runs it whatever the backend.
                       const Tensor ws = NN_CUDA_SCRATCH(dy.device(), kern::batch_norm_workspace_size(p));
                       dispatch_floating(x.dtype(), "batch_norm_backward", [&]<typename T>() {
                         NN_KERNEL_WS(dy.device(), ws, batch_norm_backward_eval, p, dy.data<T>(), x.data<T>(),
                                      ptr_or_null<T>(weight), mean.data<T>(), var.data<T>(), ptr_or_null<T>(dx),
                                      ptr_or_null<T>(dw), ptr_or_null<T>(db));
                       });
                       return autograd::Grads{dx, dw, db};
                     });
  trace::record("batch_norm", y, {&x_in, &weight_in}, 4.0 * x_in.numel());
  return y;
}

}  // namespace nn::ops
