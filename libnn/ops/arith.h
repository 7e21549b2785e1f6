// Elementwise arithmetic and reductions. Binary ops take equal shapes, or for mul/add a second
// operand of shape (N, C, 1, 1) or (1, C, 1, 1) against (N, C, H, W): the broadcast that SE and channel
// attention need; mul also takes (N, 1, H, W) against (N, C, H, W), the spatial-attention gate.
// Reductions along one dimension are in reduce.h.
#pragma once

#include "libnn/core/tensor.h"

namespace nn::ops {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor add_scalar(const Tensor& a, double s);
Tensor mul_scalar(const Tensor& a, double s);
Tensor sum(const Tensor& a);   // all elements -> shape ()
Tensor mean(const Tensor& a);  // all elements -> shape ()

// acc += alpha * b, in place and outside autograd (gradient accumulation, optimizers).
void add_(Tensor& acc, const Tensor& b, double alpha = 1.0);

}  // namespace nn::ops

namespace nn {
inline Tensor operator+(const Tensor& a, const Tensor& b) { return ops::add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return ops::sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return ops::mul(a, b); }
inline Tensor operator*(const Tensor& a, double s) { return ops::mul_scalar(a, s); }
inline Tensor operator*(double s, const Tensor& a) { return ops::mul_scalar(a, s); }
inline Tensor operator+(const Tensor& a, double s) { return ops::add_scalar(a, s); }
inline Tensor operator-(const Tensor& a) { return ops::mul_scalar(a, -1.0); }
}  // namespace nn
