// mean_dim and amax_dim: forward and backward side by side. Both view x as (outer, D, inner) and call
// kern::*_dim_* in kernels/cpu/reduce; amax saves its argmax indices as an explicit i64 tensor.
#include "libnn/ops/reduce.h"

#include <cstdint>

#include "kernels/cpu/reduce.h"
#include "kernels/cuda/reduce.h"
#include "libnn/autograd/node.h"
#include "libnn/core/dispatch.h"
#include "libnn/ops/common.h"

namespace nn::ops {

namespace {

struct DimView {
  index_t outer = 1, D = 1, inner = 1;
  Shape out_shape;  // with or without the reduced dimension, as keepdim asks
};

DimView dim_view(const Tensor& x, int dim_in, bool keepdim, const char* op) {
  check_floating(x, op, "x");
  NN_CHECK(x.dim() > 0, op, ": x must have at least one dimension, got ", x.describe());
  const int dim = wrap_dim(dim_in, x.dim(), op);
  NN_CHECK(x.size(dim) > 0, op, ": cannot reduce over dimension ", dim, " of size 0 of ", x.describe());
  DimView v;
  for (int d = 0; d < x.dim(); ++d) {
    if (d < dim) v.outer *= x.size(d);
    if (d > dim) v.inner *= x.size(d);
    if (d != dim)
      v.out_shape.push_back(x.size(d));
    else if (keepdim)
      v.out_shape.push_back(1);
  }
  v.D = x.size(dim);
  return v;
}

}  // namespace

Tensor mean_dim(const Tensor& x_in, int dim, bool keepdim) {
  const DimView v = dim_view(x_in, dim, keepdim, "mean_dim");
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(v.out_shape, x.dtype(), x.device());
  dispatch_floating(x.dtype(), "mean_dim", [&]<typename T>() {
    NN_KERNEL(x.device(), mean_dim_forward, v.outer, v.D, v.inner, x.data<T>(), y.data<T>());
  });
  if (autograd::needs_grad({&x_in})) {
    const Shape x_shape = x.shape();
    autograd::record(y, "mean_dim", {x_in}, [v, x_shape](const Tensor& dy_in, const autograd::GradMask&) {
      const Tensor dy = dy_in.contiguous();
      Tensor dx = Tensor::empty(x_shape, dy.dtype(), dy.device());
      dispatch_floating(dy.dtype(), "mean_dim_backward", [&]<typename T>() {
        NN_KERNEL(dy.device(), mean_dim_backward, v.outer, v.D, v.inner, dy.data<T>(), dx.data<T>());
      });
      return autograd::Grads{dx};
    });
  }
  return y;
}

Tensor amax_dim(const Tensor& x_in, int dim, bool keepdim) {
  const DimView v = dim_view(x_in, dim, keepdim, "amax_dim");
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(v.out_shape, x.dtype(), x.device());
  Tensor index = Tensor::empty(v.out_shape, DType::i64, x.device());  // argmax along dim, for the backward
  dispatch_floating(x.dtype(), "amax_dim", [&]<typename T>() {
    NN_KERNEL(x.device(), amax_dim_forward, v.outer, v.D, v.inner, x.data<T>(), y.data<T>(),
              index.data<std::int64_t>());
  });
  if (autograd::needs_grad({&x_in})) {
    const Shape x_shape = x.shape();
    autograd::record(y, "amax_dim", {x_in}, [v, x_shape, index](const Tensor& dy_in, const autograd::GradMask&) {
      const Tensor dy = dy_in.contiguous();
      Tensor dx = Tensor::empty(x_shape, dy.dtype(), dy.device());
      dispatch_floating(dy.dtype(), "amax_dim_backward", [&]<typename T>() {
        NN_KERNEL(dy.device(), amax_dim_backward, v.outer, v.D, v.inner, dy.data<T>(), index.data<std::int64_t>(),
                  dx.data<T>());
      });
      return autograd::Grads{dx};
    });
  }
  return y;
}

}  // namespace nn::ops
