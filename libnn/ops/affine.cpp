// channel_affine: forward and backward side by side, on kern::channel_affine_*.
#include "libnn/ops/affine.h"

#include "kernels/cpu/affine.h"
#include "kernels/cuda/affine.h"
#include "libnn/autograd/node.h"
#include "libnn/core/dispatch.h"
#include "libnn/core/trace.h"
#include "libnn/ops/common.h"

namespace nn::ops {

Tensor channel_affine(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in) {
  constexpr const char* op = "channel_affine";
  check_floating(x_in, op, "x");
  check_floating(weight_in, op, "weight");
  check_same(x_in, weight_in, op);
  NN_CHECK(x_in.dim() >= 2, op, ": x must be (N, C, ...), got ", x_in.describe());
  const index_t N = x_in.size(0), C = x_in.size(1);
  const index_t HW = N * C == 0 ? 0 : x_in.numel() / (N * C);
  NN_CHECK(weight_in.dim() == 1 && weight_in.size(0) == C, op, ": weight ", weight_in.shape(), " must be (C) = (", C,
           ") for x ", x_in.shape());
  if (bias_in.defined()) {
    check_same(x_in, bias_in, op);
    NN_CHECK(bias_in.shape() == weight_in.shape(), op, ": bias ", bias_in.shape(), " must be (C) = (", C, ")");
  }

  const Tensor x = x_in.contiguous(), weight = weight_in.contiguous();
  const Tensor bias = bias_in.defined() ? bias_in.contiguous() : Tensor();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch_floating(x.dtype(), op, [&]<typename T>() {
    NN_KERNEL(x.device(), channel_affine_forward, N, C, HW, x.data<T>(), weight.data<T>(),
              bias.defined() ? bias.data<T>() : nullptr, y.data<T>());
  });
  if (autograd::needs_grad({&x_in, &weight_in, &bias_in}))
    autograd::record(
        y, op, {x_in, weight_in, bias_in}, [x, weight, N, C, HW](const Tensor& dy_in, const autograd::GradMask& needs) {
          const Tensor dy = dy_in.contiguous();
          Tensor dx = needs[0] ? Tensor::empty(x.shape(), x.dtype(), x.device()) : Tensor();
          Tensor dw = needs[1] ? Tensor::empty(weight.shape(), x.dtype(), x.device()) : Tensor();
          Tensor db = needs[2] ? Tensor::empty(weight.shape(), x.dtype(), x.device()) : Tensor();
          const Tensor ws = NN_CUDA_SCRATCH(dy.device(), kern::channel_affine_backward_workspace_size(N, C, HW));
          dispatch_floating(x.dtype(), "channel_affine_backward", [&]<typename T>() {
            NN_KERNEL_WS(dy.device(), ws, channel_affine_backward, N, C, HW, dy.data<T>(), x.data<T>(),
                         weight.data<T>(), needs[0] ? dx.data<T>() : nullptr, needs[1] ? dw.data<T>() : nullptr,
                         needs[2] ? db.data<T>() : nullptr);
          });
          return autograd::Grads{dx, dw, db};
        });
  trace::record(op, y, {&x_in, &weight_in, &bias_in}, 2.0 * x_in.numel());
  return y;
}

}  // namespace nn::ops
