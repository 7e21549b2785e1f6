// Elementwise and reduction CUDA kernels; contracts in elementwise.h (and kernels/cpu/elementwise.h).
// Pointwise ops are functors run by launch_map (pointwise.cuh); row reductions give each row one block
// and reduce it with block_sum, whose __syncthreads also orders every read of a row before the writes
// that may overwrite it in place.
#include "kernels/cuda/elementwise.h"

#include "kernels/cuda/pointwise.cuh"

namespace kern {

namespace {

using cu::Acc;
using cu::from_math;
using cu::global_index;
using cu::grid_stride;
using cu::Math;
using cu::to_math;

template <typename T>
struct AddOp {
  __device__ T operator()(T a, T b) const { return from_math<T>(to_math(a) + to_math(b)); }
};
template <typename T>
struct SubOp {
  __device__ T operator()(T a, T b) const { return from_math<T>(to_math(a) - to_math(b)); }
};
template <typename T>
struct MulOp {
  __device__ T operator()(T a, T b) const { return from_math<T>(to_math(a) * to_math(b)); }
};
template <typename T>
struct MulScalarOp {
  Math<T> alpha;
  __device__ T operator()(T x) const { return from_math<T>(alpha * to_math(x)); }
};
template <typename T>
struct AddScalarOp {
  Math<T> alpha;
  __device__ T operator()(T x) const { return from_math<T>(to_math(x) + alpha); }
};
template <typename T>
struct FillOp {
  T value;
  __device__ T operator()() const { return value; }
};
template <typename T>
struct FillFromOp {
  const T* value;
  __device__ T operator()() const { return *value; }
};
template <typename T>
struct AxpyOp {
  Math<T> alpha;
  __device__ T operator()(T x, T y) const { return from_math<T>(to_math(y) + alpha * to_math(x)); }
};
template <typename T>
struct SqrtOp {
  __device__ T operator()(T x) const { return sqrt(x); }
};
template <typename T>
struct SqrtBackwardOp {
  __device__ T operator()(T dy, T y) const { return dy / (T(2) * y); }
};
template <typename T>
struct ClampOp {
  T lo, hi;
  __device__ T operator()(T x) const { return x < lo ? lo : (x > hi ? hi : x); }
};
template <typename T>
struct ClampBackwardOp {
  T lo, hi;
  __device__ T operator()(T dy, T x) const { return (x >= lo && x <= hi) ? dy : T(0); }
};
// scale = 1 / (1 - p) rounded to Math<T> on the host, as the CPU rounds it to T.
template <typename T>
struct DropoutOp {
  Math<T> scale;
  __device__ T operator()(T x, std::uint8_t keep) const {
    return keep ? from_math<T>(to_math(x) * scale) : from_math<T>(Math<T>(0));
  }
};

template <typename T>
Math<T> dropout_scale(double p) {
  using M = Math<T>;
  return p >= 1 ? M(0) : M(1) / M(1 - p);
}

// dx = dy * s[nc] over (N*C, HW); ds[nc] = sum over HW of dy * x: one block per (n, c) row.
template <typename T>
__global__ void channel_mul_backward_kernel(index_t NC, index_t HW, const T* dy, const T* x, const T* s,
                                            T* dx, T* ds) {
  for (index_t nc = blockIdx.x; nc < NC; nc += gridDim.x) {
    const T g = s[nc];
    double acc = 0;
    for (index_t k = threadIdx.x; k < HW; k += blockDim.x) {
      const T d = dy[nc * HW + k];
      acc += double(d) * double(x[nc * HW + k]);
      if (dx) dx[nc * HW + k] = d * g;
    }
    acc = cu::block_sum(acc);
    if (ds && threadIdx.x == 0) ds[nc] = T(acc);
  }
}

template <typename T>
__global__ void channel_mul_forward_kernel(index_t n, index_t HW, const T* x, const T* s, T* y) {
  for (index_t i = global_index(); i < n; i += grid_stride()) y[i] = x[i] * s[i / HW];
}

template <typename T>
__global__ void plane_add_forward_kernel(index_t n, index_t HW, const T* x, const T* s, T* y) {
  for (index_t i = global_index(); i < n; i += grid_stride()) y[i] = x[i] + s[i / HW];
}

// One block per plane, summed in double through the block's fixed tree.
template <typename T>
__global__ void plane_sum_kernel(index_t planes, index_t HW, const T* x, T* y) {
  for (index_t p = blockIdx.x; p < planes; p += gridDim.x) {
    double acc = 0;
    for (index_t k = threadIdx.x; k < HW; k += blockDim.x) acc += double(x[p * HW + k]);
    acc = cu::block_sum(acc);
    if (threadIdx.x == 0) y[p] = T(acc);
  }
}

template <typename T>
__global__ void spatial_mul_forward_kernel(index_t n, index_t C, index_t HW, const T* x, const T* s, T* y) {
  for (index_t i = global_index(); i < n; i += grid_stride()) y[i] = x[i] * s[(i / (C * HW)) * HW + i % HW];
}

// One thread per (n, k) walks the channels in order: the CPU's summation order exactly, and reads
// coalesced along k.
template <typename T>
__global__ void spatial_mul_backward_kernel(index_t N, index_t C, index_t HW, const T* dy, const T* x,
                                            const T* s, T* dx, T* ds) {
  for (index_t j = global_index(); j < N * HW; j += grid_stride()) {
    const index_t n = j / HW, k = j % HW;
    const T g = s[j];
    double acc = 0;
    for (index_t c = 0; c < C; ++c) {
      const index_t at = (n * C + c) * HW + k;
      const T d = dy[at];
      if (ds) acc += double(d) * double(x[at]);
      if (dx) dx[at] = d * g;
    }
    if (ds) ds[j] = T(acc);
  }
}

template <typename T>
__global__ void l2_normalize_forward_kernel(index_t N, index_t D, const T* x, T* y, T* norm, double eps) {
  for (index_t row = blockIdx.x; row < N; row += gridDim.x) {
    const T* xr = x + row * D;
    double ss = 0;
    for (index_t j = threadIdx.x; j < D; j += blockDim.x) ss += double(xr[j]) * double(xr[j]);
    const double nrm = sqrt(cu::block_sum(ss));
    const double inv = 1.0 / fmax(nrm, eps);
    for (index_t j = threadIdx.x; j < D; j += blockDim.x) y[row * D + j] = T(xr[j] * inv);
    if (norm && threadIdx.x == 0) norm[row] = T(nrm);
  }
}

template <typename T>
__global__ void l2_normalize_backward_kernel(index_t N, index_t D, const T* dy, const T* x, const T* norm,
                                             T* dx, double eps) {
  for (index_t row = blockIdx.x; row < N; row += gridDim.x) {
    const T* xr = x + row * D;
    const T* dyr = dy + row * D;
    double dot = 0;
    for (index_t j = threadIdx.x; j < D; j += blockDim.x) dot += double(xr[j]) * double(dyr[j]);
    dot = cu::block_sum(dot);
    const double nrm = norm[row];
    const double d = fmax(nrm, eps);
    const double through_norm = nrm >= eps ? dot / (nrm * d * d) : 0.0;
    for (index_t j = threadIdx.x; j < D; j += blockDim.x) dx[row * D + j] = T(dyr[j] / d - xr[j] * through_norm);
  }
}

template <typename T, bool kSquares>
__global__ void sum_kernel(index_t n, const T* x, T* out) {
  double acc = 0;
  for (index_t i = threadIdx.x; i < n; i += blockDim.x) {
    const double v = double(x[i]);
    acc += kSquares ? v * v : v;
  }
  acc = cu::block_sum(acc);
  if (threadIdx.x == 0) *out = T(acc);
}

constexpr int kSumThreads = 1024;

}  // namespace

template <typename T>
void add_cuda(index_t n, const T* a, const T* b, T* y, Stream stream) {
  cu::launch_map("add_cuda", n, AddOp<T>{}, stream, y, a, b);
}
template <typename T>
void sub_cuda(index_t n, const T* a, const T* b, T* y, Stream stream) {
  cu::launch_map("sub_cuda", n, SubOp<T>{}, stream, y, a, b);
}
template <typename T>
void mul_cuda(index_t n, const T* a, const T* b, T* y, Stream stream) {
  cu::launch_map("mul_cuda", n, MulOp<T>{}, stream, y, a, b);
}
template <typename T>
void mul_scalar_cuda(index_t n, const T* x, T alpha, T* y, Stream stream) {
  cu::launch_map("mul_scalar_cuda", n, MulScalarOp<T>{to_math(alpha)}, stream, y, x);
}
template <typename T>
void add_scalar_cuda(index_t n, const T* x, T alpha, T* y, Stream stream) {
  cu::launch_map("add_scalar_cuda", n, AddScalarOp<T>{to_math(alpha)}, stream, y, x);
}
template <typename T>
void fill_cuda(index_t n, T value, T* y, Stream stream) {
  cu::launch_map("fill_cuda", n, FillOp<T>{value}, stream, y);
}
template <typename T>
void fill_from_cuda(index_t n, const T* value, T* y, Stream stream) {
  cu::launch_map("fill_from_cuda", n, FillFromOp<T>{value}, stream, y);
}
template <typename T>
void copy_cuda(index_t n, const T* x, T* y, Stream stream) {
  if (x == y || n <= 0) return;
  cu::check(cudaMemcpyAsync(y, x, sizeof(T) * std::size_t(n), cudaMemcpyDeviceToDevice, stream), "copy_cuda");
}
template <typename T>
void axpy_cuda(index_t n, T alpha, const T* x, T* y, Stream stream) {
  cu::launch_map("axpy_cuda", n, AxpyOp<T>{to_math(alpha)}, stream, y, x, static_cast<const T*>(y));
}

template <typename T>
void plane_add_forward_cuda(index_t planes, index_t HW, const T* x, const T* s, T* y, Stream stream) {
  const index_t n = planes * HW;
  if (n <= 0) return;
  plane_add_forward_kernel<<<cu::blocks_for(n), cu::kThreads, 0, stream>>>(n, HW, x, s, y);
  cu::check_launch("plane_add_forward_cuda");
}

template <typename T>
void plane_sum_cuda(index_t planes, index_t HW, const T* x, T* y, Stream stream) {
  if (planes <= 0) return;
  if (HW == 0) return fill_cuda<T>(planes, T(0), y, stream);
  plane_sum_kernel<<<cu::row_blocks(planes), cu::row_threads(HW), 0, stream>>>(planes, HW, x, y);
  cu::check_launch("plane_sum_cuda");
}

template <typename T>
void channel_mul_forward_cuda(index_t N, index_t C, index_t HW, const T* x, const T* s, T* y, Stream stream) {
  const index_t n = N * C * HW;
  if (n <= 0) return;
  channel_mul_forward_kernel<<<cu::blocks_for(n), cu::kThreads, 0, stream>>>(n, HW, x, s, y);
  cu::check_launch("channel_mul_forward_cuda");
}

template <typename T>
void channel_mul_backward_cuda(index_t N, index_t C, index_t HW, const T* dy, const T* x, const T* s,
                               T* dx, T* ds, Stream stream) {
  if (N * C <= 0 || (!dx && !ds)) return;
  if (HW <= 0) {  // empty planes: ds is a sum of nothing
    if (ds) fill_cuda<T>(N * C, T(0), ds, stream);
    return;
  }
  channel_mul_backward_kernel<<<cu::row_blocks(N * C), cu::row_threads(HW), 0, stream>>>(N * C, HW, dy, x, s,
                                                                                           dx, ds);
  cu::check_launch("channel_mul_backward_cuda");
}

template <typename T>
void spatial_mul_forward_cuda(index_t N, index_t C, index_t HW, const T* x, const T* s, T* y, Stream stream) {
  const index_t n = N * C * HW;
  if (n <= 0) return;
  spatial_mul_forward_kernel<<<cu::blocks_for(n), cu::kThreads, 0, stream>>>(n, C, HW, x, s, y);
  cu::check_launch("spatial_mul_forward_cuda");
}

template <typename T>
void spatial_mul_backward_cuda(index_t N, index_t C, index_t HW, const T* dy, const T* x, const T* s,
                               T* dx, T* ds, Stream stream) {
  if (N * HW <= 0 || (!dx && !ds)) return;
  spatial_mul_backward_kernel<<<cu::blocks_for(N * HW), cu::kThreads, 0, stream>>>(N, C, HW, dy, x, s, dx, ds);
  cu::check_launch("spatial_mul_backward_cuda");
}

template <typename T>
void sqrt_forward_cuda(index_t n, const T* x, T* y, Stream stream) {
  cu::launch_map("sqrt_forward_cuda", n, SqrtOp<T>{}, stream, y, x);
}
template <typename T>
void sqrt_backward_cuda(index_t n, const T* dy, const T* y, T* dx, Stream stream) {
  cu::launch_map("sqrt_backward_cuda", n, SqrtBackwardOp<T>{}, stream, dx, dy, y);
}
template <typename T>
void clamp_forward_cuda(index_t n, const T* x, T lo, T hi, T* y, Stream stream) {
  cu::launch_map("clamp_forward_cuda", n, ClampOp<T>{lo, hi}, stream, y, x);
}
template <typename T>
void clamp_backward_cuda(index_t n, const T* dy, const T* x, T lo, T hi, T* dx, Stream stream) {
  cu::launch_map("clamp_backward_cuda", n, ClampBackwardOp<T>{lo, hi}, stream, dx, dy, x);
}

template <typename T>
void l2_normalize_forward_cuda(index_t N, index_t D, const T* x, T* y, T* norm, double eps, Stream stream) {
  if (N <= 0) return;
  l2_normalize_forward_kernel<<<cu::row_blocks(N), cu::row_threads(D), 0, stream>>>(N, D, x, y, norm, eps);
  cu::check_launch("l2_normalize_forward_cuda");
}

template <typename T>
void l2_normalize_backward_cuda(index_t N, index_t D, const T* dy, const T* x, const T* norm, T* dx,
                                double eps, Stream stream) {
  if (N <= 0 || D <= 0) return;
  l2_normalize_backward_kernel<<<cu::row_blocks(N), cu::row_threads(D), 0, stream>>>(N, D, dy, x, norm, dx,
                                                                                     eps);
  cu::check_launch("l2_normalize_backward_cuda");
}

template <typename T>
void dropout_forward_cuda(index_t n, double p, const T* x, const std::uint8_t* mask, T* y, Stream stream) {
  cu::launch_map("dropout_forward_cuda", n, DropoutOp<T>{dropout_scale<T>(p)}, stream, y, x, mask);
}
template <typename T>
void dropout_backward_cuda(index_t n, double p, const T* dy, const std::uint8_t* mask, T* dx, Stream stream) {
  cu::launch_map("dropout_backward_cuda", n, DropoutOp<T>{dropout_scale<T>(p)}, stream, dx, dy, mask);
}

template <typename T>
void sum_cuda(index_t n, const T* x, T* out, Stream stream) {
  sum_kernel<T, false><<<1, kSumThreads, 0, stream>>>(n, x, out);
  cu::check_launch("sum_cuda");
}
template <typename T>
void sum_squares_cuda(index_t n, const T* x, T* out, Stream stream) {
  sum_kernel<T, true><<<1, kSumThreads, 0, stream>>>(n, x, out);
  cu::check_launch("sum_squares_cuda");
}

// The arithmetic ops, for every storage type.
#define KERN_INSTANTIATE_ARITH(T)                                                                 \
  template void add_cuda<T>(index_t, const T*, const T*, T*, Stream);                             \
  template void sub_cuda<T>(index_t, const T*, const T*, T*, Stream);                             \
  template void mul_cuda<T>(index_t, const T*, const T*, T*, Stream);                             \
  template void mul_scalar_cuda<T>(index_t, const T*, T, T*, Stream);                             \
  template void add_scalar_cuda<T>(index_t, const T*, T, T*, Stream);                             \
  template void fill_cuda<T>(index_t, T, T*, Stream);                                             \
  template void fill_from_cuda<T>(index_t, const T*, T*, Stream);                                 \
  template void copy_cuda<T>(index_t, const T*, T*, Stream);                                      \
  template void axpy_cuda<T>(index_t, T, const T*, T*, Stream);                                   \
  template void dropout_forward_cuda<T>(index_t, double, const T*, const std::uint8_t*, T*, Stream); \
  template void dropout_backward_cuda<T>(index_t, double, const T*, const std::uint8_t*, T*, Stream);
// The rest, for f32 and f64 as their CPU twins.
#define KERN_INSTANTIATE(T)                                                                                 \
  KERN_INSTANTIATE_ARITH(T)                                                                                 \
  template void channel_mul_forward_cuda<T>(index_t, index_t, index_t, const T*, const T*, T*, Stream);     \
  template void channel_mul_backward_cuda<T>(index_t, index_t, index_t, const T*, const T*, const T*, T*,   \
                                             T*, Stream);                                                   \
  template void spatial_mul_forward_cuda<T>(index_t, index_t, index_t, const T*, const T*, T*, Stream);     \
  template void spatial_mul_backward_cuda<T>(index_t, index_t, index_t, const T*, const T*, const T*, T*,   \
                                             T*, Stream);                                                   \
  template void sqrt_forward_cuda<T>(index_t, const T*, T*, Stream);                                        \
  template void sqrt_backward_cuda<T>(index_t, const T*, const T*, T*, Stream);                             \
  template void clamp_forward_cuda<T>(index_t, const T*, T, T, T*, Stream);                                 \
  template void clamp_backward_cuda<T>(index_t, const T*, const T*, T, T, T*, Stream);                      \
  template void l2_normalize_forward_cuda<T>(index_t, index_t, const T*, T*, T*, double, Stream);           \
  template void l2_normalize_backward_cuda<T>(index_t, index_t, const T*, const T*, const T*, T*, double,   \
                                              Stream);                                                      \
  template void sum_cuda<T>(index_t, const T*, T*, Stream);                                                 \
  template void plane_add_forward_cuda<T>(index_t, index_t, const T*, const T*, T*, Stream);                \
  template void plane_sum_cuda<T>(index_t, index_t, const T*, T*, Stream);                                  \
  template void sum_squares_cuda<T>(index_t, const T*, T*, Stream);
KERN_INSTANTIATE(float)
KERN_INSTANTIATE(double)
KERN_INSTANTIATE_ARITH(__nv_bfloat16)
#undef KERN_INSTANTIATE
#undef KERN_INSTANTIATE_ARITH

}  // namespace kern
