// Elementwise arithmetic: forward and backward side by side. Every loop lives in kernels/cpu/elementwise
// (one implementation of each), this file checks shapes, dispatches and records the graph.
//
// add and mul also take b of shape (N, C, 1, 1) or (1, C, 1, 1) against a (N, C, H, W): a shared
// (1, C, 1, 1) operand is first expanded to (N, C) so that both cases run the same per-sample kernels,
// and its gradient is then reduced over N in a fixed order (deterministic, thread-count independent).
// mul also takes b (N, 1, H, W) against a (N, C, H, W) (spatial attention's gate); its gradient sums
// over channels per sample in channel order.
#include "libnn/ops/arith.h"

#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/elementwise.h"
#include "libnn/autograd/node.h"
#include "libnn/core/dispatch.h"
#include "libnn/core/trace.h"
#include "libnn/ops/common.h"

namespace nn::ops {

namespace {

enum class Broadcast { none, per_sample, shared };  // b (N, C, H, W) | (N, C, 1, 1) | (1, C, 1, 1)

void check_pair(const Tensor& a, const Tensor& b, const char* op) {
  check_floating(a, op, "a");
  check_floating(b, op, "b");
  check_same(a, b, op);
}

void check_same_shape(const Tensor& a, const Tensor& b, const char* op) {
  check_pair(a, b, op);
  NN_CHECK(a.shape() == b.shape(), op, ": shapes ", a.shape(), " and ", b.shape(), " differ");
}

// Equal shapes, or the channel broadcast that SE blocks and attention gates need.
Broadcast classify(const Tensor& a, const Tensor& b, const char* op) {
  check_pair(a, b, op);
  if (a.shape() == b.shape()) return Broadcast::none;
  const bool channel = a.dim() == 4 && b.dim() == 4 && b.size(1) == a.size(1) && b.size(2) == 1 && b.size(3) == 1 &&
                       (b.size(0) == a.size(0) || b.size(0) == 1);
  NN_CHECK(channel, op, ": shapes ", a.shape(), " and ", b.shape(), " differ",
           a.dim() == 4 ? " (b must equal a, or be (N, C, 1, 1) or (1, C, 1, 1) against a (N, C, H, W))" : "");
  return b.size(0) == a.size(0) ? Broadcast::per_sample : Broadcast::shared;
}

// (N, C) per-sample values of b: b itself, or the shared (1, C, 1, 1) row repeated N times.
Tensor expand_channels(const Tensor& b, index_t N) {
  const Tensor bc = b.contiguous();
  if (bc.size(0) == N) return bc.reshape({N, bc.size(1)});
  const index_t C = bc.size(1);
  Tensor out = Tensor::empty({N, C}, bc.dtype(), bc.device());
  dispatch_floating(bc.dtype(), "expand_channels", [&]<typename T>() {
    for (index_t n = 0; n < N; ++n) NN_KERNEL(bc.device(), copy, C, bc.data<T>(), out.data<T>() + n * C);
  });
  return out;
}

// The gradient of b from per-sample gradients g (N, C): reshaped, or summed over N for a shared b.
Tensor reduce_channels(const Tensor& g, const Shape& b_shape) {
  if (b_shape[0] == g.size(0)) return g.reshape(b_shape);
  const index_t N = g.size(0), C = g.size(1);
  Tensor out = Tensor::zeros(b_shape, g.dtype(), g.device());
  dispatch_floating(g.dtype(), "reduce_channels", [&]<typename T>() {
    for (index_t n = 0; n < N; ++n) NN_KERNEL(g.device(), axpy, C, T(1), g.data<T>() + n * C, out.data<T>());
  });
  return out;
}

// out = kernel(device, n, a, b, out) over contiguous operands of equal shape.
template <typename Kernel>
Tensor binary(const Tensor& a_in, const Tensor& b_in, const char* op, Kernel kernel) {
  const Tensor a = a_in.contiguous(), b = b_in.contiguous();
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  dispatch_floating(a.dtype(), op,
                    [&]<typename T>() { kernel(a.device(), a.numel(), a.data<T>(), b.data<T>(), out.data<T>()); });
  return out;
}

// y (N, C, HW) = x + s[n, c].
Tensor channel_add(const Tensor& x_in, const Tensor& s) {
  const Tensor x = x_in.contiguous();
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  const index_t planes = x.size(0) * x.size(1), HW = x.size(2) * x.size(3);
  dispatch_floating(x.dtype(), "add", [&]<typename T>() {
    NN_KERNEL(x.device(), plane_add_forward, planes, HW, x.data<T>(), s.data<T>(), out.data<T>());
  });
  return out;
}

// (N, C) per-plane sums of dy (N, C, H, W).
Tensor plane_sums(const Tensor& dy_in) {
  const Tensor dy = dy_in.contiguous();
  const index_t planes = dy.size(0) * dy.size(1), HW = dy.size(2) * dy.size(3);
  Tensor out = Tensor::empty({dy.size(0), dy.size(1)}, dy.dtype(), dy.device());
  dispatch_floating(dy.dtype(), "add",
                    [&]<typename T>() { NN_KERNEL(dy.device(), plane_sum, planes, HW, dy.data<T>(), out.data<T>()); });
  return out;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  const Broadcast mode = classify(a, b, "add");
  Tensor out =
      mode == Broadcast::none
          ? binary(a, b, "add",
                   [](Device d, index_t n, const auto* x, const auto* y, auto* o) { NN_KERNEL(d, add, n, x, y, o); })
          : channel_add(a, expand_channels(b, a.size(0)));
  if (autograd::needs_grad({&a, &b})) {
    const Shape b_shape = b.shape();
    autograd::record(out, "add", {a, b}, [mode, b_shape](const Tensor& dy, const autograd::GradMask& needs) {
      Tensor db;
      if (needs[1]) db = mode == Broadcast::none ? dy : reduce_channels(plane_sums(dy), b_shape);
      return autograd::Grads{needs[0] ? dy : Tensor(), db};
    });
  }
  trace::record("add", out, {&a, &b}, 1.0 * a.numel());
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  check_same_shape(a, b, "sub");
  Tensor out = binary(
      a, b, "sub", [](Device d, index_t n, const auto* x, const auto* y, auto* o) { NN_KERNEL(d, sub, n, x, y, o); });
  if (autograd::needs_grad({&a, &b}))
    autograd::record(out, "sub", {a, b}, [](const Tensor& dy, const autograd::GradMask& needs) {
      return autograd::Grads{needs[0] ? dy : Tensor(), needs[1] ? mul_scalar(dy, -1.0) : Tensor()};
    });
  return out;
}

namespace {

// a (N, C, H, W) * b (N, 1, H, W): one gate per position for all channels (spatial attention).
bool is_spatial_broadcast(const Tensor& a, const Tensor& b) {
  return a.defined() && b.defined() && a.dim() == 4 && b.dim() == 4 && a.size(1) != 1 && b.size(0) == a.size(0) &&
         b.size(1) == 1 && b.size(2) == a.size(2) && b.size(3) == a.size(3);
}

Tensor spatial_mul(const Tensor& a, const Tensor& b) {
  check_pair(a, b, "mul");
  const Tensor x = a.contiguous(), s = b.contiguous();  // (N, C, H, W), (N, 1, H, W)
  const index_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch_floating(x.dtype(), "mul", [&]<typename T>() {
    NN_KERNEL(x.device(), spatial_mul_forward, N, C, HW, x.data<T>(), s.data<T>(), out.data<T>());
  });
  if (autograd::needs_grad({&a, &b}))
    autograd::record(out, "mul", {a, b}, [x, s](const Tensor& dy_in, const autograd::GradMask& needs) {
      const Tensor dy = dy_in.contiguous();
      const index_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
      Tensor dx = needs[0] ? Tensor::empty(x.shape(), x.dtype(), x.device()) : Tensor();
      Tensor ds = needs[1] ? Tensor::empty(s.shape(), x.dtype(), x.device()) : Tensor();
      dispatch_floating(x.dtype(), "mul_backward", [&]<typename T>() {
        NN_KERNEL(x.device(), spatial_mul_backward, N, C, HW, dy.data<T>(), x.data<T>(), s.data<T>(),
                  needs[0] ? dx.data<T>() : nullptr, needs[1] ? ds.data<T>() : nullptr);
      });
      return autograd::Grads{dx, ds};
    });
  return out;
}

}  // namespace

Tensor mul(const Tensor& a, const Tensor& b) {
  if (is_spatial_broadcast(a, b)) return spatial_mul(a, b);
  const Broadcast mode = classify(a, b, "mul");
  if (mode == Broadcast::none) {
    Tensor out = binary(
        a, b, "mul", [](Device d, index_t n, const auto* x, const auto* y, auto* o) { NN_KERNEL(d, mul, n, x, y, o); });
    if (autograd::needs_grad({&a, &b}))
      autograd::record(out, "mul", {a, b}, [a, b](const Tensor& dy, const autograd::GradMask& needs) {
        return autograd::Grads{needs[0] ? mul(dy, b) : Tensor(), needs[1] ? mul(dy, a) : Tensor()};
      });
    trace::record("mul", out, {&a, &b}, 1.0 * a.numel());
    return out;
  }
  const Tensor x = a.contiguous(), s = expand_channels(b, a.size(0));  // (N, C, H, W), (N, C)
  const index_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch_floating(x.dtype(), "mul", [&]<typename T>() {
    NN_KERNEL(x.device(), channel_mul_forward, N, C, HW, x.data<T>(), s.data<T>(), out.data<T>());
  });
  if (autograd::needs_grad({&a, &b})) {
    const Shape b_shape = b.shape();
    autograd::record(out, "mul", {a, b}, [x, s, b_shape](const Tensor& dy_in, const autograd::GradMask& needs) {
      const Tensor dy = dy_in.contiguous();
      const index_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
      Tensor dx = needs[0] ? Tensor::empty(x.shape(), x.dtype(), x.device()) : Tensor();
      Tensor ds = needs[1] ? Tensor::empty({N, C}, x.dtype(), x.device()) : Tensor();
      dispatch_floating(x.dtype(), "mul_backward", [&]<typename T>() {
        NN_KERNEL(x.device(), channel_mul_backward, N, C, HW, dy.data<T>(), x.data<T>(), s.data<T>(),
                  needs[0] ? dx.data<T>() : nullptr, needs[1] ? ds.data<T>() : nullptr);
      });
      return autograd::Grads{dx, needs[1] ? reduce_channels(ds, b_shape) : Tensor()};
    });
  }
  trace::record("mul", out, {&a, &b}, 1.0 * a.numel());
  return out;
}

Tensor add_scalar(const Tensor& a_in, double s) {
  check_floating(a_in, "add_scalar", "a");
  const Tensor a = a_in.contiguous();
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  dispatch_floating(a.dtype(), "add_scalar", [&]<typename T>() {
    NN_KERNEL(a.device(), add_scalar, a.numel(), a.data<T>(), static_cast<T>(s), out.data<T>());
  });
  if (autograd::needs_grad({&a_in}))
    autograd::record(out, "add_scalar", {a_in},
                     [](const Tensor& dy, const autograd::GradMask&) { return autograd::Grads{dy}; });
  return out;
}

Tensor mul_scalar(const Tensor& a_in, double s) {
  check_floating(a_in, "mul_scalar", "a");
  const Tensor a = a_in.contiguous();
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  dispatch_floating(a.dtype(), "mul_scalar", [&]<typename T>() {
    NN_KERNEL(a.device(), mul_scalar, a.numel(), a.data<T>(), static_cast<T>(s), out.data<T>());
  });
  if (autograd::needs_grad({&a_in}))
    autograd::record(out, "mul_scalar", {a_in},
                     [s](const Tensor& dy, const autograd::GradMask&) { return autograd::Grads{mul_scalar(dy, s)}; });
  return out;
}

Tensor sum(const Tensor& a_in) {
  check_floating(a_in, "sum", "a");
  const Tensor a = a_in.contiguous();
  Tensor out = Tensor::empty({}, a.dtype(), a.device());
  dispatch_floating(a.dtype(), "sum",
                    [&]<typename T>() { NN_KERNEL(a.device(), sum, a.numel(), a.data<T>(), out.data<T>()); });
  if (autograd::needs_grad({&a_in})) {
    const Shape shape = a_in.shape();
    autograd::record(out, "sum", {a_in}, [shape](const Tensor& dy_in, const autograd::GradMask&) {
      const Tensor dy = dy_in.contiguous();
      Tensor da = Tensor::empty(shape, dy.dtype(), dy.device());
      dispatch_floating(dy.dtype(), "sum backward", [&]<typename T>() {
        NN_KERNEL(dy.device(), fill_from, da.numel(), dy.data<T>(), da.data<T>());
      });
      return autograd::Grads{da};
    });
  }
  return out;
}

Tensor mean(const Tensor& a) {
  NN_CHECK(a.defined() && a.numel() > 0, "mean: empty tensor");
  return mul_scalar(sum(a), 1.0 / static_cast<double>(a.numel()));
}

void add_(Tensor& acc, const Tensor& b_in, double alpha) {
  check_same_shape(acc, b_in, "add_");
  NN_CHECK(acc.is_contiguous(), "add_: destination must be contiguous, got ", acc.describe());
  const Tensor b = b_in.contiguous();
  dispatch_floating(acc.dtype(), "add_", [&]<typename T>() {
    NN_KERNEL(acc.device(), axpy, acc.numel(), static_cast<T>(alpha), b.data<T>(), acc.data<T>());
  });
}

}  // namespace nn::ops
