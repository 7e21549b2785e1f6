// batch_norm CUDA kernels; contracts in kernels/cpu/batch_norm.h and kernels/cuda/batch_norm.h.
// Every formula is the CPU kernel's, evaluated in double in the same order per element; only the
// channel sums differ, as a tree (per_channel.cuh) instead of a sequential loop.
#include <cmath>

#include "kernels/cuda/batch_norm.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/per_channel.cuh"

namespace kern {

namespace {

using cu::ChannelChunks;

// ---- training statistics: (count, mean, M2) per thread by Welford's update, merged by Chan's formula

struct Moments {
  double n, mean, m2;
};

__device__ Moments merge(const Moments& a, const Moments& b) {
  const double n = a.n + b.n;
  if (n == 0) return a;
  const double delta = b.mean - a.mean, fb = b.n / n;
  return {n, a.mean + delta * fb, a.m2 + b.m2 + delta * delta * a.n * fb};
}

// Valid in lane 0.
__device__ Moments warp_merge(Moments m) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    const Moments other{__shfl_down_sync(0xffffffffu, m.n, offset), __shfl_down_sync(0xffffffffu, m.mean, offset),
                        __shfl_down_sync(0xffffffffu, m.m2, offset)};
    m = merge(m, other);
  }
  return m;
}

