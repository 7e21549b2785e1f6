// Tensor: a shared handle to (storage, offset, shape, strides, dtype) plus the autograd slots.
// Copying a Tensor copies the handle, never the data (like torch.Tensor). Views share storage.
// Element access for tests and I/O goes through to_vector(); kernels take raw data<T>() pointers
// of contiguous tensors.
#pragma once

#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "libnn/core/check.h"
#include "libnn/core/device.h"
#include "libnn/core/dtype.h"
#include "libnn/core/shape.h"
#include "libnn/core/storage.h"

namespace nn {

namespace autograd {
class Node;
}
namespace cuda {
class Stream;
}
class Generator;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  index_t offset = 0;  // in elements
  Shape shape;
  Shape strides;  // in elements
  DType dtype = DType::f32;

  // Autograd. A leaf needs a gradient when requires_grad is set; a non-leaf when it has a grad_fn.
  bool requires_grad = false;
  std::shared_ptr<autograd::Node> grad_fn;
  std::weak_ptr<autograd::Node> grad_accumulator;  // leaves only; owned by the graphs that use it
  std::shared_ptr<TensorImpl> grad;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- factories (contiguous, fresh storage)
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  // A CPU tensor in pinned_host_allocator()'s memory (page-locked when a GPU is present).
  static Tensor empty_pinned(const Shape& shape, DType dtype = DType::f32);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32, Device device = Device::cpu());
  // Values converted to dtype; values.size() must equal shape.numel().
  static Tensor from_vector(const Shape& shape, std::span<const double> values, DType dtype = DType::f32);
  static Tensor from_vector(const Shape& shape, std::initializer_list<double> values, DType dtype = DType::f32) {
    return from_vector(shape, std::span<const double>(values.begin(), values.size()), dtype);
  }
  static Tensor from_labels(std::span<const std::int64_t> labels);  // i64 (N)
  static Tensor uniform(const Shape& shape, double lo, double hi, Generator& gen, DType dtype = DType::f32);
  static Tensor normal(const Shape& shape, double mean, double stddev, Generator& gen, DType dtype = DType::f32);

  // ---- metadata
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return checked().shape; }
  const Shape& strides() const { return checked().strides; }
  int dim() const { return checked().shape.size(); }
  index_t size(int dim) const;  // negative dims count from the end
  index_t numel() const { return checked().shape.numel(); }
  DType dtype() const { return checked().dtype; }
  Device device() const { return checked().storage->device(); }
  index_t offset() const { return checked().offset; }
  bool is_contiguous() const;
  std::string describe() const;  // "f32 (2, 3) cpu"

  // ---- data
  void* raw_data() const {
    const TensorImpl& t = checked();
    return static_cast<char*>(t.storage->data()) + t.offset * dtype_size(t.dtype);
  }
  template <typename T>
  T* data() const {
    NN_CHECK(dtype_of<T> == dtype(), "data<", dtype_name(dtype_of<T>), ">: tensor is ", describe());
    return static_cast<T*>(raw_data());
  }
  std::vector<double> to_vector() const;  // any dtype/device/layout, in logical row-major order
  double item() const;                    // the value of a one-element tensor

  // ---- views and copies; differentiable (see libnn/ops/view.cpp)
  Tensor reshape(const Shape& shape) const;  // a view when possible, else a copy; one dim may be -1
  Tensor view(const Shape& shape) const;     // always a view: needs a compatible (contiguous) layout
  Tensor flatten(int start_dim = 1) const;
  Tensor permute(std::initializer_list<int> dims) const;
  Tensor transpose(int dim0, int dim1) const;
  Tensor slice(int dim, index_t start, index_t end) const;  // [start, end) along dim, a view
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(Device device) const;
  // Host-to-device copy on `stream` (the loader's copy stream), returning at once when this is a contiguous
  // pinned tensor outside autograd (Tensor::empty_pinned), else the synchronous to(device). Before the
  // compute stream uses the result: cuda::current_stream_wait_for(stream).
  Tensor to(Device device, const cuda::Stream& stream) const;
  Tensor to(DType dtype) const;
  Tensor detach() const;  // shares storage, cut from the graph

  // ---- in place, outside autograd: refused on tensors that take part in a graph while grad mode is on
  Tensor& copy_(const Tensor& src);  // same shape; converts dtype and device
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }

  // ---- autograd
  bool requires_grad() const { return checked().requires_grad || impl_->grad_fn != nullptr; }
  Tensor& set_requires_grad(bool value = true);  // leaves only
  bool is_leaf() const { return checked().grad_fn == nullptr; }
  Tensor grad() const { return Tensor(checked().grad); }
  void set_grad(const Tensor& g) const;  // a handle: changes the shared impl
  const std::shared_ptr<autograd::Node>& grad_fn() const { return checked().grad_fn; }
  // Accumulates d(this)/d(leaf) * grad into every leaf's grad(). grad defaults to 1 for scalars.
  void backward(const Tensor& grad = {}) const;

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  // Every accessor goes through here: using an undefined (default-constructed) Tensor is an nn::Error,
  // not a null dereference.
  const TensorImpl& checked() const {
    if (!impl_) throw Error("use of an undefined tensor");
    return *impl_;
  }

  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// A new TensorImpl viewing `base`'s storage with the given geometry (no autograd).
Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, index_t offset);

}  // namespace nn
