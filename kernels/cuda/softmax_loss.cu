// log_softmax and cross_entropy CUDA kernels; contracts in softmax_loss.h (and kernels/cpu/softmax_loss.h).
// Row kernels give each row one block; the __syncthreads inside the block reductions order every read
// of a row before the writes that may overwrite it in place.
#include "kernels/cuda/softmax_loss.h"

#include <algorithm>
#include <cmath>

#include "kernels/cuda/pointwise.cuh"

namespace kern {

namespace {

using cu::block_sum;

// Max over the block, valid in every thread. fmax drops NaN as the CPU's std::max(running, v) does (a
// row holding NaN still comes out NaN, through its sum of exponentials). Contains __syncthreads.
template <typename T>
__device__ T block_max(T v) {
  __shared__ T partial[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int offset = 16; offset > 0; offset >>= 1) v = fmax(v, __shfl_down_sync(0xffffffffu, v, offset));
  __syncthreads();  // partial[] may still be read by a previous call
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  v = lane < int(blockDim.x >> 5) ? partial[lane] : T(-INFINITY);
  for (int offset = 16; offset > 0; offset >>= 1) v = fmax(v, __shfl_down_sync(0xffffffffu, v, offset));
  return __shfl_sync(0xffffffffu, v, 0);
}

template <typename T>
__global__ void log_softmax_forward_kernel(index_t N, index_t C, const T* x, T* y) {
  for (index_t row = blockIdx.x; row < N; row += gridDim.x) {
    const T* xr = x + row * C;
    T mx = T(-INFINITY);
    for (index_t c = threadIdx.x; c < C; c += blockDim.x) mx = fmax(mx, xr[c]);
    mx = block_max(mx);
    double sum = 0;
    for (index_t c = threadIdx.x; c < C; c += blockDim.x) sum += exp(double(xr[c]) - double(mx));
    const double shift = double(mx) + log(block_sum(sum));
    for (index_t c = threadIdx.x; c < C; c += blockDim.x) y[row * C + c] = T(double(xr[c]) - shift);
  }
}

template <typename T>
__global__ void log_softmax_backward_kernel(index_t N, index_t C, const T* dy, const T* y, T* dx) {
  for (index_t row = blockIdx.x; row < N; row += gridDim.x) {
    const T* dyr = dy + row * C;
    double sum = 0;
    for (index_t c = threadIdx.x; c < C; c += blockDim.x) sum += double(dyr[c]);
    sum = block_sum(sum);
    for (index_t c = threadIdx.x; c < C; c += blockDim.x)
      dx[row * C + c] = T(double(dyr[c]) - exp(double(y[row * C + c])) * sum);
  }
}

template <typename T>
__device__ __forceinline__ double class_weight(const CrossEntropyParams& p, const T* weight, index_t c) {
  return p.has_weight ? double(weight[c]) : 1.0;
}

// W of the contract, valid in every thread of the block. Contains __syncthreads.
template <typename T>
__device__ double target_weight_sum(const CrossEntropyParams& p, const std::int64_t* target, const T* weight) {
  double total = 0;
  for (index_t i = threadIdx.x; i < p.N; i += blockDim.x)
    if (target[i] != p.ignore_index) total += class_weight(p, weight, target[i]);
  return block_sum(total);
}

// A single block: threads take rows for the target terms, and columns (across all rows) for the
// smoothing term so its reads are coalesced.
template <typename T>
__global__ void cross_entropy_forward_kernel(CrossEntropyParams p, const T* logp, const std::int64_t* target,
                                             const T* weight, T* loss) {
  const index_t C = p.C;
  double nll = 0, smooth = 0;
  for (index_t i = threadIdx.x; i < p.N; i += blockDim.x) {
    const index_t t = target[i];
    if (t != p.ignore_index) nll -= class_weight(p, weight, t) * double(logp[i * C + t]);
  }
  if (p.label_smoothing != 0) {
    for (index_t i = 0; i < p.N; ++i) {
      if (target[i] == p.ignore_index) continue;
      for (index_t c = threadIdx.x; c < C; c += blockDim.x) smooth -= class_weight(p, weight, c) * double(logp[i * C + c]);
    }
  }
  nll = block_sum(nll);
  smooth = block_sum(smooth);
  const double W = target_weight_sum(p, target, weight);
  const double ls = p.label_smoothing;
  if (threadIdx.x == 0) *loss = T(((1 - ls) * nll + ls / double(C) * smooth) / W);
}

// Every block reduces W itself (N is a batch size: cheap), which keeps the backward one launch with no
// workspace.
template <typename T>
__global__ void cross_entropy_backward_kernel(CrossEntropyParams p, const std::int64_t* target, const T* weight,
                                              const T* dloss, T* dlogp) {
  const index_t C = p.C;
  const double ls = p.label_smoothing;
  const double scale = -double(*dloss) / target_weight_sum(p, target, weight);
  for (index_t j = cu::global_index(); j < p.N * C; j += cu::grid_stride()) {
    const index_t i = j / C, c = j % C, t = target[i];
    if (t == p.ignore_index) {
      dlogp[j] = T(0);
      continue;
    }
    const double hit = c == t ? 1 - ls : 0.0;
    dlogp[j] = T(scale * class_weight(p, weight, c) * (hit + ls / double(C)));
  }
}

constexpr int kLossThreads = 1024;
// Enough blocks for a batch of logits; each one also pays a pass over the targets.
constexpr index_t kLossBackwardMaxBlocks = 264;

}  // namespace

template <typename T>
void log_softmax_forward_cuda(index_t N, index_t C, const T* x, T* y, Stream stream) {
  if (N <= 0 || C <= 0) return;
  log_softmax_forward_kernel<<<cu::row_blocks(N), cu::row_threads(C), 0, stream>>>(N, C, x, y);
  cu::check_launch("log_softmax_forward_cuda");
}

template <typename T>
void log_softmax_backward_cuda(index_t N, index_t C, const T* dy, const T* y, T* dx, Stream stream) {
  if (N <= 0 || C <= 0) return;
  log_softmax_backward_kernel<<<cu::row_blocks(N), cu::row_threads(C), 0, stream>>>(N, C, dy, y, dx);
  cu::check_launch("log_softmax_backward_cuda");
}

template <typename T>
void cross_entropy_forward_cuda(const CrossEntropyParams& p, const T* logp, const std::int64_t* target,
                                const T* weight, T* loss, Stream stream) {
  cross_entropy_forward_kernel<<<1, kLossThreads, 0, stream>>>(p, logp, target, weight, loss);
  cu::check_launch("cross_entropy_forward_cuda");
}

template <typename T>
void cross_entropy_backward_cuda(const CrossEntropyParams& p, const T* logp, const std::int64_t* target,
                                 const T* weight, const T* dloss, T* dlogp, Stream stream) {
  (void)logp;  // the loss is linear in logp
  const index_t n = p.N * p.C;
  if (n <= 0) return;
  const index_t blocks = std::min<index_t>(cu::blocks_for(n), kLossBackwardMaxBlocks);
  cross_entropy_backward_kernel<<<int(blocks), cu::kThreads, 0, stream>>>(p, target, weight, dloss, dlogp);
  cu::check_launch("cross_entropy_backward_cuda");
}

#define KERN_INSTANTIATE(T)                                                                              \
  template void log_softmax_forward_cuda<T>(index_t, index_t, const T*, T*, Stream);                     \
  template void log_softmax_backward_cuda<T>(index_t, index_t, const T*, const T*, T*, Stream);          \
  template void cross_entropy_forward_cuda<T>(const CrossEntropyParams&, const T*, const std::int64_t*, \
                                              const T*, T*, Stream);                                     \
  template void cross_entropy_backward_cuda<T>(const CrossEntropyParams&, const T*, const std::int64_t*, \
                                               const T*, const T*, T*, Stream);
KERN_INSTANTIATE(float)
KERN_INSTANTIATE(double)
#undef KERN_INSTANTIATE

}  // namespace kern