// Valid in thread 0. Contains __syncthreads: every thread of the block must call it.
__device__ Moments block_merge(Moments m) {
  __shared__ double part_n[32], part_mean[32], part_m2[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  m = warp_merge(m);
  __syncthreads();  // the previous channel's partials may still be read by warp 0
  if (lane == 0) part_n[warp] = m.n, part_mean[warp] = m.mean, part_m2[warp] = m.m2;
  __syncthreads();
  if (warp == 0) {
    const bool filled = lane < static_cast<int>(blockDim.x >> 5);
    m = warp_merge(filled ? Moments{part_n[lane], part_mean[lane], part_m2[lane]} : Moments{0, 0, 0});
  }
  return m;
}

// partial (C, chunks) triples.
template <typename T>
__global__ void moments_partial_kernel(ChannelChunks g, const T* x, Moments* partial) {
  for (index_t c = blockIdx.y; c < g.C; c += gridDim.y) {
    Moments m{0, 0, 0};
    cu::for_each_in_chunk(g, c, blockIdx.x, [&](index_t o) {
      const double v = x[o];
      m.n += 1;
      const double d = v - m.mean;
      m.mean += d / m.n;
      m.m2 += d * (v - m.mean);
    });
    m = block_merge(m);
    if (threadIdx.x == 0) partial[c * g.chunks + blockIdx.x] = m;
  }
}

// y = x * scale + shift with the CPU's per-channel coefficients. Two doubles rather than a double2, whose
// 16-byte alignment a caller's workspace pointer need not have.
struct Coef {
  double scale, shift;
};

template <typename T>
__device__ Coef normalize_coef(const T* gamma, const T* beta, index_t c, double mean, double invstd) {
  const double scale = (gamma ? double(gamma[c]) : 1.0) * invstd;
  return {scale, (beta ? double(beta[c]) : 0.0) - mean * scale};
}

// One warp per channel: merges the chunks, writes the statistics, and leaves scale and shift in coef
// (C pairs) in double: rounded to T they would cost |mean| * scale * 2^-24 on every y.
template <typename T>
__global__ void moments_finalize_kernel(ChannelChunks g, const Moments* partial, BatchNormParams p, const T* gamma,
                                        const T* beta, T* save_mean, T* save_invstd, T* running_mean,
                                        T* running_var, Coef* coef) {
  const index_t warps = cu::grid_stride() / 32;
  const int lane = threadIdx.x & 31;
  for (index_t c = cu::global_index() / 32; c < g.C; c += warps) {
    const Moments m = warp_merge(lane < g.chunks ? partial[c * g.chunks + lane] : Moments{0, 0, 0});
    if (lane == 0) {
      const double n = double(g.count());
      const double invstd = 1.0 / sqrt(m.m2 / n + p.eps);
      save_mean[c] = T(m.mean);
      save_invstd[c] = T(invstd);
      if (running_mean) running_mean[c] = T((1 - p.momentum) * double(running_mean[c]) + p.momentum * m.mean);
      if (running_var)
        running_var[c] = T((1 - p.momentum) * double(running_var[c]) + p.momentum * (m.m2 / (n - 1)));
      coef[c] = normalize_coef(gamma, beta, c, m.mean, invstd);
    }
  }
}

// ---- element-wise passes (cu::per_plane ops)

// y = x * scale + shift, and y_act = act(y) when y_act is wanted (the fused training forward).
template <typename T>
struct Normalize {
  const T* x;
  T* y;
  const Coef* coef;                                    // training: from moments_finalize_kernel
  const T *gamma, *beta, *running_mean, *running_var;  // eval
  double eps;
  Activation act = Activation::none;
  const T* slope = nullptr;
  index_t slope_count = 0;
  T* y_act = nullptr;

  struct At {
    const T* x;
    T* y;
    Coef k;
    Activation act;
    T slope;
    T* y_act;
    // relu and prelu as kernels/cpu/activation.cpp has them: NaN passes both.
    __device__ T activate(T t) const {
      if (act == Activation::relu) return (t > T(0) || isnan(t)) ? t : T(0);
      if (act == Activation::prelu) return t > T(0) ? t : slope * t;
      return t;
    }
    __device__ void operator()(index_t o) const {
      const T t = T(double(x[o]) * k.scale + k.shift);
      if (y) y[o] = t;
      if (y_act) y_act[o] = activate(t);
    }
  };
  __device__ At channel(index_t c) const {
    const Coef k = coef ? coef[c]
                        : normalize_coef(gamma, beta, c, double(running_mean[c]),
                                         1.0 / sqrt(double(running_var[c]) + eps));
    const T a = act == Activation::prelu ? slope[slope_count == 1 ? 0 : c] : T(0);
    return {x, y, k, act, a, y_act};
  }
};

// The statistics a backward differentiates through: saved (training) or running (eval).
template <typename T>
struct Stats {
  const T* mean;
  const T* spread;  // save_invstd, or running_var when from_var
  bool from_var;
  double eps;

  __device__ double mean_of(index_t c) const { return mean[c]; }
  __device__ double invstd_of(index_t c) const {
    return from_var ? 1.0 / sqrt(double(spread[c]) + eps) : double(spread[c]);
  }
};

// s0 = sum(dy), s1 = sum(dy * x_hat).
template <typename T>
struct GradSums {
  const T *dy, *x;
  Stats<T> stats;

  struct At {
    const T *dy, *x;
    double mean, invstd;
    __device__ void operator()(index_t o, double& s0, double& s1) const {
      const double g = dy[o];
      s0 += g;
      s1 += g * (double(x[o]) - mean) * invstd;
    }
  };
  __device__ At channel(index_t c) const { return {dy, x, stats.mean_of(c), stats.invstd_of(c)}; }
};

template <typename T>
struct TrainDx {
  const T *dy, *x, *gamma;
  Stats<T> stats;
  const double* sums;  // (C) pairs of GradSums
  double n;
  T* dx;

  struct At {
    const T *dy, *x;
    T* dx;
    double mean, invstd, g_invstd, mean_dy, mean_dy_xhat;
    __device__ void operator()(index_t o) const {
      const double xhat = (double(x[o]) - mean) * invstd;
      dx[o] = T(g_invstd * (double(dy[o]) - mean_dy - xhat * mean_dy_xhat));
    }
  };
  __device__ At channel(index_t c) const {
    const double invstd = stats.invstd_of(c);
    return {dy, x, dx, stats.mean_of(c), invstd, (gamma ? double(gamma[c]) : 1.0) * invstd, sums[2 * c] / n,
            sums[2 * c + 1] / n};
  }
};

template <typename T>
struct EvalDx {
  const T *dy, *gamma;
  Stats<T> stats;
  T* dx;

  struct At {
    const T* dy;
    T* dx;
    double g_invstd;
    __device__ void operator()(index_t o) const { dx[o] = T(double(dy[o]) * g_invstd); }
  };
  __device__ At channel(index_t c) const {
    return {dy, dx, (gamma ? double(gamma[c]) : 1.0) * stats.invstd_of(c)};
  }
};

ChannelChunks chunks_of(const BatchNormParams& p) { return cu::channel_chunks(p.N, p.C, p.HW); }

// dgamma and dbeta from GradSums; the channel sums stay in the workspace for the dx pass.
template <typename T>
void grad_sums(const BatchNormParams& p, const T* dy, const T* x, const Stats<T>& stats, T* dgamma, T* dbeta,
               double* workspace, Stream stream) {
  cu::channel_sums2(chunks_of(p), GradSums<T>{dy, x, stats}, workspace, dbeta, dgamma, stream, "batch_norm grad sums");
}

}  // namespace

index_t batch_norm_workspace_size(const BatchNormParams& p) {
  const ChannelChunks g = chunks_of(p);
  // The training forward: coefficients (C pairs), then partial triples (C * chunks).
  const index_t forward = (g.C * sizeof(Coef) + g.C * g.chunks * sizeof(Moments)) / sizeof(double);
  const index_t backward = cu::channel_sums2_workspace_size(g);
  return forward > backward ? forward : backward;
}

