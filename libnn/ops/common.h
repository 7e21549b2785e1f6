// Shared argument checks for the public ops: every failure names the op and the shapes.
#pragma once

#include "libnn/core/tensor.h"

namespace nn::ops {

// A 2-D window size, stride, padding or dilation: {h, w}, or one number for both (PyTorch's int-or-pair).
struct Size2 {
  index_t h = 0, w = 0;
  Size2() = default;
  Size2(index_t both) : h(both), w(both) {}  // NOLINT: implicit on purpose, like PyTorch's int-or-pair
  Size2(index_t h_, index_t w_) : h(h_), w(w_) {}
  friend bool operator==(const Size2&, const Size2&) = default;
};

inline void check_defined(const Tensor& t, const char* op, const char* arg) {
  NN_CHECK(t.defined(), op, ": ", arg, " is an undefined tensor");
}

inline void check_floating(const Tensor& t, const char* op, const char* arg) {
  check_defined(t, op, arg);
  NN_CHECK(t.dtype() == DType::f32 || t.dtype() == DType::f64, op, ": ", arg, " must be f32 or f64, got ",
           t.describe());
}

inline void check_dim(const Tensor& t, int ndim, const char* op, const char* arg) {
  check_defined(t, op, arg);
  NN_CHECK(t.dim() == ndim, op, ": ", arg, " must be ", ndim, "-d, got ", t.describe());
}

inline void check_same(const Tensor& a, const Tensor& b, const char* op) {
  NN_CHECK(a.dtype() == b.dtype(), op, ": dtypes differ: ", a.describe(), " vs ", b.describe());
  NN_CHECK(a.device() == b.device(), op, ": devices differ: ", a.describe(), " vs ", b.describe());
}

}  // namespace nn::ops
