// conv2d on the GPU as three implicit GEMMs on the shared tile core (mma.cuh), one GEMM per group
// (blockIdx.z), g = group, Cg = C / groups, Kg = K / groups:
//   forward         y[n, gKg + k, p, q]  = sum_{(c,r,s)} w[gKg + k, c, r, s] * x[n, gCg + c, h(p,r), w(q,s)]
//                   M = Kg, N = N*P*Q, depth = Cg*R*S; the epilogue (scale, bias, ReLU / PReLU) in the store
//   backward-data   dx[n, gCg + c, h, w] = sum_{(k,r,s)} w[gKg + k, c, r, s] * dy[n, gKg + k, p, q]
//                   over the taps whose (h + pad - r*dil) / stride is an exact in-range p (likewise q):
//                   M = Cg, N = N*H*W, depth = Kg*R*S, a gather, so no atomics and no zero-fill pass
//   backward-weight dw[gKg + k, (c,r,s)] = sum_{(n,p,q)} dy[n, gKg + k, p, q] * x[n, gCg + c, h(p,r), w(q,s)]
//                   M = Kg, N = Cg*R*S, depth = N*P*Q, one block per output tile over the whole depth
//                   (deterministic; few blocks for small layers, which is the price of no workspace)
// Row / column / depth indices are int (checked on the host); element offsets are 64-bit, as
// N*K*P*Q exceeds 2^31 for large batches.
#include <limits>
#include <string>

#include "kernels/cuda/conv2d.h"
#include "kernels/cuda/fast_div.h"
#include "kernels/cuda/mma.cuh"