template <typename T>
void batch_norm_forward_train_act_cuda(const BatchNormParams& p, const T* x, const T* gamma, const T* beta, T* y,
                                       T* save_mean, T* save_invstd, T* running_mean, T* running_var,
                                       Activation act, const T* slope, index_t slope_count, T* y_act,
                                       double* workspace, Stream stream) {
  if (p.C == 0) return;
  const ChannelChunks g = chunks_of(p);
  auto* coef = reinterpret_cast<Coef*>(workspace);
  auto* partial = reinterpret_cast<Moments*>(coef + g.C);
  moments_partial_kernel<<<cu::chunk_grid(g), cu::kThreads, 0, stream>>>(g, x, partial);
  cu::check_launch("batch_norm moments_partial_kernel");
  moments_finalize_kernel<<<cu::warp_per_channel_blocks(g.C), cu::kThreads, 0, stream>>>(
      g, partial, p, gamma, beta, save_mean, save_invstd, running_mean, running_var, coef);
  cu::check_launch("batch_norm moments_finalize_kernel");
  cu::per_plane(p.N, p.C, p.HW,
                Normalize<T>{x, y, coef, nullptr, nullptr, nullptr, nullptr, 0.0, act, slope, slope_count, y_act},
                stream, "batch_norm normalize (train)");
}

template <typename T>
void batch_norm_forward_train_cuda(const BatchNormParams& p, const T* x, const T* gamma, const T* beta, T* y,
                                   T* save_mean, T* save_invstd, T* running_mean, T* running_var,
                                   double* workspace, Stream stream) {
  batch_norm_forward_train_act_cuda(p, x, gamma, beta, y, save_mean, save_invstd, running_mean, running_var,
                                    Activation::none, static_cast<const T*>(nullptr), 0, static_cast<T*>(nullptr),
                                    workspace, stream);
}

template <typename T>
void batch_norm_forward_eval_cuda(const BatchNormParams& p, const T* x, const T* gamma, const T* beta,
                                  const T* running_mean, const T* running_var, T* y, Stream stream) {
  cu::per_plane(p.N, p.C, p.HW, Normalize<T>{x, y, nullptr, gamma, beta, running_mean, running_var, p.eps}, stream,
                "batch_norm normalize (eval)");
}

template <typename T>
void batch_norm_backward_train_cuda(const BatchNormParams& p, const T* dy, const T* x, const T* gamma,
                                    const T* save_mean, const T* save_invstd, T* dx, T* dgamma, T* dbeta,
                                    double* workspace, Stream stream) {
  if (p.C == 0 || (!dx && !dgamma && !dbeta)) return;
  const Stats<T> stats{save_mean, save_invstd, false, p.eps};
  grad_sums(p, dy, x, stats, dgamma, dbeta, workspace, stream);
  if (!dx) return;
  const double* sums = cu::channel_sums2_result(chunks_of(p), workspace);
  cu::per_plane(p.N, p.C, p.HW, TrainDx<T>{dy, x, gamma, stats, sums, double(p.N * p.HW), dx}, stream,
                "batch_norm dx (train)");
}

template <typename T>
void batch_norm_backward_eval_cuda(const BatchNormParams& p, const T* dy, const T* x, const T* gamma,
                                   const T* running_mean, const T* running_var, T* dx, T* dgamma, T* dbeta,
                                   double* workspace, Stream stream) {
  if (p.C == 0) return;
  const Stats<T> stats{running_mean, running_var, true, p.eps};
  if (dgamma || dbeta) grad_sums(p, dy, x, stats, dgamma, dbeta, workspace, stream);
  if (dx) cu::per_plane(p.N, p.C, p.HW, EvalDx<T>{dy, gamma, stats, dx}, stream, "batch_norm dx (eval)");
}

#define KERN_INSTANTIATE(T)                                                                                      \
  template void batch_norm_forward_train_cuda<T>(const BatchNormParams&, const T*, const T*, const T*, T*, T*,   \
                                                 T*, T*, T*, double*, Stream);                                   \
  template void batch_norm_forward_train_act_cuda<T>(const BatchNormParams&, const T*, const T*, const T*, T*,   \
                                                     T*, T*, T*, T*, Activation, const T*, index_t, T*, double*, \
                                                     Stream);                                                    \
  template void batch_norm_forward_eval_cuda<T>(const BatchNormParams&, const T*, const T*, const T*,            \
                                                const T*, const T*, T*, Stream);                                 \
  template void batch_norm_backward_train_cuda<T>(const BatchNormParams&, const T*, const T*, const T*,          \
                                                  const T*, const T*, T*, T*, T*, double*, Stream);              \
  template void batch_norm_backward_eval_cuda<T>(const BatchNormParams&, const T*, const T*, const T*,           \
                                                 const T*, const T*, T*, T*, T*, double*, Stream);
KERN_INSTANTIATE(float)
KERN_INSTANTIATE(double)
#undef KERN_INSTANTIATE

}  // namespace kern
