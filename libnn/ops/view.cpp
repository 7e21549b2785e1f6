// Views and layout changes, differentiable: reshape/view, flatten, permute/transpose, slice,
// contiguous, clone. A view shares storage with its base; backward maps dy back to the base's shape.
#include <numeric>

#include "libnn/autograd/node.h"
#include "libnn/ops/arith.h"

namespace nn {

namespace detail {
Tensor contiguous_copy(const Tensor& t);
}

namespace {

// Resolves one -1 in a requested shape and checks the element count.
Shape infer_shape(const Shape& requested, index_t numel, const char* op, const Shape& from) {
  Shape out = requested;
  int infer = -1;
  index_t known = 1;
  for (int i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      NN_CHECK(infer < 0, op, ": only one dimension can be -1 in ", requested);
      infer = i;
    } else {
      NN_CHECK(out[i] >= 0, op, ": invalid size ", out[i], " in ", requested);
      known *= out[i];
    }
  }
  if (infer >= 0) {
    NN_CHECK(known > 0 && numel % known == 0, op, ": cannot view ", from, " as ", requested);
    out[infer] = numel / known;
  }
  NN_CHECK(out.numel() == numel, op, ": shape ", requested, " is invalid for input of shape ", from, " (",
           numel, " elements)");
  return out;
}

void record_reshape_grad(const Tensor& out, const Tensor& in, const char* name) {
  if (!autograd::needs_grad({&in})) return;
  const Shape in_shape = in.shape();
  autograd::record(out, name, {in}, [in_shape](const Tensor& dy, const autograd::GradMask&) {
    return autograd::Grads{dy.reshape(in_shape)};
  });
}

}  // namespace

Tensor Tensor::view(const Shape& requested) const {
  NN_CHECK(is_contiguous(), "view: input ", describe(), " is not contiguous; use reshape()");
  const Shape s = infer_shape(requested, numel(), "view", shape());
  Tensor out = make_view(*this, s, contiguous_strides(s), offset());
  record_reshape_grad(out, *this, "view");
  return out;
}

Tensor Tensor::reshape(const Shape& requested) const {
  if (is_contiguous()) return view(requested);
  const Shape s = infer_shape(requested, numel(), "reshape", shape());
  return contiguous().view(s);
}

Tensor Tensor::flatten(int start_dim) const {
  const int start = wrap_dim(start_dim, dim(), "flatten");
  Shape s;
  for (int i = 0; i < start; ++i) s.push_back(size(i));
  index_t rest = 1;
  for (int i = start; i < dim(); ++i) rest *= size(i);
  s.push_back(rest);
  return reshape(s);
}

Tensor Tensor::permute(std::initializer_list<int> dims_in) const {
  const std::vector<int> dims(dims_in);
  NN_CHECK(static_cast<int>(dims.size()) == dim(), "permute: ", dims.size(), " dims given for a ", dim(),
           "-d tensor ", shape());
  Shape s, st;
  std::vector<int> inverse(dims.size(), -1);
  for (std::size_t i = 0; i < dims.size(); ++i) {
    const int d = wrap_dim(dims[i], dim(), "permute");
    NN_CHECK(inverse[d] < 0, "permute: dimension ", d, " repeated");
    inverse[d] = static_cast<int>(i);
    s.push_back(shape()[d]);
    st.push_back(strides()[d]);
  }
  Tensor out = make_view(*this, s, st, offset());
  if (autograd::needs_grad({this})) {
    autograd::record(out, "permute", {*this}, [inverse](const Tensor& dy, const autograd::GradMask&) {
      Shape s2, st2;
      for (int d : inverse) s2.push_back(dy.shape()[d]), st2.push_back(dy.strides()[d]);
      return autograd::Grads{make_view(dy, s2, st2, dy.offset())};
    });
  }
  return out;
}

Tensor Tensor::transpose(int dim0, int dim1) const {
  const int a = wrap_dim(dim0, dim(), "transpose"), b = wrap_dim(dim1, dim(), "transpose");
  Shape s = shape(), st = strides();
  std::swap(s[a], s[b]);
  std::swap(st[a], st[b]);
  Tensor out = make_view(*this, s, st, offset());
  if (autograd::needs_grad({this})) {
    autograd::record(out, "transpose", {*this}, [a, b](const Tensor& dy, const autograd::GradMask&) {
      return autograd::Grads{dy.transpose(a, b)};
    });
  }
  return out;
}

Tensor Tensor::slice(int dim_in, index_t start, index_t end) const {
  const int d = wrap_dim(dim_in, dim(), "slice");
  NN_CHECK(0 <= start && start <= end && end <= shape()[d], "slice: range [", start, ", ", end,
           ") out of bounds for dimension ", d, " of size ", shape()[d], " in ", shape());
  Shape s = shape();
  s[d] = end - start;
  Tensor out = make_view(*this, s, strides(), offset() + start * strides()[d]);
  if (autograd::needs_grad({this})) {
    const Shape in_shape = shape();
    autograd::record(out, "slice", {*this}, [in_shape, d, start, end](const Tensor& dy, const autograd::GradMask&) {
      Tensor dx = Tensor::zeros(in_shape, dy.dtype(), dy.device());
      dx.slice(d, start, end).copy_(dy);
      return autograd::Grads{dx};
    });
  }
  return out;
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  Tensor out = detail::contiguous_copy(*this);
  if (autograd::needs_grad({this}))
    autograd::record(out, "contiguous", {*this},
                     [](const Tensor& dy, const autograd::GradMask&) { return autograd::Grads{dy}; });
  return out;
}

Tensor Tensor::clone() const {
  Tensor out = detail::contiguous_copy(*this);
  if (autograd::needs_grad({this}))
    autograd::record(out, "clone", {*this},
                     [](const Tensor& dy, const autograd::GradMask&) { return autograd::Grads{dy}; });
  return out;
}

}  // namespace nn
