// Elementwise arithmetic: forward and backward side by side.
#include "libnn/ops/arith.h"

#include "libnn/autograd/node.h"
#include "libnn/ops/common.h"

namespace nn::ops {

namespace {

// out[i] = f(a[i], b[i]) over contiguous inputs of equal shape.
template <typename F>
Tensor binary_same_shape(const Tensor& a_in, const Tensor& b_in, const char* op, F f) {
  const Tensor a = a_in.contiguous(), b = b_in.contiguous();
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  const index_t n = a.numel();
  dispatch_floating(a.dtype(), op, [&]<typename T>() {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (index_t i = 0; i < n; ++i) po[i] = f(pa[i], pb[i]);
  });
  return out;
}

template <typename F>
Tensor unary(const Tensor& a_in, const char* op, F f) {
  const Tensor a = a_in.contiguous();
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  const index_t n = a.numel();
  dispatch_floating(a.dtype(), op, [&]<typename T>() {
    const T* pa = a.data<T>();
    T* po = out.data<T>();
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (index_t i = 0; i < n; ++i) po[i] = f(pa[i]);
  });
  return out;
}

void check_binary(const Tensor& a, const Tensor& b, const char* op) {
  check_floating(a, op, "a");
  check_floating(b, op, "b");
  check_same(a, b, op);
  check_cpu(a, op);
  NN_CHECK(a.shape() == b.shape(), op, ": shapes ", a.shape(), " and ", b.shape(), " differ");
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  check_binary(a, b, "add");
  Tensor out = binary_same_shape(a, b, "add", [](auto x, auto y) { return x + y; });
  if (autograd::needs_grad({&a, &b}))
    autograd::record(out, "add", {a, b}, [](const Tensor& dy, const autograd::GradMask& needs) {
      return autograd::Grads{needs[0] ? dy : Tensor(), needs[1] ? dy : Tensor()};
    });
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  check_binary(a, b, "sub");
  Tensor out = binary_same_shape(a, b, "sub", [](auto x, auto y) { return x - y; });
  if (autograd::needs_grad({&a, &b}))
    autograd::record(out, "sub", {a, b}, [](const Tensor& dy, const autograd::GradMask& needs) {
      return autograd::Grads{needs[0] ? dy : Tensor(), needs[1] ? mul_scalar(dy, -1.0) : Tensor()};
    });
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  check_binary(a, b, "mul");
  Tensor out = binary_same_shape(a, b, "mul", [](auto x, auto y) { return x * y; });
  if (autograd::needs_grad({&a, &b}))
    autograd::record(out, "mul", {a, b}, [a, b](const Tensor& dy, const autograd::GradMask& needs) {
      return autograd::Grads{needs[0] ? mul(dy, b) : Tensor(), needs[1] ? mul(dy, a) : Tensor()};
    });
  return out;
}

Tensor add_scalar(const Tensor& a, double s) {
  check_floating(a, "add_scalar", "a");
  check_cpu(a, "add_scalar");
  Tensor out = unary(a, "add_scalar", [s](auto x) { return x + static_cast<decltype(x)>(s); });
  if (autograd::needs_grad({&a}))
    autograd::record(out, "add_scalar", {a},
                     [](const Tensor& dy, const autograd::GradMask&) { return autograd::Grads{dy}; });
  return out;
}

Tensor mul_scalar(const Tensor& a, double s) {
  check_floating(a, "mul_scalar", "a");
  check_cpu(a, "mul_scalar");
  Tensor out = unary(a, "mul_scalar", [s](auto x) { return x * static_cast<decltype(x)>(s); });
  if (autograd::needs_grad({&a}))
    autograd::record(out, "mul_scalar", {a},
                     [s](const Tensor& dy, const autograd::GradMask&) { return autograd::Grads{mul_scalar(dy, s)}; });
  return out;
}

Tensor sum(const Tensor& a_in) {
  check_floating(a_in, "sum", "a");
  check_cpu(a_in, "sum");
  const Tensor a = a_in.contiguous();
  Tensor out = Tensor::empty({}, a.dtype());
  dispatch_floating(a.dtype(), "sum", [&]<typename T>() {
    const T* p = a.data<T>();
    double acc = 0.0;  // sequential double accumulation: deterministic, and exact enough for losses
    for (index_t i = 0; i < a.numel(); ++i) acc += p[i];
    *out.data<T>() = static_cast<T>(acc);
  });
  if (autograd::needs_grad({&a_in})) {
    const Shape shape = a_in.shape();
    autograd::record(out, "sum", {a_in}, [shape](const Tensor& dy, const autograd::GradMask&) {
      return autograd::Grads{Tensor::full(shape, dy.item(), dy.dtype(), dy.device())};
    });
  }
  return out;
}

Tensor mean(const Tensor& a) {
  NN_CHECK(a.defined() && a.numel() > 0, "mean: empty tensor");
  return mul_scalar(sum(a), 1.0 / static_cast<double>(a.numel()));
}

void add_(Tensor& acc, const Tensor& b_in, double alpha) {
  check_binary(acc, b_in, "add_");
  NN_CHECK(acc.is_contiguous(), "add_: destination must be contiguous, got ", acc.describe());
  const Tensor b = b_in.contiguous();
  const index_t n = acc.numel();
  dispatch_floating(acc.dtype(), "add_", [&]<typename T>() {
    T* pa = acc.data<T>();
    const T* pb = b.data<T>();
    const T s = static_cast<T>(alpha);
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (index_t i = 0; i < n; ++i) pa[i] += s * pb[i];
  });
}

}  // namespace nn::ops
