// sqrt and clamp: forward and backward side by side, loops in kernels/cpu/elementwise. sqrt differentiates
// through its saved output y, clamp through its saved input x (the mask needs x, not the clamped y).
#include "libnn/ops/math.h"

#include <cmath>

#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/elementwise.h"
#include "libnn/autograd/node.h"
#include "libnn/core/dispatch.h"
#include "libnn/ops/common.h"

namespace nn::ops {

Tensor sqrt(const Tensor& x_in) {
  check_floating(x_in, "sqrt", "x");
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch_floating(x.dtype(), "sqrt",
                    [&]<typename T>() { NN_KERNEL(x.device(), sqrt_forward, x.numel(), x.data<T>(), y.data<T>()); });
  if (autograd::needs_grad({&x_in}))
    autograd::record(y, "sqrt", {x_in}, [y_saved = y.detach()](const Tensor& dy_in, const autograd::GradMask&) {
      const Tensor dy = dy_in.contiguous();
      Tensor dx = Tensor::empty(y_saved.shape(), y_saved.dtype(), y_saved.device());
      dispatch_floating(dy.dtype(), "sqrt_backward", [&]<typename T>() {
        NN_KERNEL(dy.device(), sqrt_backward, dy.numel(), dy.data<T>(), y_saved.data<T>(), dx.data<T>());
      });
      return autograd::Grads{dx};
    });
  return y;
}

Tensor clamp(const Tensor& x_in, double lo, double hi) {
  check_floating(x_in, "clamp", "x");
  NN_CHECK(!std::isnan(lo) && !std::isnan(hi) && lo <= hi, "clamp: bounds must satisfy lo <= hi, got [", lo, ", ", hi,
           "]");
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch_floating(x.dtype(), "clamp", [&]<typename T>() {
    NN_KERNEL(x.device(), clamp_forward, x.numel(), x.data<T>(), T(lo), T(hi), y.data<T>());
  });
  if (autograd::needs_grad({&x_in}))
    autograd::record(y, "clamp", {x_in}, [x, lo, hi](const Tensor& dy_in, const autograd::GradMask&) {
      const Tensor dy = dy_in.contiguous();
      Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
      dispatch_floating(x.dtype(), "clamp_backward", [&]<typename T>() {
        NN_KERNEL(dy.device(), clamp_backward, x.numel(), dy.data<T>(), x.data<T>(), T(lo), T(hi), dx.data<T>());
      });
      return autograd::Grads{dx};
    });
  return y;
}

}  // namespace nn::ops
