// Tensor factories, host element access, copies between layouts, dtypes and devices.
#include "libnn/core/tensor.h"

#include <cstring>
#include <iomanip>

#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/copy.h"
#include "kernels/cuda/elementwise.h"
#include "libnn/autograd/node.h"
#include "libnn/core/cuda_runtime.h"
#include "libnn/core/dispatch.h"
#include "libnn/core/rng.h"

namespace nn {

namespace {

double load_as_double(const void* p, DType t, index_t i) {
  switch (t) {
    case DType::f32: return static_cast<const float*>(p)[i];
    case DType::f64: return static_cast<const double*>(p)[i];
    case DType::f16: return static_cast<const f16*>(p)[i].to_float();
    case DType::bf16: return static_cast<const bf16*>(p)[i].to_float();
    case DType::i64: return static_cast<double>(static_cast<const std::int64_t*>(p)[i]);
    case DType::u8: return static_cast<const std::uint8_t*>(p)[i];
  }
  return 0.0;
}

void store_from_double(void* p, DType t, index_t i, double v) {
  switch (t) {
    case DType::f32: static_cast<float*>(p)[i] = static_cast<float>(v); break;
    case DType::f64: static_cast<double*>(p)[i] = v; break;
    case DType::f16: static_cast<f16*>(p)[i] = f16::from_float(static_cast<float>(v)); break;
    case DType::bf16: static_cast<bf16*>(p)[i] = bf16::from_float(static_cast<float>(v)); break;
    case DType::i64: static_cast<std::int64_t*>(p)[i] = static_cast<std::int64_t>(v); break;
    case DType::u8: static_cast<std::uint8_t*>(p)[i] = static_cast<std::uint8_t>(v); break;
  }
}

// Copies a strided CPU tensor into contiguous memory, same dtype; runs of the last dim are memcpy'd.
void gather_contiguous_cpu(const Tensor& src, void* dst) {
  const std::size_t esize = dtype_size(src.dtype());
  const char* base = static_cast<const char*>(src.raw_data());
  const int nd = src.dim();
  if (src.is_contiguous() || nd == 0) {
    std::memcpy(dst, base, src.numel() * esize);
    return;
  }
  const Shape& shape = src.shape();
  const Shape& strides = src.strides();
  const index_t inner = shape[nd - 1], inner_stride = strides[nd - 1];
  const index_t outer = inner == 0 ? 0 : src.numel() / inner;
#pragma omp parallel for schedule(static) if (src.numel() > 65536)
  for (index_t o = 0; o < outer; ++o) {
    index_t rem = o, off = 0;
    for (int d = nd - 2; d >= 0; --d) {
      off += (rem % shape[d]) * strides[d];
      rem /= shape[d];
    }
    char* out = static_cast<char*>(dst) + o * inner * esize;
    if (inner_stride == 1) {
      std::memcpy(out, base + off * esize, inner * esize);
    } else {
      for (index_t i = 0; i < inner; ++i)
        std::memcpy(out + i * esize, base + (off + i * inner_stride) * esize, esize);
    }
  }
}

#if NN_WITH_CUDA
// The CUDA twins of gather_contiguous_cpu and of copy_'s strided scatter: the kernel moves elements as
// unsigned words of the dtype's size.
kern::StridedLayout strided_layout(const Tensor& t) {
  kern::StridedLayout l;
  NN_CHECK(t.dim() <= kern::StridedLayout::kMaxDims, "strided copy on ", t.device(), ": at most ",
           kern::StridedLayout::kMaxDims, " dimensions, got ", t.describe());
  l.ndim = t.dim();
  for (int d = 0; d < t.dim(); ++d) {
    l.shape[d] = t.shape()[d];
    l.strides[d] = t.strides()[d];
  }
  return l;
}

template <typename Fn>
void by_element_size(DType t, Fn&& fn) {
  switch (dtype_size(t)) {
    case 1: return fn.template operator()<std::uint8_t>();
    case 2: return fn.template operator()<std::uint16_t>();
    case 4: return fn.template operator()<std::uint32_t>();
    default: return fn.template operator()<std::uint64_t>();
  }
}

#endif

void gather_contiguous_cuda(const Tensor& src, void* dst) {
#if NN_WITH_CUDA
  by_element_size(src.dtype(), [&]<typename E>() {
    kern::gather_strided_cuda(strided_layout(src), static_cast<const E*>(src.raw_data()), static_cast<E*>(dst),
                              cuda::current_stream());
  });
#else
  (void)src, (void)dst;
  cuda::no_kernel("contiguous");
#endif
}

void scatter_strided_cuda(const void* src, const Tensor& dst) {
#if NN_WITH_CUDA
  by_element_size(dst.dtype(), [&]<typename E>() {
    kern::scatter_strided_cuda(strided_layout(dst), static_cast<const E*>(src), static_cast<E*>(dst.raw_data()),
                               cuda::current_stream());
  });
#else
  (void)src, (void)dst;
  cuda::no_kernel("copy_");
#endif
}

// dtype conversion on the GPU, between f32, f64 and bf16 (bf16 passed as its bits).
void convert_cuda(const Tensor& src, const Tensor& dst) {
#if NN_WITH_CUDA
  auto run = [&]<typename From>() {
    auto to = [&]<typename To>() {
      kern::convert_cuda(src.numel(), static_cast<const From*>(src.raw_data()), static_cast<To*>(dst.raw_data()),
                         cuda::current_stream());
    };
    switch (dst.dtype()) {
      case DType::f32: return to.template operator()<float>();
      case DType::f64: return to.template operator()<double>();
      case DType::bf16: return to.template operator()<std::uint16_t>();
      default: break;
    }
    throw Error(str("to(", dtype_name(dst.dtype()), "): no conversion from ", src.describe()));
  };
  switch (src.dtype()) {
    case DType::f32: return run.template operator()<float>();
    case DType::f64: return run.template operator()<double>();
    case DType::bf16: return run.template operator()<std::uint16_t>();
    default: throw Error(str("to(", dtype_name(dst.dtype()), "): no conversion from ", src.describe()));
  }
#else
  (void)src, (void)dst;
  cuda::no_kernel("to(dtype)");
#endif
}

void check_inplace_allowed(const Tensor& t, const char* op) {
  NN_CHECK(!(autograd::GradMode::is_enabled() && t.requires_grad()), op,
           ": in-place change of a tensor that requires grad (", t.describe(),
           "); use NoGradGuard or detach()");
}

Tensor empty_in(const Shape& shape, DType dtype, Device device, Allocator& allocator) {
  for (index_t d : shape) NN_CHECK(d >= 0, "empty: negative dimension in shape ", shape);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(shape.numel() * dtype_size(dtype), device, allocator);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  return empty_in(shape, dtype, device, allocator_for(device));
}

Tensor Tensor::empty_pinned(const Shape& shape, DType dtype) {
  return empty_in(shape, dtype, Device::cpu(), pinned_host_allocator());
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}

Tensor Tensor::from_vector(const Shape& shape, std::span<const double> values, DType dtype) {
  NN_CHECK(static_cast<index_t>(values.size()) == shape.numel(), "from_vector: ", values.size(),
           " values for shape ", shape);
  Tensor t = empty(shape, dtype);
  for (std::size_t i = 0; i < values.size(); ++i) store_from_double(t.raw_data(), dtype, i, values[i]);
  return t;
}

Tensor Tensor::from_labels(std::span<const std::int64_t> labels) {
  Tensor t = empty({static_cast<index_t>(labels.size())}, DType::i64);
  std::memcpy(t.raw_data(), labels.data(), labels.size_bytes());
  return t;
}

Tensor Tensor::uniform(const Shape& shape, double lo, double hi, Generator& gen, DType dtype) {
  Tensor t = empty(shape, dtype);
  const index_t n = t.numel();
  const std::uint64_t base = gen.reserve(philox_blocks(n));
  dispatch_floating(dtype, "uniform", [&]<typename T>() { fill_uniform(t.data<T>(), n, lo, hi, gen, base); });
  return t;
}

Tensor Tensor::normal(const Shape& shape, double mean, double stddev, Generator& gen, DType dtype) {
  Tensor t = empty(shape, dtype);
  const index_t n = t.numel();
  const std::uint64_t base = gen.reserve(philox_blocks(n));
  dispatch_floating(dtype, "normal", [&]<typename T>() { fill_normal(t.data<T>(), n, mean, stddev, gen, base); });
  return t;
}

index_t Tensor::size(int d) const { return shape()[wrap_dim(d, dim(), "size")]; }

bool Tensor::is_contiguous() const {
  // An empty tensor is contiguous whatever its strides (as in PyTorch); contiguous_strides gives a size-0
  // dim stride 1, which the loop below would otherwise reject, and fill_ would then recurse forever.
  if (numel() == 0) return true;
  index_t expected = 1;
  for (int i = dim() - 1; i >= 0; --i) {
    if (shape()[i] == 1) continue;  // the stride of a size-1 dim is irrelevant
    if (strides()[i] != expected) return false;
    expected *= shape()[i];
  }
  return true;
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined tensor";
  return str(dtype_name(dtype()), ' ', shape(), ' ', device());
}

std::vector<double> Tensor::to_vector() const {
  Tensor host = device().is_cpu() ? contiguous() : to(Device::cpu());
  std::vector<double> out(host.numel());
  for (index_t i = 0; i < host.numel(); ++i) out[i] = load_as_double(host.raw_data(), host.dtype(), i);
  return out;
}

double Tensor::item() const {
  NN_CHECK(numel() == 1, "item: tensor has ", numel(), " elements, expected 1 (", describe(), ")");
  return to_vector()[0];
}

Tensor Tensor::to(Device target) const {
  if (device() == target) return *this;
  Tensor src = contiguous();
  Tensor out = empty(shape(), dtype(), target);
  const std::size_t bytes = numel() * dtype_size(dtype());
  if (target.is_cuda() && src.device().is_cpu())
    cuda::copy_host_to_device(out.raw_data(), src.raw_data(), bytes);
  else if (target.is_cpu())
    cuda::copy_device_to_host(out.raw_data(), src.raw_data(), bytes);
  else
    cuda::copy_device_to_device(out.raw_data(), src.raw_data(), bytes);
  if (requires_grad() && autograd::GradMode::is_enabled()) {
    const Device from = device();
    autograd::record(out, "to_device", {*this},
                     [from](const Tensor& dy, const autograd::GradMask&) { return autograd::Grads{dy.to(from)}; });
  }
  return out;
}

Tensor Tensor::to(Device target, const cuda::Stream& stream) const {
  NN_CHECK(device().is_cpu() && target.is_cuda(), "to(", target, ", stream): only host-to-device copies are "
           "asynchronous, got ", describe());
  // Pageable or strided memory cannot be copied asynchronously: such a source takes the synchronous path.
  if (!is_contiguous() || !impl()->storage->pinned() || requires_grad()) return to(target);
  Tensor out = empty(shape(), dtype(), target);
  // The copy must not overwrite memory that queued compute work still reads: the block may have been
  // freed by the host while kernels using it are still queued on the compute stream.
  stream.wait_for(cuda::current_stream());
  cuda::copy_host_to_device_async(out.raw_data(), raw_data(), numel() * dtype_size(dtype()), stream.get(),
                                  impl()->storage);
  return out;
}

Tensor Tensor::to(DType target) const {
  if (dtype() == target) return *this;
  Tensor src = contiguous();
  Tensor out = empty(shape(), target, device());
  if (device().is_cuda())
    convert_cuda(src, out);
  else
    for (index_t i = 0; i < numel(); ++i)
      store_from_double(out.raw_data(), target, i, load_as_double(src.raw_data(), src.dtype(), i));
  if (requires_grad() && autograd::GradMode::is_enabled() && is_floating(target)) {
    const DType from = dtype();
    autograd::record(out, "to_dtype", {*this},
                     [from](const Tensor& dy, const autograd::GradMask&) { return autograd::Grads{dy.to(from)}; });
  }
  return out;
}

Tensor Tensor::detach() const {
  Tensor t = make_view(*this, shape(), strides(), offset());
  return t;
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace_allowed(*this, "copy_");
  NN_CHECK(src.shape() == shape(), "copy_: source shape ", src.shape(), " != destination shape ", shape());
  Tensor s = src.to(device()).to(dtype()).contiguous();
  if (device().is_cpu() && is_contiguous()) {
    std::memcpy(raw_data(), s.raw_data(), numel() * dtype_size(dtype()));
  } else if (device().is_cpu()) {
    // Scatter into a strided destination, element by element in logical order.
    const std::size_t esize = dtype_size(dtype());
    const char* in = static_cast<const char*>(s.raw_data());
    for (index_t i = 0; i < numel(); ++i) {
      index_t rem = i, off = 0;
      for (int d = dim() - 1; d >= 0; --d) {
        off += (rem % shape()[d]) * strides()[d];
        rem /= shape()[d];
      }
      std::memcpy(static_cast<char*>(raw_data()) + off * esize, in + i * esize, esize);
    }
  } else if (is_contiguous()) {
    cuda::copy_device_to_device(raw_data(), s.raw_data(), numel() * dtype_size(dtype()));
  } else {
    scatter_strided_cuda(s.raw_data(), *this);
  }
  return *this;
}

Tensor& Tensor::fill_(double value) {
  check_inplace_allowed(*this, "fill_");
  if (device().is_cuda() && is_contiguous() && (dtype() == DType::f32 || dtype() == DType::f64)) {
    dispatch_floating(dtype(), "fill_", [&]<typename T>() { NN_KERNEL(device(), fill, numel(), T(value), data<T>()); });
    return *this;
  }
  if (device().is_cpu() && is_contiguous()) {
    const index_t n = numel();
    switch (dtype()) {
      case DType::f32: std::fill_n(data<float>(), n, static_cast<float>(value)); break;
      case DType::f64: std::fill_n(data<double>(), n, value); break;
      default:
        for (index_t i = 0; i < n; ++i) store_from_double(raw_data(), dtype(), i, value);
    }
    return *this;
  }
  // Other dtypes on the GPU, and strided views: fill a contiguous host tensor and copy it over.
  return copy_(full(shape(), value, dtype()));
}

Tensor& Tensor::set_requires_grad(bool value) {
  NN_CHECK(is_leaf(), "set_requires_grad: only leaf tensors can change requires_grad (", describe(), ")");
  NN_CHECK(!value || is_floating(dtype()), "set_requires_grad: only floating tensors can require grad, got ",
           describe());
  impl_->requires_grad = value;
  return *this;
}

void Tensor::set_grad(const Tensor& g) const {
  NN_CHECK(!g.defined() || g.shape() == shape(), "set_grad: gradient ", g.describe(), " for tensor ", describe());
  impl_->grad = g.impl_ptr();
}

void Tensor::backward(const Tensor& grad) const { autograd::run_backward(*this, grad); }

Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, index_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.impl()->storage;
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

// Tensor::contiguous and clone need the gather; the differentiable wrappers live in ops/view.cpp.
namespace detail {
Tensor contiguous_copy(const Tensor& t) {
  if (t.device().is_cpu()) {
    Tensor out = Tensor::empty(t.shape(), t.dtype());
    gather_contiguous_cpu(t, out.raw_data());
    return out;
  }
  Tensor out = Tensor::empty(t.shape(), t.dtype(), t.device());
  if (t.is_contiguous())
    cuda::copy_device_to_device(out.raw_data(), t.raw_data(), t.numel() * dtype_size(t.dtype()));
  else
    gather_contiguous_cuda(t, out.raw_data());
  return out;
}
}  // namespace detail

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  os << "Tensor(" << t.describe();
  if (!t.defined()) return os << ')';
  const auto v = t.to_vector();
  os << ", [";
  const std::size_t shown = std::min<std::size_t>(v.size(), 8);
  for (std::size_t i = 0; i < shown; ++i) os << (i ? ", " : "") << std::setprecision(6) << v[i];
  if (v.size() > shown) os << ", ...";
  return os << "])";
}

}  // namespace nn
