// Pooling CPU kernels; contracts in pool.h.
// Window bounds follow ATen's CPU kernels line for line (start clipped to 0, end to the input), so the
// argmax, the -inf padding and the avg divisor agree with PyTorch in every corner.
#include "kernels/cpu/pool.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kern {

namespace {

// The window of output (oh, ow), clipped to the real input: [h0, h1) x [w0, w1); and avg_pool2d's divisor
// for it (ATen's: padded positions count when count_include_pad).
struct Window {
  index_t h0, h1, w0, w1, divisor;
};

Window window(const Pool2dParams& p, index_t oh, index_t ow) {
  index_t h0 = oh * p.stride_h - p.pad_h, w0 = ow * p.stride_w - p.pad_w;
  index_t h1 = std::min(h0 + p.kernel_h, p.H + p.pad_h);
  index_t w1 = std::min(w0 + p.kernel_w, p.W + p.pad_w);
  const index_t padded_count = (h1 - h0) * (w1 - w0);
  h0 = std::max<index_t>(h0, 0);
  w0 = std::max<index_t>(w0, 0);
  h1 = std::min(h1, p.H);
  w1 = std::min(w1, p.W);
  const index_t divisor = p.count_include_pad ? padded_count : (h1 - h0) * (w1 - w0);
  return {h0, h1, w0, w1, divisor};
}

// max_pool2d(2, 2) without padding, every stage of the ResNet-caffe streams: the general loop's window
// bounds and inner loops cost more than the four comparisons. Same semantics: the first of equal maxima,
// the first NaN.
template <typename T>
void max_pool2x2_forward(const Pool2dParams& p, const T* x, T* y, std::int64_t* indices) {
  const index_t H = p.H, W = p.W, P = p.P(), Q = p.Q();
#pragma omp parallel for schedule(static) if (p.N * p.C * P * Q * 4 >= kParallelMin)
  for (index_t plane = 0; plane < p.N * p.C; ++plane) {
    const T* xp = x + plane * H * W;
    for (index_t oh = 0; oh < P; ++oh) {
      const index_t row = 2 * oh * W;
      const index_t o0 = plane * P * Q + oh * Q;
      for (index_t ow = 0; ow < Q; ++ow) {
        const index_t at[4] = {row + 2 * ow, row + 2 * ow + 1, row + W + 2 * ow, row + W + 2 * ow + 1};
        T best = xp[at[0]];
        index_t best_at = at[0];
        for (int i = 1; i < 4 && !std::isnan(best); ++i)
          if (xp[at[i]] > best || std::isnan(xp[at[i]])) best = xp[at[i]], best_at = at[i];
        y[o0 + ow] = best;
        if (indices) indices[o0 + ow] = best_at;
      }
    }
  }
}

// max_pool2d with a 1x1 window and no padding is a strided subsample (IR-ResNet's shortcut MaxPool2d(1, 2)).
template <typename T>
void subsample_forward(const Pool2dParams& p, const T* x, T* y, std::int64_t* indices) {
  const index_t H = p.H, W = p.W, P = p.P(), Q = p.Q();
#pragma omp parallel for schedule(static) if (p.N * p.C * P * Q >= kParallelMin)
  for (index_t plane = 0; plane < p.N * p.C; ++plane)
    for (index_t oh = 0; oh < P; ++oh) {
      const index_t o0 = plane * P * Q + oh * Q, row = oh * p.stride_h * W;
      for (index_t ow = 0; ow < Q; ++ow) {
        y[o0 + ow] = x[plane * H * W + row + ow * p.stride_w];
        if (indices) indices[o0 + ow] = row + ow * p.stride_w;
      }
    }
}

}  // namespace

template <typename T>
void max_pool2d_forward_cpu(const Pool2dParams& p, const T* x, T* y, std::int64_t* indices) {
  const index_t H = p.H, W = p.W, P = p.P(), Q = p.Q();
  if (p.kernel_h == 2 && p.kernel_w == 2 && p.stride_h == 2 && p.stride_w == 2 && p.pad_h == 0 && p.pad_w == 0)
    return max_pool2x2_forward(p, x, y, indices);
  if (p.kernel_h == 1 && p.kernel_w == 1 && p.pad_h == 0 && p.pad_w == 0) return subsample_forward(p, x, y, indices);
#pragma omp parallel for schedule(static) if (p.N * p.C * P * Q * p.kernel_h * p.kernel_w >= kParallelMin)
  for (index_t plane = 0; plane < p.N * p.C; ++plane) {
    const T* xp = x + plane * H * W;
    for (index_t oh = 0; oh < P; ++oh) {
      for (index_t ow = 0; ow < Q; ++ow) {
        const auto [h0, h1, w0, w1, divisor] = window(p, oh, ow);
        T best = -std::numeric_limits<T>::infinity();
        index_t best_at = h0 * W + w0;
        for (index_t h = h0; h < h1; ++h) {
          for (index_t w = w0; w < w1; ++w) {
            const T v = xp[h * W + w];
            // Strictly greater keeps the first of equal maxima.
            if (v > best || std::isnan(v)) {
              best = v;
              best_at = h * W + w;
            }
            if (std::isnan(best)) break;
          }
          if (std::isnan(best)) break;
        }
        const index_t o = plane * P * Q + oh * Q + ow;
        y[o] = best;
        if (indices) indices[o] = best_at;
      }
    }
  }
}

