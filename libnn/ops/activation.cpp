// relu, sigmoid, prelu: forward and backward side by side. relu and sigmoid differentiate through their
// output y (saved explicitly), prelu through its input x and weight.
#include "libnn/ops/activation.h"

#include "kernels/cpu/activation.h"
#include "kernels/cuda/activation.h"
#include "libnn/autograd/node.h"
#include "libnn/core/dispatch.h"
#include "libnn/core/trace.h"
#include "libnn/ops/common.h"

namespace nn::ops {

namespace {

void check_input(const Tensor& x, const char* op) { check_floating(x, op, "x"); }

// Runs a pointwise kernel (device, n, in, out) on a contiguous tensor of x's shape.
template <typename Kernel>
Tensor pointwise(const Tensor& x_in, const char* op, Kernel kernel) {
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch_floating(x.dtype(), op, [&]<typename T>() { kernel(x.device(), x.numel(), x.data<T>(), y.data<T>()); });
  return y;
}

// dx = kernel(device, n, dy, y, dx): the backward of an activation that saved its output y.
template <typename Kernel>
Tensor pointwise_backward(const Tensor& dy_in, const Tensor& y, const char* op, Kernel kernel) {
  const Tensor dy = dy_in.contiguous();
  Tensor dx = Tensor::empty(y.shape(), y.dtype(), y.device());
  dispatch_floating(y.dtype(), op,
                    [&]<typename T>() { kernel(y.device(), y.numel(), dy.data<T>(), y.data<T>(), dx.data<T>()); });
  return dx;
}

}  // namespace

Tensor relu(const Tensor& x) {
  check_input(x, "relu");
  Tensor y = pointwise(x, "relu",
                       [](Device d, index_t n, const auto* in, auto* out) { NN_KERNEL(d, relu_forward, n, in, out); });
  if (autograd::needs_grad({&x}))
    autograd::record(y, "relu", {x}, [y_saved = y.detach()](const Tensor& dy, const autograd::GradMask&) {
      return autograd::Grads{pointwise_backward(dy, y_saved, "relu_backward",
                                                [](Device d, index_t n, const auto* g, const auto* yy, auto* dx) {
                                                  NN_KERNEL(d, relu_backward, n, g, yy, dx);
                                                })};
    });
  trace::record("relu", y, {&x}, static_cast<double>(x.numel()));
  return y;
}

Tensor sigmoid(const Tensor& x) {
  check_input(x, "sigmoid");
  Tensor y = pointwise(
      x, "sigmoid", [](Device d, index_t n, const auto* in, auto* out) { NN_KERNEL(d, sigmoid_forward, n, in, out); });
  if (autograd::needs_grad({&x}))
    autograd::record(y, "sigmoid", {x}, [y_saved = y.detach()](const Tensor& dy, const autograd::GradMask&) {
      return autograd::Grads{pointwise_backward(dy, y_saved, "sigmoid_backward",
                                                [](Device d, index_t n, const auto* g, const auto* yy, auto* dx) {
                                                  NN_KERNEL(d, sigmoid_backward, n, g, yy, dx);
                                                })};
    });
  trace::record("sigmoid", y, {&x}, 4.0 * x.numel());
  return y;
}

Tensor prelu(const Tensor& x_in, const Tensor& weight_in) {
  check_input(x_in, "prelu");
  check_floating(weight_in, "prelu", "weight");
  check_same(x_in, weight_in, "prelu");
  NN_CHECK(x_in.dim() >= 1, "prelu: x must have at least one dimension, got ", x_in.describe());
  const index_t N = x_in.size(0), C = x_in.dim() >= 2 ? x_in.size(1) : 1;
  const index_t HW = N * C == 0 ? 0 : x_in.numel() / (N * C);
  const index_t num_weights = weight_in.numel();
  NN_CHECK(weight_in.dim() == 1 && (num_weights == 1 || num_weights == C), "prelu: weight ", weight_in.shape(),
           " must be (1) or (C) = (", C, ") for x ", x_in.shape());

  const Tensor x = x_in.contiguous(), weight = weight_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch_floating(x.dtype(), "prelu", [&]<typename T>() {
    NN_KERNEL(x.device(), prelu_forward, N, C, HW, num_weights, x.data<T>(), weight.data<T>(), y.data<T>());
  });
  if (autograd::needs_grad({&x_in, &weight_in}))
    autograd::record(y, "prelu", {x_in, weight_in},
                     [x, weight, N, C, HW, num_weights](const Tensor& dy_in, const autograd::GradMask& needs) {
                       const Tensor dy = dy_in.contiguous();
                       Tensor dx = needs[0] ? Tensor::empty(x.shape(), x.dtype(), x.device()) : Tensor();
                       Tensor dw = needs[1] ? Tensor::empty(weight.shape(), x.dtype(), x.device()) : Tensor();
                       dispatch_floating(x.dtype(), "prelu_backward", [&]<typename T>() {
                         NN_KERNEL(x.device(), prelu_backward, N, C, HW, num_weights, dy.data<T>(), x.data<T>(),
                                   weight.data<T>(), needs[0] ? dx.data<T>() : nullptr,
                                   needs[1] ? dw.data<T>() : nullptr);
                       });
                       return autograd::Grads{dx, dw};
                     });
  trace::record("prelu", y, {&x_in, &weight_in}, 2.0 * x_in.numel());
  return y;
}

}  // namespace nn::ops