namespace kern {

namespace {

// Conv2dParams as int, with the divisors that split GEMM indices into conv coordinates ready for
// multiply-high division (fast_div.h): the gathers divide several times per element.
struct Geometry {
  int N, C, H, W, K, R, S, P, Q;
  int stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
  int Cg, Kg, RS;
  cu::FastDiv by_RS, by_S, by_PQ, by_Q, by_HW, by_W, by_stride_h, by_stride_w;
};

void check_params(const Conv2dParams& p, const char* op) {
  if (p.groups < 1 || p.C % p.groups != 0 || p.K % p.groups != 0 || p.P() < 1 || p.Q() < 1 || p.stride_h < 1 ||
      p.stride_w < 1 || p.dil_h < 1 || p.dil_w < 1 || p.pad_h < 0 || p.pad_w < 0 || p.N < 0 || p.C < 1 ||
      p.K < 1 || p.H < 1 || p.W < 1 || p.R < 1 || p.S < 1)
    throw std::invalid_argument(std::string(op) + ": invalid Conv2dParams (C=" + std::to_string(p.C) +
                                " K=" + std::to_string(p.K) + " groups=" + std::to_string(p.groups) +
                                " P=" + std::to_string(p.P()) + " Q=" + std::to_string(p.Q()) + ")");
}

Geometry geometry(const Conv2dParams& p, const char* op) {
  check_params(p, op);
  constexpr index_t kMax = std::numeric_limits<int>::max();
  // Every GEMM dimension of the three directions must be an int; the tile core checks the rest.
  const index_t dims[] = {p.N * p.P() * p.Q(), p.N * p.H * p.W, p.C * p.R * p.S, p.K * p.R * p.S,
                          p.H + 2 * p.pad_h + p.dil_h * p.R, p.W + 2 * p.pad_w + p.dil_w * p.S,
                          p.stride_h * p.P(), p.stride_w * p.Q()};
  for (const index_t d : dims)
    if (d > kMax) throw std::invalid_argument(std::string(op) + ": shape too large for 32-bit tile indices");
  const auto i = [](index_t v) { return static_cast<int>(v); };
  Geometry G{i(p.N),     i(p.C),     i(p.H),        i(p.W),           i(p.K),           i(p.R),
             i(p.S),     i(p.P()),   i(p.Q()),      i(p.stride_h),    i(p.stride_w),    i(p.pad_h),
             i(p.pad_w), i(p.dil_h), i(p.dil_w),    i(p.C / p.groups), i(p.K / p.groups), i(p.R * p.S),
             {},         {},         {},            {},               {},               {},
             {},         {}};
  G.by_RS = cu::FastDiv(G.RS), G.by_S = cu::FastDiv(G.S), G.by_PQ = cu::FastDiv(G.P * G.Q);
  G.by_Q = cu::FastDiv(G.Q), G.by_HW = cu::FastDiv(G.H * G.W), G.by_W = cu::FastDiv(G.W);
  G.by_stride_h = cu::FastDiv(G.stride_h), G.by_stride_w = cu::FastDiv(G.stride_w);
  return G;
}

// x[n, c, h, w], or 0 in the padding.
template <typename T>
__device__ __forceinline__ T x_at(const Geometry& G, const T* x, int n, int c, int h, int w) {
  if (h < 0 || h >= G.H || w < 0 || w >= G.W) return T(0);
  return x[((static_cast<index_t>(n) * G.C + c) * G.H + h) * G.W + w];
}

// Forward A: w viewed as (Kg, Cg*R*S) per group, contiguous along the depth.
template <typename T>
struct WeightRows {
  const T* w;
  int Kg, depth;
  bool k_fast = true;
  __device__ T operator()(int g, int m, int k) const {
    return w[(static_cast<index_t>(g) * Kg + m) * depth + k];
  }
};

// Forward B: the im2col matrix of x, row (c, r, s), column (n, p, q).
template <typename T>
struct Im2col {
  Geometry G;
  const T* x;
  bool k_fast = false;
  __device__ T operator()(int g, int k, int col) const {
    int c, r, n, p;
    const int s = G.by_S.divmod(G.by_RS.divmod(k, c), r), q = G.by_Q.divmod(G.by_PQ.divmod(col, n), p);
    return x_at(G, x, n, g * G.Cg + c, p * G.stride_h - G.pad_h + r * G.dil_h,
                q * G.stride_w - G.pad_w + s * G.dil_w);
  }
};

template <typename T>
struct ForwardStore {
  Geometry G;
  T* y;
  ConvEpilogue<T> e;
  template <typename V>
  __device__ void operator()(int g, int m, int col, V acc) const {
    int n;
    const int k = g * G.Kg + m, pq = G.by_PQ.divmod(col, n);
    // The CPU's finish_outputs: v = scale * conv + bias, then the activation.
    T v = (e.scale ? e.scale[k] : T(1)) * T(acc) + (e.bias ? e.bias[k] : T(0));
    if (e.act == Activation::relu)
      v = v > T(0) ? v : T(0) * v;
    else if (e.act == Activation::prelu)
      v = v > T(0) ? v : e.slope[e.slope_count == 1 ? 0 : k] * v;
    y[(static_cast<index_t>(n) * G.K + k) * G.by_PQ.divisor() + pq] = v;
  }
};

// Backward-data A: w^T per group, row c, depth (k, r, s).
template <typename T>
struct WeightColumns {
  Geometry G;
  const T* w;
  bool k_fast = true;
  __device__ T operator()(int g, int c, int k) const {
    int kk;
    const int rs = G.by_RS.divmod(k, kk);
    return w[((static_cast<index_t>(g) * G.Kg + kk) * G.Cg + c) * G.RS + rs];
  }
};

// Backward-data B: depth (k, r, s), column (n, h, w): dy at the output (p, q) whose tap (r, s) reads
// x[h, w], or 0 when the tap falls between strides or outside y.
template <typename T>
struct TransposedIm2col {
  Geometry G;
  const T* dy;
  bool k_fast = false;
  __device__ T operator()(int g, int k, int col) const {
    int kk, r, n, h;
    const int s = G.by_S.divmod(G.by_RS.divmod(k, kk), r), w = G.by_W.divmod(G.by_HW.divmod(col, n), h);
    const int ph = h + G.pad_h - r * G.dil_h, qw = w + G.pad_w - s * G.dil_w;
    if (ph < 0 || qw < 0) return T(0);
    int p, q;
    if (G.by_stride_h.divmod(ph, p) != 0 || G.by_stride_w.divmod(qw, q) != 0) return T(0);
    if (p >= G.P || q >= G.Q) return T(0);
    return dy[((static_cast<index_t>(n) * G.K + g * G.Kg + kk) * G.P + p) * G.Q + q];
  }
};

template <typename T>
struct DataStore {
  Geometry G;
  T* dx;
  template <typename V>
  __device__ void operator()(int g, int c, int col, V acc) const {
    int n;
    const int hw = G.by_HW.divmod(col, n);
    dx[(static_cast<index_t>(n) * G.C + g * G.Cg + c) * G.by_HW.divisor() + hw] = T(acc);
  }
};

// Backward-weight A: dy as (Kg, N*P*Q) per group, depth (n, p, q).
template <typename T>
struct GradRows {
  Geometry G;
  const T* dy;
  bool k_fast = true;
  __device__ T operator()(int g, int m, int j) const {
    int n;
    const int pq = G.by_PQ.divmod(j, n);
    return dy[(static_cast<index_t>(n) * G.K + g * G.Kg + m) * G.by_PQ.divisor() + pq];
  }
};

// Backward-weight B: im2col(x)^T, depth (n, p, q), column (c, r, s).
template <typename T>
struct Im2colTransposed {
  Im2col<T> cols;
  bool k_fast = true;
  __device__ T operator()(int g, int j, int col) const { return cols(g, col, j); }
};

template <typename T>
struct WeightStore {
  T* dw;
  int Kg, cols;
  template <typename V>
  __device__ void operator()(int g, int m, int col, V acc) const {
    dw[(static_cast<index_t>(g) * Kg + m) * cols + col] = T(acc);
  }
};

// db[k] = sum over n, p, q of dy: one block per channel, a fixed-tree sum in Acc<T>.
template <typename T>
__global__ void bias_grad_kernel(Geometry G, const T* dy, T* db) {
  const int k = blockIdx.x, PQ = G.P * G.Q;
  cu::Acc<T> sum = 0;
  for (int n = 0; n < G.N; ++n) {
    const T* plane = dy + (static_cast<index_t>(n) * G.K + k) * PQ;
    for (int pq = threadIdx.x; pq < PQ; pq += blockDim.x) sum += plane[pq];
  }
  sum = cu::block_sum(sum);
  if (threadIdx.x == 0) db[k] = static_cast<T>(sum);
}

}  // namespace

template <typename T>
void conv2d_forward_cuda(const Conv2dParams& p, const T* x, const T* w, const ConvEpilogue<T>& e, T* y,
                         MathMode math, Stream stream) {
  const Geometry G = geometry(p, "conv2d_forward_cuda");
  if (e.act == Activation::prelu && e.slope_count != 1 && e.slope_count != p.K)
    throw std::invalid_argument("conv2d_forward_cuda: PReLU needs 1 or K = " + std::to_string(p.K) +
                                " slopes, got " + std::to_string(e.slope_count));
  cu::tile::tile_gemm<T>(G.Kg, index_t(G.N) * G.P * G.Q, index_t(G.Cg) * G.RS, p.groups,
                         WeightRows<T>{w, G.Kg, G.Cg * G.RS}, Im2col<T>{G, x}, ForwardStore<T>{G, y, e}, math,
                         stream, "conv2d_forward_cuda");
}

template <typename T>
void conv2d_backward_data_cuda(const Conv2dParams& p, const T* dy, const T* w, T* dx, MathMode math,
                               Stream stream) {
  const Geometry G = geometry(p, "conv2d_backward_data_cuda");
  cu::tile::tile_gemm<T>(G.Cg, index_t(G.N) * G.H * G.W, index_t(G.Kg) * G.RS, p.groups, WeightColumns<T>{G, w},
                         TransposedIm2col<T>{G, dy}, DataStore<T>{G, dx}, math, stream,
                         "conv2d_backward_data_cuda");
}

template <typename T>
void conv2d_backward_weight_cuda(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db, MathMode math,
                                 Stream stream) {
  const Geometry G = geometry(p, "conv2d_backward_weight_cuda");
  cu::tile::tile_gemm<T>(G.Kg, index_t(G.Cg) * G.RS, index_t(G.N) * G.P * G.Q, p.groups, GradRows<T>{G, dy},
                         Im2colTransposed<T>{Im2col<T>{G, x}}, WeightStore<T>{dw, G.Kg, G.Cg * G.RS}, math,
                         stream, "conv2d_backward_weight_cuda");
  if (db && G.K > 0) {
    bias_grad_kernel<<<G.K, cu::kThreads, 0, stream>>>(G, dy, db);
    cu::check_launch("conv2d_backward_weight_cuda (db)");
  }
}

#define NN_CONV2D_CUDA_INSTANTIATE(T)                                                                     \
  template void conv2d_forward_cuda<T>(const Conv2dParams&, const T*, const T*, const ConvEpilogue<T>&, T*, \
                                       MathMode, Stream);                                                 \
  template void conv2d_backward_data_cuda<T>(const Conv2dParams&, const T*, const T*, T*, MathMode, Stream); \
  template void conv2d_backward_weight_cuda<T>(const Conv2dParams&, const T*, const T*, T*, T*, MathMode,   \
                                               Stream);
NN_CONV2D_CUDA_INSTANTIATE(float)
NN_CONV2D_CUDA_INSTANTIATE(double)
#undef NN_CONV2D_CUDA_INSTANTIATE

}  // namespace kern
