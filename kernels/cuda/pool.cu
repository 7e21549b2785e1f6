// Pooling CUDA kernels; contracts in kernels/cpu/pool.h and kernels/cuda/pool.h.
#include <cstdint>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/pool.h"

namespace kern {

namespace {

// Pool2dParams with its output size, which device code cannot ask the host-only P() and Q() for.
struct Geometry {
  Pool2dParams p;
  index_t P, Q;

  __device__ index_t planes() const { return p.N * p.C; }
};

Geometry geometry(const Pool2dParams& p) { return {p, p.P(), p.Q()}; }

// pool.cpp's window(), line for line: output (oh, ow)'s window clipped to the input, and avg_pool2d's
// divisor for it.
struct Window {
  index_t h0, h1, w0, w1, divisor;
};

__device__ Window window(const Pool2dParams& p, index_t oh, index_t ow) {
  index_t h0 = oh * p.stride_h - p.pad_h, w0 = ow * p.stride_w - p.pad_w;
  index_t h1 = min(h0 + p.kernel_h, p.H + p.pad_h);
  index_t w1 = min(w0 + p.kernel_w, p.W + p.pad_w);
  const index_t padded_count = (h1 - h0) * (w1 - w0);
  h0 = max(h0, index_t(0));
  w0 = max(w0, index_t(0));
  h1 = min(h1, p.H);
  w1 = min(w1, p.W);
  const index_t divisor = p.count_include_pad ? padded_count : (h1 - h0) * (w1 - w0);
  return {h0, h1, w0, w1, divisor};
}

// The outputs whose windows cover input row (or column) i: [lo, hi], possibly empty. Window o covers i
// when o * stride - pad <= i < o * stride - pad + kernel; the clipping in window() only removes
// positions outside the input, never i.
struct Cover {
  index_t lo, hi;
};

__device__ Cover cover(index_t i, index_t kernel, index_t stride, index_t pad, index_t outputs) {
  const index_t reach = i + pad - kernel + 1;  // o * stride must be at least this
  return {reach <= 0 ? 0 : cu::ceil_div(reach, stride), min((i + pad) / stride, outputs - 1)};
}

template <typename T>
__global__ void max_pool2d_forward_kernel(Geometry g, const T* x, T* y, std::int64_t* indices) {
  const Pool2dParams& p = g.p;
  const index_t PQ = g.P * g.Q, total = g.planes() * PQ;
  for (index_t o = cu::global_index(); o < total; o += cu::grid_stride()) {
    const index_t plane = o / PQ, oh = (o - plane * PQ) / g.Q, ow = o - plane * PQ - oh * g.Q;
    const Window win = window(p, oh, ow);
    const T* xp = x + plane * p.H * p.W;
    T best = -T(INFINITY);
    index_t best_at = win.h0 * p.W + win.w0;
    for (index_t h = win.h0; h < win.h1 && !isnan(best); ++h) {
      for (index_t w = win.w0; w < win.w1; ++w) {
        const T v = xp[h * p.W + w];
        // Strictly greater keeps the first of equal maxima; the first NaN ends the scan.
        if (v > best || isnan(v)) {
          best = v;
          best_at = h * p.W + w;
          if (isnan(v)) break;
        }
      }
    }
    y[o] = best;
    if (indices) indices[o] = best_at;
  }
}

template <typename T>
__global__ void max_pool2d_backward_kernel(Geometry g, const T* dy, const std::int64_t* indices, T* dx) {
  const Pool2dParams& p = g.p;
  const index_t HW = p.H * p.W, PQ = g.P * g.Q, total = g.planes() * HW;
  for (index_t i = cu::global_index(); i < total; i += cu::grid_stride()) {
    const index_t plane = i / HW, at = i - plane * HW, h = at / p.W, w = at - h * p.W;
    const Cover rows = cover(h, p.kernel_h, p.stride_h, p.pad_h, g.P);
    const Cover cols = cover(w, p.kernel_w, p.stride_w, p.pad_w, g.Q);
    T sum = T(0);
    for (index_t oh = rows.lo; oh <= rows.hi; ++oh)
      for (index_t ow = cols.lo; ow <= cols.hi; ++ow) {
        const index_t o = plane * PQ + oh * g.Q + ow;
        if (indices[o] == at) sum += dy[o];
      }
    dx[i] = sum;
  }
}

template <typename T>
__global__ void avg_pool2d_forward_kernel(Geometry g, const T* x, T* y) {
  const Pool2dParams& p = g.p;
  const index_t PQ = g.P * g.Q, total = g.planes() * PQ;
  for (index_t o = cu::global_index(); o < total; o += cu::grid_stride()) {
    const index_t plane = o / PQ, oh = (o - plane * PQ) / g.Q, ow = o - plane * PQ - oh * g.Q;
    const Window win = window(p, oh, ow);
    const T* xp = x + plane * p.H * p.W;
    double sum = 0;
    for (index_t h = win.h0; h < win.h1; ++h)
      for (index_t w = win.w0; w < win.w1; ++w) sum += xp[h * p.W + w];
    y[o] = T(sum / double(win.divisor));
  }
}

template <typename T>
__global__ void avg_pool2d_backward_kernel(Geometry g, const T* dy, T* dx) {
  const Pool2dParams& p = g.p;
  const index_t HW = p.H * p.W, PQ = g.P * g.Q, total = g.planes() * HW;
  for (index_t i = cu::global_index(); i < total; i += cu::grid_stride()) {
    const index_t plane = i / HW, h = (i - plane * HW) / p.W, w = i - plane * HW - h * p.W;
    const Cover rows = cover(h, p.kernel_h, p.stride_h, p.pad_h, g.P);
    const Cover cols = cover(w, p.kernel_w, p.stride_w, p.pad_w, g.Q);
    T sum = T(0);
    for (index_t oh = rows.lo; oh <= rows.hi; ++oh)
      for (index_t ow = cols.lo; ow <= cols.hi; ++ow)
        sum += dy[plane * PQ + oh * g.Q + ow] / T(window(p, oh, ow).divisor);
    dx[i] = sum;
  }
}

// ---- global pools: one warp per plane

template <typename T>
__global__ void global_avg_pool_forward_kernel(index_t planes, index_t HW, const T* x, T* y) {
  const int lane = threadIdx.x & 31;
  for (index_t plane = cu::global_index() / 32; plane < planes; plane += cu::grid_stride() / 32) {
    double sum = 0;
    for (index_t k = lane; k < HW; k += 32) sum += x[plane * HW + k];
    sum = cu::warp_sum(sum);
    if (lane == 0) y[plane] = T(sum / double(HW));
  }
}

template <typename T>
__global__ void global_avg_pool_backward_kernel(index_t planes, index_t HW, const T* dy, T* dx) {
  for (index_t i = cu::global_index(); i < planes * HW; i += cu::grid_stride()) dx[i] = dy[i / HW] / T(HW);
}

// A candidate maximum; kNone marks a lane that saw no element.
constexpr index_t kNone = INT64_MAX;
template <typename T>
struct Best {
  T v;
  index_t at;
};

// Whether a is the CPU's choice over b: a NaN, else the larger value, else (equal) the earlier position.
// A total order on candidates, so any merge tree finds the sequential scan's answer.
template <typename T>
__device__ bool beats(const Best<T>& a, const Best<T>& b) {
  const bool a_nan = isnan(a.v), b_nan = isnan(b.v);
  if (a_nan != b_nan) return a_nan;
  if (!a_nan && a.v != b.v) return a.v > b.v;
  return a.at < b.at;
}

template <typename T>
__global__ void global_max_pool_forward_kernel(index_t planes, index_t HW, const T* x, T* y,
                                               std::int64_t* indices) {
  const int lane = threadIdx.x & 31;
  for (index_t plane = cu::global_index() / 32; plane < planes; plane += cu::grid_stride() / 32) {
    Best<T> best{-T(INFINITY), kNone};
    for (index_t k = lane; k < HW; k += 32) {
      const Best<T> here{x[plane * HW + k], k};
      if (best.at == kNone || beats(here, best)) best = here;
    }
    for (int offset = 16; offset > 0; offset >>= 1) {
      const Best<T> other{__shfl_down_sync(0xffffffffu, best.v, offset),
                          __shfl_down_sync(0xffffffffu, best.at, offset)};
      if (beats(other, best)) best = other;
    }
    if (lane == 0) {
      y[plane] = best.v;
      if (indices) indices[plane] = best.at == kNone ? 0 : best.at;  // HW == 0: the CPU's -inf at 0
    }
  }
}

template <typename T>
__global__ void global_max_pool_backward_kernel(index_t planes, index_t HW, const T* dy,
                                                const std::int64_t* indices, T* dx) {
  for (index_t i = cu::global_index(); i < planes * HW; i += cu::grid_stride()) {
    const index_t plane = i / HW;
    dx[i] = i - plane * HW == indices[plane] ? dy[plane] : T(0);
  }
}

}  // namespace

template <typename T>
void max_pool2d_forward_cuda(const Pool2dParams& p, const T* x, T* y, std::int64_t* indices, Stream stream) {
  const Geometry g = geometry(p);
  const index_t n = p.N * p.C * g.P * g.Q;
  if (n <= 0) return;
  max_pool2d_forward_kernel<<<cu::blocks_for(n), cu::kThreads, 0, stream>>>(g, x, y, indices);
  cu::check_launch("max_pool2d_forward_kernel");
}

template <typename T>
void max_pool2d_backward_cuda(const Pool2dParams& p, const T* dy, const std::int64_t* indices, T* dx,
                              Stream stream) {
  const index_t n = p.N * p.C * p.H * p.W;
  if (n <= 0) return;
  max_pool2d_backward_kernel<<<cu::blocks_for(n), cu::kThreads, 0, stream>>>(geometry(p), dy, indices, dx);
  cu::check_launch("max_pool2d_backward_kernel");
}

template <typename T>
void avg_pool2d_forward_cuda(const Pool2dParams& p, const T* x, T* y, Stream stream) {
  const Geometry g = geometry(p);
  const index_t n = p.N * p.C * g.P * g.Q;
  if (n <= 0) return;
  avg_pool2d_forward_kernel<<<cu::blocks_for(n), cu::kThreads, 0, stream>>>(g, x, y);
  cu::check_launch("avg_pool2d_forward_kernel");
}

template <typename T>
void avg_pool2d_backward_cuda(const Pool2dParams& p, const T* dy, T* dx, Stream stream) {
  const index_t n = p.N * p.C * p.H * p.W;
  if (n <= 0) return;
  avg_pool2d_backward_kernel<<<cu::blocks_for(n), cu::kThreads, 0, stream>>>(geometry(p), dy, dx);
  cu::check_launch("avg_pool2d_backward_kernel");
}

template <typename T>
void global_avg_pool_forward_cuda(index_t planes, index_t HW, const T* x, T* y, Stream stream) {
  if (planes <= 0) return;
  global_avg_pool_forward_kernel<<<cu::blocks_for(planes * 32), cu::kThreads, 0, stream>>>(planes, HW, x, y);
  cu::check_launch("global_avg_pool_forward_kernel");
}

template <typename T>
void global_avg_pool_backward_cuda(index_t planes, index_t HW, const T* dy, T* dx, Stream stream) {
  if (planes * HW <= 0) return;
  global_avg_pool_backward_kernel<<<cu::blocks_for(planes * HW), cu::kThreads, 0, stream>>>(planes, HW, dy, dx);
  cu::check_launch("global_avg_pool_backward_kernel");
}

template <typename T>
void global_max_pool_forward_cuda(index_t planes, index_t HW, const T* x, T* y, std::int64_t* indices,
                                  Stream stream) {
  if (planes <= 0) return;
  global_max_pool_forward_kernel<<<cu::blocks_for(planes * 32), cu::kThreads, 0, stream>>>(planes, HW, x, y,
                                                                                          indices);
  cu::check_launch("global_max_pool_forward_kernel");
}

template <typename T>
void global_max_pool_backward_cuda(index_t planes, index_t HW, const T* dy, const std::int64_t* indices, T* dx,
                                   Stream stream) {
  if (planes * HW <= 0) return;
  global_max_pool_backward_kernel<<<cu::blocks_for(planes * HW), cu::kThreads, 0, stream>>>(planes, HW, dy,
                                                                                           indices, dx);
  cu::check_launch("global_max_pool_backward_kernel");
}

#define KERN_INSTANTIATE(T)                                                                                   \
  template void max_pool2d_forward_cuda<T>(const Pool2dParams&, const T*, T*, std::int64_t*, Stream);         \
  template void max_pool2d_backward_cuda<T>(const Pool2dParams&, const T*, const std::int64_t*, T*, Stream);  \
  template void avg_pool2d_forward_cuda<T>(const Pool2dParams&, const T*, T*, Stream);                        \
  template void avg_pool2d_backward_cuda<T>(const Pool2dParams&, const T*, T*, Stream);                       \
  template void global_avg_pool_forward_cuda<T>(index_t, index_t, const T*, T*, Stream);                      \
  template void global_avg_pool_backward_cuda<T>(index_t, index_t, const T*, T*, Stream);                     \
  template void global_max_pool_forward_cuda<T>(index_t, index_t, const T*, T*, std::int64_t*, Stream);       \
  template void global_max_pool_backward_cuda<T>(index_t, index_t, const T*, const std::int64_t*, T*, Stream);
KERN_INSTANTIATE(float)
KERN_INSTANTIATE(double)
#undef KERN_INSTANTIATE

}  // namespace kern
