// Layout and type changes on the GPU: gathering a strided view into contiguous memory (Tensor::contiguous),
// scattering contiguous data into a strided view (copy_ into a slice), and converting between element
// types (Tensor::to(dtype), the bf16 copies of mixed precision). CPU twins live in libnn/core/tensor.cpp,
// where they work on Tensors directly.
#pragma once

#include <cstdint>

#include "kernels/cuda/stream.h"
#include "kernels/params.h"

namespace kern {

// A strided view's geometry, in elements: element i of the view (row-major over shape) lives at
// offset sum_d idx_d * strides[d] from the view's base pointer.
struct StridedLayout {
  static constexpr int kMaxDims = 8;
  int ndim = 0;
  index_t shape[kMaxDims] = {};
  index_t strides[kMaxDims] = {};
  index_t numel() const {
    index_t n = 1;
    for (int d = 0; d < ndim; ++d) n *= shape[d];
    return n;
  }
};

// dst (numel, contiguous) = the view of src described by layout. E is the element's size class:
// std::uint8_t, std::uint16_t, std::uint32_t or std::uint64_t (the copy moves bits, not values).
template <typename E>
void gather_strided_cuda(const StridedLayout& layout, const E* src, E* dst, Stream stream);

// The view of dst described by layout = src (numel, contiguous). The view must not overlap itself.
template <typename E>
void scatter_strided_cuda(const StridedLayout& layout, const E* src, E* dst, Stream stream);

// dst (n) = src converted, rounding to nearest even (NaN stays NaN). From, To: float, double, or the
// bf16 bit container std::uint16_t (bf16 is passed as its bits so this header needs no CUDA types).
template <typename From, typename To>
void convert_cuda(index_t n, const From* src, To* dst, Stream stream);

}  // namespace kern
