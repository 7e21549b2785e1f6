// Pooling: forward and backward side by side over kern::*_pool*. Each op checks x (N, C, H, W) and the
// window, fills a Pool2dParams and records a backward that captures only what it needs: max_pool2d its
// int64 argmax indices (N, C, P, Q), the average pools nothing but the geometry.
#include "libnn/ops/pool.h"

#include <cstdint>

#include "kernels/cpu/pool.h"
#include "kernels/cuda/pool.h"
#include "libnn/autograd/node.h"
#include "libnn/core/dispatch.h"
#include "libnn/core/trace.h"
#include "libnn/ops/common.h"

namespace nn::ops {

namespace {

void check_input(const Tensor& x, const char* op) {
  check_floating(x, op, "x");
  NN_CHECK(x.dim() == 4, op, ": x must be (N, C, H, W), got ", x.describe());
}

kern::Pool2dParams make_params(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding, const char* op) {
  check_input(x, op);
  NN_CHECK(kernel.h > 0 && kernel.w > 0 && stride.h > 0 && stride.w > 0 && padding.h >= 0 && padding.w >= 0, op,
           ": kernel (", kernel.h, ", ", kernel.w, ") and stride (", stride.h, ", ", stride.w,
           ") must be positive and padding (", padding.h, ", ", padding.w, ") non-negative");
  NN_CHECK(padding.h <= kernel.h / 2 && padding.w <= kernel.w / 2, op, ": padding (", padding.h, ", ", padding.w,
           ") must be at most half of kernel (", kernel.h, ", ", kernel.w, ")");
  const index_t H = x.size(2), W = x.size(3);
  NN_CHECK(kernel.h <= H + 2 * padding.h && kernel.w <= W + 2 * padding.w, op, ": kernel (", kernel.h, ", ", kernel.w,
           ") is larger than the padded input (", H + 2 * padding.h, ", ", W + 2 * padding.w, ") of x ", x.shape(),
           " with padding (", padding.h, ", ", padding.w, ")");
  return kern::Pool2dParams{.N = x.size(0),
                            .C = x.size(1),
                            .H = H,
                            .W = W,
                            .kernel_h = kernel.h,
                            .kernel_w = kernel.w,
                            .stride_h = stride.h,
                            .stride_w = stride.w,
                            .pad_h = padding.h,
                            .pad_w = padding.w};
}

// An empty (N, C, H, W) gradient buffer for the backward kernels, which assign every element.
Tensor empty_like_input(const Shape& shape, const Tensor& dy) { return Tensor::empty(shape, dy.dtype(), dy.device()); }

}  // namespace

Tensor max_pool2d(const Tensor& x_in, Size2 kernel, Size2 stride, Size2 padding) {
  const kern::Pool2dParams p = make_params(x_in, kernel, stride, padding, "max_pool2d");
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty({p.N, p.C, p.P(), p.Q()}, x.dtype(), x.device());
  const bool grad = autograd::needs_grad({&x_in});
  Tensor indices = grad ? Tensor::empty(y.shape(), DType::i64, x.device()) : Tensor();  // (N, C, P, Q)
  dispatch_floating(x.dtype(), "max_pool2d", [&]<typename T>() {
    NN_KERNEL(x.device(), max_pool2d_forward, p, x.data<T>(), y.data<T>(),
              grad ? indices.data<std::int64_t>() : nullptr);
  });
  if (grad)
    autograd::record(y, "max_pool2d", {x_in},
                     [p, indices, shape = x.shape()](const Tensor& dy_in, const autograd::GradMask&) {
                       const Tensor dy = dy_in.contiguous();
                       Tensor dx = empty_like_input(shape, dy);
                       dispatch_floating(dy.dtype(), "max_pool2d_backward", [&]<typename T>() {
                         NN_KERNEL(dy.device(), max_pool2d_backward, p, dy.data<T>(), indices.data<std::int64_t>(),
                                   dx.data<T>());
                       });
                       return autograd::Grads{dx};
                     });
  trace::record("max_pool2d", y, {&x_in}, 1.0 * x_in.numel());
  return y;
}

Tensor avg_pool2d(const Tensor& x_in, Size2 kernel, Size2 stride, Size2 padding, bool count_include_pad) {
  kern::Pool2dParams p = make_params(x_in, kernel, stride, padding, "avg_pool2d");
  p.count_include_pad = count_include_pad;
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty({p.N, p.C, p.P(), p.Q()}, x.dtype(), x.device());
  dispatch_floating(x.dtype(), "avg_pool2d",
                    [&]<typename T>() { NN_KERNEL(x.device(), avg_pool2d_forward, p, x.data<T>(), y.data<T>()); });
  if (autograd::needs_grad({&x_in}))
    autograd::record(y, "avg_pool2d", {x_in}, [p, shape = x.shape()](const Tensor& dy_in, const autograd::GradMask&) {
      const Tensor dy = dy_in.contiguous();
      Tensor dx = empty_like_input(shape, dy);
      dispatch_floating(dy.dtype(), "avg_pool2d_backward", [&]<typename T>() {
        NN_KERNEL(dy.device(), avg_pool2d_backward, p, dy.data<T>(), dx.data<T>());
      });
      return autograd::Grads{dx};
    });
  trace::record("avg_pool2d", y, {&x_in}, 1.0 * x_in.numel());
  return y;
}

Tensor adaptive_avg_pool2d(const Tensor& x_in, Size2 output_size) {
  check_input(x_in, "adaptive_avg_pool2d");
  NN_CHECK(output_size == Size2(1), "adaptive_avg_pool2d: only output_size 1 is supported, got (", output_size.h, ", ",
           output_size.w, ") for x ", x_in.shape());
  const index_t planes = x_in.size(0) * x_in.size(1), HW = x_in.size(2) * x_in.size(3);
  NN_CHECK(HW > 0, "adaptive_avg_pool2d: empty spatial size in x ", x_in.shape());
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty({x.size(0), x.size(1), 1, 1}, x.dtype(), x.device());
  dispatch_floating(x.dtype(), "adaptive_avg_pool2d", [&]<typename T>() {
    NN_KERNEL(x.device(), global_avg_pool_forward, planes, HW, x.data<T>(), y.data<T>());
  });
  if (autograd::needs_grad({&x_in}))
    autograd::record(y, "adaptive_avg_pool2d", {x_in},
                     [planes, HW, shape = x.shape()](const Tensor& dy_in, const autograd::GradMask&) {
                       const Tensor dy = dy_in.contiguous();
                       Tensor dx = empty_like_input(shape, dy);
                       dispatch_floating(dy.dtype(), "adaptive_avg_pool2d_backward", [&]<typename T>() {
                         NN_KERNEL(dy.device(), global_avg_pool_backward, planes, HW, dy.data<T>(), dx.data<T>());
                       });
                       return autograd::Grads{dx};
                     });
  trace::record("adaptive_avg_pool2d", y, {&x_in}, 1.0 * x_in.numel());
  return y;
}

Tensor global_max_pool2d(const Tensor& x_in) {
  check_input(x_in, "global_max_pool2d");
  const index_t planes = x_in.size(0) * x_in.size(1), HW = x_in.size(2) * x_in.size(3);
  NN_CHECK(HW > 0, "global_max_pool2d: empty spatial size in x ", x_in.shape());
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty({x.size(0), x.size(1), 1, 1}, x.dtype(), x.device());
  const bool grad = autograd::needs_grad({&x_in});
  Tensor indices = grad ? Tensor::empty({planes}, DType::i64, x.device()) : Tensor();  // (N * C)
  dispatch_floating(x.dtype(), "global_max_pool2d", [&]<typename T>() {
    NN_KERNEL(x.device(), global_max_pool_forward, planes, HW, x.data<T>(), y.data<T>(),
              grad ? indices.data<std::int64_t>() : nullptr);
  });
  if (grad)
    autograd::record(y, "global_max_pool2d", {x_in},
                     [planes, HW, indices, shape = x.shape()](const Tensor& dy_in, const autograd::GradMask&) {
                       const Tensor dy = dy_in.contiguous();
                       Tensor dx = empty_like_input(shape, dy);
                       dispatch_floating(dy.dtype(), "global_max_pool2d_backward", [&]<typename T>() {
                         NN_KERNEL(dy.device(), global_max_pool_backward, planes, HW, dy.data<T>(),
                                   indices.data<std::int64_t>(), dx.data<T>());
                       });
                       return autograd::Grads{dx};
                     });
  trace::record("global_max_pool2d", y, {&x_in}, 1.0 * x_in.numel());
  return y;
}

}  // namespace nn::ops