template <typename T>
void max_pool2d_backward_cpu(const Pool2dParams& p, const T* dy, const std::int64_t* indices, T* dx) {
  const index_t HW = p.H * p.W, PQ = p.P() * p.Q();
#pragma omp parallel for schedule(static) if (p.N * p.C * HW >= kParallelMin)
  for (index_t plane = 0; plane < p.N * p.C; ++plane) {
    T* dxp = dx + plane * HW;
    std::fill(dxp, dxp + HW, T(0));
    for (index_t o = plane * PQ; o < (plane + 1) * PQ; ++o) dxp[indices[o]] += dy[o];
  }
}


template <typename T>
void avg_pool2d_forward_cpu(const Pool2dParams& p, const T* x, T* y) {
  const index_t H = p.H, W = p.W, P = p.P(), Q = p.Q();
#pragma omp parallel for schedule(static) if (p.N * p.C * P * Q * p.kernel_h * p.kernel_w >= kParallelMin)
  for (index_t plane = 0; plane < p.N * p.C; ++plane) {
    const T* xp = x + plane * H * W;
    for (index_t oh = 0; oh < P; ++oh) {
      for (index_t ow = 0; ow < Q; ++ow) {
        const Window win = window(p, oh, ow);
        double sum = 0;
        for (index_t h = win.h0; h < win.h1; ++h)
          for (index_t w = win.w0; w < win.w1; ++w) sum += xp[h * W + w];
        y[plane * P * Q + oh * Q + ow] = T(sum / double(win.divisor));
      }
    }
  }
}

template <typename T>
void avg_pool2d_backward_cpu(const Pool2dParams& p, const T* dy, T* dx) {
  const index_t H = p.H, W = p.W, P = p.P(), Q = p.Q();
#pragma omp parallel for schedule(static) if (p.N * p.C * H * W >= kParallelMin)
  for (index_t plane = 0; plane < p.N * p.C; ++plane) {
    T* dxp = dx + plane * H * W;
    std::fill(dxp, dxp + H * W, T(0));
    for (index_t oh = 0; oh < P; ++oh) {
      for (index_t ow = 0; ow < Q; ++ow) {
        const Window win = window(p, oh, ow);
        const T g = dy[plane * P * Q + oh * Q + ow] / T(win.divisor);
        for (index_t h = win.h0; h < win.h1; ++h)
          for (index_t w = win.w0; w < win.w1; ++w) dxp[h * W + w] += g;
      }
    }
  }
}

template <typename T>
void global_avg_pool_forward_cpu(index_t planes, index_t HW, const T* x, T* y) {
#pragma omp parallel for schedule(static) if (planes * HW >= kParallelMin)
  for (index_t i = 0; i < planes; ++i) {
    double sum = 0;
    for (index_t k = 0; k < HW; ++k) sum += x[i * HW + k];
    y[i] = T(sum / double(HW));
  }
}

template <typename T>
void global_avg_pool_backward_cpu(index_t planes, index_t HW, const T* dy, T* dx) {
#pragma omp parallel for schedule(static) if (planes * HW >= kParallelMin)
  for (index_t i = 0; i < planes; ++i) {
    const T g = dy[i] / T(HW);
    for (index_t k = 0; k < HW; ++k) dx[i * HW + k] = g;
  }
}

template <typename T>
void global_max_pool_forward_cpu(index_t planes, index_t HW, const T* x, T* y, std::int64_t* indices) {
#pragma omp parallel for schedule(static) if (planes * HW >= kParallelMin)
  for (index_t i = 0; i < planes; ++i) {
    const T* xp = x + i * HW;
    T best = -std::numeric_limits<T>::infinity();
    index_t best_at = 0;
    for (index_t k = 0; k < HW; ++k) {
      if (xp[k] > best || std::isnan(xp[k])) {
        best = xp[k];
        best_at = k;
        if (std::isnan(best)) break;
      }
    }
    y[i] = best;
    if (indices) indices[i] = best_at;
  }
}

template <typename T>
void global_max_pool_backward_cpu(index_t planes, index_t HW, const T* dy, const std::int64_t* indices,
                                  T* dx) {
#pragma omp parallel for schedule(static) if (planes * HW >= kParallelMin)
  for (index_t i = 0; i < planes; ++i) {
    std::fill(dx + i * HW, dx + (i + 1) * HW, T(0));
    dx[i * HW + indices[i]] = dy[i];
  }
}

#define KERN_INSTANTIATE(T)                                                                          \
  template void max_pool2d_forward_cpu<T>(const Pool2dParams&, const T*, T*, std::int64_t*);         \
  template void max_pool2d_backward_cpu<T>(const Pool2dParams&, const T*, const std::int64_t*, T*);  \
  template void avg_pool2d_forward_cpu<T>(const Pool2dParams&, const T*, T*);                        \
  template void avg_pool2d_backward_cpu<T>(const Pool2dParams&, const T*, T*);                       \
  template void global_avg_pool_forward_cpu<T>(index_t, index_t, const T*, T*);                      \
  template void global_avg_pool_backward_cpu<T>(index_t, index_t, const T*, T*);                     \
  template void global_max_pool_forward_cpu<T>(index_t, index_t, const T*, T*, std::int64_t*);       \
  template void global_max_pool_backward_cpu<T>(index_t, index_t, const T*, const std::int64_t*, T*);
KERN_INSTANTIATE(float)
KERN_INSTANTIATE(double)
#undef KERN_INSTANTIATE

}  // namespace kern
