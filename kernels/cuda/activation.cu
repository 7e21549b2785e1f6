// Activation CUDA kernels; contracts in activation.h (and kernels/cpu/activation.h).
#include "kernels/cuda/activation.h"

#include "kernels/cuda/pointwise.cuh"

namespace kern {

namespace {

using cu::from_math;
using cu::global_index;
using cu::grid_stride;
using cu::Math;
using cu::to_math;

__device__ __forceinline__ float exp_of(float v) { return expf(v); }
__device__ __forceinline__ double exp_of(double v) { return exp(v); }

template <typename T>
struct ReluOp {
  __device__ T operator()(T x) const {
    const Math<T> v = to_math(x);
    return (v > Math<T>(0) || isnan(v)) ? x : from_math<T>(Math<T>(0));
  }
};
template <typename T>
struct ReluBackwardOp {
  __device__ T operator()(T dy, T y) const { return to_math(y) > Math<T>(0) ? dy : from_math<T>(Math<T>(0)); }
};
template <typename T>
struct SigmoidOp {
  __device__ T operator()(T x) const {
    using M = Math<T>;
    const M v = to_math(x);
    // exp of a non-positive argument never overflows.
    if (v >= M(0)) return from_math<T>(M(1) / (M(1) + exp_of(-v)));
    const M e = exp_of(v);
    return from_math<T>(e / (M(1) + e));
  }
};
template <typename T>
struct SigmoidBackwardOp {
  __device__ T operator()(T dy, T y) const {
    using M = Math<T>;
    const M yv = to_math(y);
    return from_math<T>(to_math(dy) * yv * (M(1) - yv));
  }
};

template <typename T>
__device__ __forceinline__ T prelu_slope(const T* weight, index_t num_weights, index_t c) {
  return weight[num_weights == 1 ? 0 : c];
}

// v where x > 0, else a * v: the forward's value (v = x) and the backward's gradient (v = dy).
template <typename T>
__device__ __forceinline__ T prelu_select(T x, T v, T a) {
  return x > T(0) ? v : a * v;
}

template <typename T>
__global__ void prelu_forward_kernel(index_t n, index_t C, index_t HW, index_t num_weights, const T* x,
                                     const T* weight, T* y) {
  for (index_t i = global_index(); i < n; i += grid_stride()) {
    const T v = x[i];
    y[i] = prelu_select(v, v, prelu_slope(weight, num_weights, (i / HW) % C));
  }
}

// dx everywhere, with no reduction: the launch when dweight is not wanted.
template <typename T>
__global__ void prelu_backward_data_kernel(index_t n, index_t C, index_t HW, index_t num_weights, const T* dy,
                                           const T* x, const T* weight, T* dx) {
  for (index_t i = global_index(); i < n; i += grid_stride()) {
    dx[i] = prelu_select(x[i], dy[i], prelu_slope(weight, num_weights, (i / HW) % C));
  }
}

// One block per channel (grid-stride over channels) reduces the slope's gradient over N and HW and
// writes dx on the way. shared_slope: launched as a single block, which adds the channels' sums in order.
template <typename T>
__global__ void prelu_backward_kernel(index_t N, index_t C, index_t HW, index_t num_weights, const T* dy,
                                      const T* x, const T* weight, T* dx, T* dweight) {
  const bool shared_slope = num_weights == 1;
  double total = 0;  // thread 0's running sum over channels (shared slope)
  for (index_t c = blockIdx.x; c < C; c += gridDim.x) {
    const T a = prelu_slope(weight, num_weights, c);
    double acc = 0;
    for (index_t j = threadIdx.x; j < N * HW; j += blockDim.x) {
      const index_t at = ((j / HW) * C + c) * HW + j % HW;
      const T xv = x[at], g = dy[at];
      if (!(xv > T(0))) acc += double(xv) * double(g);
      if (dx) dx[at] = prelu_select(xv, g, a);
    }
    acc = cu::block_sum(acc);
    if (threadIdx.x == 0) {
      if (shared_slope)
        total += acc;
      else
        dweight[c] = T(acc);
    }
  }
  if (shared_slope && threadIdx.x == 0) dweight[0] = T(total);
}

constexpr int kSharedSlopeThreads = 1024;

}  // namespace

template <typename T>
void relu_forward_cuda(index_t n, const T* x, T* y, Stream stream) {
  cu::launch_map("relu_forward_cuda", n, ReluOp<T>{}, stream, y, x);
}
template <typename T>
void relu_backward_cuda(index_t n, const T* dy, const T* y, T* dx, Stream stream) {
  cu::launch_map("relu_backward_cuda", n, ReluBackwardOp<T>{}, stream, dx, dy, y);
}
template <typename T>
void sigmoid_forward_cuda(index_t n, const T* x, T* y, Stream stream) {
  cu::launch_map("sigmoid_forward_cuda", n, SigmoidOp<T>{}, stream, y, x);
}
template <typename T>
void sigmoid_backward_cuda(index_t n, const T* dy, const T* y, T* dx, Stream stream) {
  cu::launch_map("sigmoid_backward_cuda", n, SigmoidBackwardOp<T>{}, stream, dx, dy, y);
}

template <typename T>
void prelu_forward_cuda(index_t N, index_t C, index_t HW, index_t num_weights, const T* x, const T* weight,
                        T* y, Stream stream) {
  const index_t n = N * C * HW;
  if (n <= 0) return;
  prelu_forward_kernel<<<cu::blocks_for(n), cu::kThreads, 0, stream>>>(n, C, HW, num_weights, x, weight, y);
  cu::check_launch("prelu_forward_cuda");
}

template <typename T>
void prelu_backward_cuda(index_t N, index_t C, index_t HW, index_t num_weights, const T* dy, const T* x,
                         const T* weight, T* dx, T* dweight, Stream stream) {
  if (!dweight) {
    const index_t n = N * C * HW;
    if (!dx || n <= 0) return;
    prelu_backward_data_kernel<<<cu::blocks_for(n), cu::kThreads, 0, stream>>>(n, C, HW, num_weights, dy, x,
                                                                                weight, dx);
    cu::check_launch("prelu_backward_cuda");
    return;
  }
  if (C <= 0) return;
  if (num_weights == 1)
    prelu_backward_kernel<<<1, kSharedSlopeThreads, 0, stream>>>(N, C, HW, num_weights, dy, x, weight, dx,
                                                                 dweight);
  else
    prelu_backward_kernel<<<cu::row_blocks(C), cu::row_threads(N * HW), 0, stream>>>(N, C, HW, num_weights, dy,
                                                                                     x, weight, dx, dweight);
  cu::check_launch("prelu_backward_cuda");
}

#define KERN_INSTANTIATE_POINTWISE(T)                                          \
  template void relu_forward_cuda<T>(index_t, const T*, T*, Stream);           \
  template void relu_backward_cuda<T>(index_t, const T*, const T*, T*, Stream); \
  template void sigmoid_forward_cuda<T>(index_t, const T*, T*, Stream);        \
  template void sigmoid_backward_cuda<T>(index_t, const T*, const T*, T*, Stream);
#define KERN_INSTANTIATE(T)                                                                                    \
  KERN_INSTANTIATE_POINTWISE(T)                                                                                \
  template void prelu_forward_cuda<T>(index_t, index_t, index_t, index_t, const T*, const T*, T*, Stream);    \
  template void prelu_backward_cuda<T>(index_t, index_t, index_t, index_t, const T*, const T*, const T*, T*, \
                                       T*, Stream);
KERN_INSTANTIATE(float)
KERN_INSTANTIATE(double)
KERN_INSTANTIATE_POINTWISE(__nv_bfloat16)
#undef KERN_INSTANTIATE
#undef KERN_INSTANTIATE_POINTWISE

}  // namespace kern
