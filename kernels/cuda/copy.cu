#include <cuda_bf16.h>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/copy.h"

namespace kern {

namespace {

// Offset of logical element i of the view, peeling indices off from the last dimension.
__device__ __forceinline__ index_t strided_offset(const StridedLayout& l, index_t i) {
  index_t off = 0;
  for (int d = l.ndim - 1; d >= 0; --d) {
    off += (i % l.shape[d]) * l.strides[d];
    i /= l.shape[d];
  }
  return off;
}

template <typename E>
__global__ void gather_kernel(StridedLayout l, index_t n, const E* src, E* dst) {
  for (index_t i = cu::global_index(); i < n; i += cu::grid_stride()) dst[i] = src[strided_offset(l, i)];
}

template <typename E>
__global__ void scatter_kernel(StridedLayout l, index_t n, const E* src, E* dst) {
  for (index_t i = cu::global_index(); i < n; i += cu::grid_stride()) dst[strided_offset(l, i)] = src[i];
}

// Conversions through float or double; bf16 travels as its 16 bits.
template <typename T> struct Bits { using type = T; };
template <> struct Bits<std::uint16_t> { using type = __nv_bfloat16; };

template <typename To, typename From>
__device__ __forceinline__ To convert_one(From v) { return static_cast<To>(v); }
template <> __device__ __forceinline__ __nv_bfloat16 convert_one(float v) { return __float2bfloat16_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 convert_one(double v) { return __double2bfloat16(v); }
template <> __device__ __forceinline__ float convert_one(__nv_bfloat16 v) { return __bfloat162float(v); }
template <> __device__ __forceinline__ double convert_one(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename From, typename To>
__global__ void convert_kernel(index_t n, const From* src, To* dst) {
  for (index_t i = cu::global_index(); i < n; i += cu::grid_stride()) dst[i] = convert_one<To>(src[i]);
}

}  // namespace

template <typename E>
void gather_strided_cuda(const StridedLayout& layout, const E* src, E* dst, Stream stream) {
  const index_t n = layout.numel();
  if (n == 0) return;
  gather_kernel<<<cu::blocks_for(n), cu::kThreads, 0, stream>>>(layout, n, src, dst);
  cu::check_launch("gather_strided_cuda");
}

template <typename E>
void scatter_strided_cuda(const StridedLayout& layout, const E* src, E* dst, Stream stream) {
  const index_t n = layout.numel();
  if (n == 0) return;
  scatter_kernel<<<cu::blocks_for(n), cu::kThreads, 0, stream>>>(layout, n, src, dst);
  cu::check_launch("scatter_strided_cuda");
}

template <typename From, typename To>
void convert_cuda(index_t n, const From* src, To* dst, Stream stream) {
  if (n == 0) return;
  using F = typename Bits<From>::type;
  using T = typename Bits<To>::type;
  convert_kernel<<<cu::blocks_for(n), cu::kThreads, 0, stream>>>(n, reinterpret_cast<const F*>(src),
                                                                  reinterpret_cast<T*>(dst));
  cu::check_launch("convert_cuda");
}

#define NN_INSTANTIATE_STRIDED(E)                                                                     \
  template void gather_strided_cuda<E>(const StridedLayout&, const E*, E*, Stream);                  \
  template void scatter_strided_cuda<E>(const StridedLayout&, const E*, E*, Stream);
NN_INSTANTIATE_STRIDED(std::uint8_t)
NN_INSTANTIATE_STRIDED(std::uint16_t)
NN_INSTANTIATE_STRIDED(std::uint32_t)
NN_INSTANTIATE_STRIDED(std::uint64_t)

#define NN_INSTANTIATE_CONVERT(From, To) template void convert_cuda<From, To>(index_t, const From*, To*, Stream);
NN_INSTANTIATE_CONVERT(float, float)  // same-type conversions are plain copies, instantiated for dispatch's sake
NN_INSTANTIATE_CONVERT(double, double)
NN_INSTANTIATE_CONVERT(std::uint16_t, std::uint16_t)
NN_INSTANTIATE_CONVERT(float, double)
NN_INSTANTIATE_CONVERT(double, float)
NN_INSTANTIATE_CONVERT(float, std::uint16_t)
NN_INSTANTIATE_CONVERT(std::uint16_t, float)
NN_INSTANTIATE_CONVERT(double, std::uint16_t)
NN_INSTANTIATE_CONVERT(std::uint16_t, double)

}  // namespace kern
