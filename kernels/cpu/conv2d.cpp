// Fast conv2d: im2col (+ col2im for dx) around the blocked gemm, per group.
//
// Samples are processed in chunks. A chunk's columns sit side by side, col = (C*R*S, chunk*P*Q), so one
// GEMM covers the chunk: late layers with tiny P*Q (5x5 = 25 columns would waste 22% of a 16-wide tile
// and pay full packing per sample) get wide GEMMs, while early layers with large P*Q use chunk 1 and the
// workspace stays about one sample's columns. With chunk > 1, outputs (and dy) are staged in a
// (K, chunk*P*Q) buffer because NCHW puts each sample's K planes apart.
// 1x1 stride-1 unpadded convs need no im2col: x itself is the (C, H*W) column matrix, used in place
// when the chunk is one sample.
//
// Parallelism: the GEMMs thread themselves; the memory-bound loops around them (im2col, col2im,
// staging, bias) use OpenMP over rows / planes.
#include "kernels/cpu/conv2d.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/gemm.h"

namespace kern {
namespace {

// Aim for GEMMs at least this many columns wide...
constexpr index_t kTargetCols = 512;
// ...but do not grow the chunk's scratch past this many elements (one sample may still exceed it).
constexpr index_t kChunkBudget = index_t(1) << 22;

void check_params(const Conv2dParams& p, const char* op) {
  if (p.groups < 1 || p.C % p.groups != 0 || p.K % p.groups != 0 || p.P() < 1 || p.Q() < 1 ||
      p.stride_h < 1 || p.stride_w < 1 || p.dil_h < 1 || p.dil_w < 1)
    throw std::invalid_argument(std::string(op) + ": invalid Conv2dParams (C=" + std::to_string(p.C) +
                                " K=" + std::to_string(p.K) + " groups=" + std::to_string(p.groups) +
                                " P=" + std::to_string(p.P()) + " Q=" + std::to_string(p.Q()) + ")");
}

struct Plan {
  index_t PQ, CRS, chunk;
  bool pointwise;  // 1x1, stride 1, no padding: x is already the column matrix
  index_t col_elems, stage_elems;

  explicit Plan(const Conv2dParams& p) {
    PQ = p.P() * p.Q();
    CRS = p.C * p.R * p.S;
    pointwise = p.R == 1 && p.S == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 && p.pad_w == 0;
    chunk = std::min<index_t>(p.N, (kTargetCols + PQ - 1) / PQ);
    while (chunk > 1 && (CRS + p.K) * chunk * PQ > kChunkBudget) --chunk;
    chunk = std::max<index_t>(chunk, 1);
    col_elems = (pointwise && chunk == 1) ? 0 : CRS * chunk * PQ;
    stage_elems = chunk > 1 ? p.K * chunk * PQ : 0;
  }
  index_t workspace() const { return col_elems + stage_elems; }
};

// Either the caller's scratch or our own.
template <typename T>
struct Scratch {
  std::vector<T> owned;
  T* ptr;
  Scratch(T* given, index_t elems) : ptr(given) {
    if (!ptr && elems > 0) {
      owned.resize(std::size_t(elems));
      ptr = owned.data();
    }
  }
};

// col[(c*R + r)*S + s][i*PQ + p*Q + q] = x[n0 + i, c, h, w] (0 in the padding), i < nb.
template <typename T>
void im2col(const Conv2dParams& p, const T* x, index_t n0, index_t nb, T* col) {
  const index_t P = p.P(), Q = p.Q(), PQ = P * Q, HW = p.H * p.W, ncols = nb * PQ;
  const index_t rows = p.C * p.R * p.S;
#pragma omp parallel for schedule(static) if (rows * ncols >= kParallelMin)
  for (index_t row = 0; row < rows; ++row) {
    const index_t c = row / (p.R * p.S), r = (row / p.S) % p.R, s = row % p.S;
    const index_t w_off = s * p.dil_w - p.pad_w;
    // q range with 0 <= q*stride_w + w_off < W
    index_t q_lo = 0;
    while (q_lo < Q && q_lo * p.stride_w + w_off < 0) ++q_lo;
    index_t q_hi = Q;
    while (q_hi > q_lo && (q_hi - 1) * p.stride_w + w_off >= p.W) --q_hi;
    for (index_t i = 0; i < nb; ++i) {
      const T* xc = x + ((n0 + i) * p.C + c) * HW;
      T* dst = col + row * ncols + i * PQ;
      for (index_t pp = 0; pp < P; ++pp, dst += Q) {
        const index_t h = pp * p.stride_h - p.pad_h + r * p.dil_h;
        if (h < 0 || h >= p.H) {
          std::fill(dst, dst + Q, T(0));
          continue;
        }
        const T* xr = xc + h * p.W + w_off;
        std::fill(dst, dst + q_lo, T(0));
        if (p.stride_w == 1)
          std::copy(xr + q_lo, xr + q_hi, dst + q_lo);
        else
          for (index_t q = q_lo; q < q_hi; ++q) dst[q] = xr[q * p.stride_w];
        std::fill(dst + q_hi, dst + Q, T(0));
      }
    }
  }
}

// dx[n0 + i, c] = sum over the col rows of channel c scattered back (the adjoint of im2col). Assigns.
template <typename T>
void col2im(const Conv2dParams& p, const T* col, index_t n0, index_t nb, T* dx) {
  const index_t P = p.P(), Q = p.Q(), PQ = P * Q, HW = p.H * p.W, ncols = nb * PQ;
  const index_t planes = nb * p.C;
#pragma omp parallel for schedule(static) if (planes * HW * p.R * p.S >= kParallelMin)
  for (index_t plane = 0; plane < planes; ++plane) {
    const index_t i = plane / p.C, c = plane % p.C;
    T* xc = dx + ((n0 + i) * p.C + c) * HW;
    std::fill(xc, xc + HW, T(0));
    for (index_t r = 0; r < p.R; ++r)
      for (index_t s = 0; s < p.S; ++s) {
        const index_t w_off = s * p.dil_w - p.pad_w;
        index_t q_lo = 0;
        while (q_lo < Q && q_lo * p.stride_w + w_off < 0) ++q_lo;
        index_t q_hi = Q;
        while (q_hi > q_lo && (q_hi - 1) * p.stride_w + w_off >= p.W) --q_hi;
        const T* src = col + ((c * p.R + r) * p.S + s) * ncols + i * PQ;
        for (index_t pp = 0; pp < P; ++pp, src += Q) {
          const index_t h = pp * p.stride_h - p.pad_h + r * p.dil_h;
          if (h < 0 || h >= p.H) continue;
          T* xr = xc + h * p.W + w_off;
          if (p.stride_w == 1)
            for (index_t q = q_lo; q < q_hi; ++q) xr[q] += src[q];
          else
            for (index_t q = q_lo; q < q_hi; ++q) xr[q * p.stride_w] += src[q];
        }
      }
  }
}

// stage (K, nb*PQ) <-> samples n0..n0+nb of a (N, K, PQ) tensor.
template <typename T>
void gather_samples(const T* t, index_t K, index_t PQ, index_t n0, index_t nb, T* stage) {
#pragma omp parallel for schedule(static) if (K * nb * PQ >= kParallelMin)
  for (index_t k = 0; k < K; ++k)
    for (index_t i = 0; i < nb; ++i) {
      const T* src = t + ((n0 + i) * K + k) * PQ;
      std::copy(src, src + PQ, stage + (k * nb + i) * PQ);
    }
}

// y samples n0.. = stage (+ bias).
template <typename T>
void scatter_samples(const T* stage, const T* bias, index_t K, index_t PQ, index_t n0, index_t nb, T* y) {
#pragma omp parallel for schedule(static) if (K * nb * PQ >= kParallelMin)
  for (index_t k = 0; k < K; ++k)
    for (index_t i = 0; i < nb; ++i) {
      const T* src = stage + (k * nb + i) * PQ;
      T* dst = y + ((n0 + i) * K + k) * PQ;
      if (bias) {
        const T b = bias[k];
        for (index_t j = 0; j < PQ; ++j) dst[j] = src[j] + b;
      } else {
        std::copy(src, src + PQ, dst);
      }
    }
}

template <typename T>
void add_bias(const T* bias, index_t K, index_t PQ, T* y) {
#pragma omp parallel for schedule(static) if (K * PQ >= kParallelMin)
  for (index_t k = 0; k < K; ++k) {
    const T b = bias[k];
    T* row = y + k * PQ;
    for (index_t j = 0; j < PQ; ++j) row[j] += b;
  }
}

// The GEMM operand for samples [n0, n0 + nb): their im2col columns (CRS, nb * PQ), or x itself for a
// single sample of a 1x1 stride-1 conv, whose input already has that layout.
template <typename T>
const T* chunk_columns(const Conv2dParams& p, const Plan& plan, const T* x, index_t n0, index_t nb, T* col) {
  if (plan.pointwise && nb == 1) return x + n0 * p.C * p.H * p.W;
  im2col(p, x, n0, nb, col);
  return col;
}

// dy of samples [n0, n0 + nb) as one (K, nb * PQ) matrix: a view for one sample, staged for several.
template <typename T>
const T* chunk_output_rows(const Conv2dParams& p, const Plan& plan, const T* dy, index_t n0, index_t nb, T* stage) {
  if (nb == 1) return dy + n0 * p.K * plan.PQ;
  gather_samples(dy, p.K, plan.PQ, n0, nb, stage);
  return stage;
}

}  // namespace

index_t conv2d_workspace_size(const Conv2dParams& p) { return Plan(p).workspace(); }

template <typename T>
void conv2d_forward_cpu(const Conv2dParams& p, const T* x, const T* w, const T* bias, T* y, T* workspace) {
  check_params(p, "conv2d_forward");
  const Plan plan(p);
  Scratch<T> ws(workspace, plan.workspace());
  T* col = ws.ptr;
  T* stage = ws.ptr + plan.col_elems;
  const index_t G = p.groups, Kg = p.K / G, CgRS = plan.CRS / G;

  for (index_t n0 = 0; n0 < p.N; n0 += plan.chunk) {
    const index_t nb = std::min(plan.chunk, p.N - n0), ncols = nb * plan.PQ;
    const T* cols = chunk_columns(p, plan, x, n0, nb, col);
    T* out = nb == 1 ? y + n0 * p.K * plan.PQ : stage;
    for (index_t g = 0; g < G; ++g) {
      GemmParams gp;
      gp.M = Kg, gp.N = ncols, gp.K = CgRS;
      gemm_cpu<T>(gp, T(1), w + g * Kg * CgRS, cols + g * CgRS * ncols, T(0), out + g * Kg * ncols);
    }
    const T* b = p.has_bias ? bias : nullptr;
    if (nb > 1)
      scatter_samples(stage, b, p.K, plan.PQ, n0, nb, y);
    else if (b)
      add_bias(b, p.K, plan.PQ, out);
  }
}

template <typename T>
void conv2d_backward_data_cpu(const Conv2dParams& p, const T* dy, const T* w, T* dx, T* workspace) {
  check_params(p, "conv2d_backward_data");
  const Plan plan(p);
  Scratch<T> ws(workspace, plan.workspace());
  T* col = ws.ptr;
  T* stage = ws.ptr + plan.col_elems;
  const index_t G = p.groups, Kg = p.K / G, CgRS = plan.CRS / G;

  for (index_t n0 = 0; n0 < p.N; n0 += plan.chunk) {
    const index_t nb = std::min(plan.chunk, p.N - n0), ncols = nb * plan.PQ;
    const T* dys = chunk_output_rows(p, plan, dy, n0, nb, stage);
    const bool direct = plan.pointwise && nb == 1;
    T* dcol = direct ? dx + n0 * p.C * p.H * p.W : col;
    for (index_t g = 0; g < G; ++g) {
      GemmParams gp;
      gp.M = CgRS, gp.N = ncols, gp.K = Kg;
      gp.trans_a = true;  // w_g is (Kg, CgRS)
      gemm_cpu<T>(gp, T(1), w + g * Kg * CgRS, dys + g * Kg * ncols, T(0), dcol + g * CgRS * ncols);
    }
    if (!direct) col2im(p, col, n0, nb, dx);
  }
}

template <typename T>
void conv2d_backward_weight_cpu(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db, T* workspace) {
  check_params(p, "conv2d_backward_weight");
  const Plan plan(p);
  Scratch<T> ws(workspace, plan.workspace());
  T* col = ws.ptr;
  T* stage = ws.ptr + plan.col_elems;
  const index_t G = p.groups, Kg = p.K / G, CgRS = plan.CRS / G;

  if (p.N <= 0) std::fill(dw, dw + p.K * CgRS, T(0));
  for (index_t n0 = 0; n0 < p.N; n0 += plan.chunk) {
    const index_t nb = std::min(plan.chunk, p.N - n0), ncols = nb * plan.PQ;
    const T* cols = chunk_columns(p, plan, x, n0, nb, col);
    const T* dys = chunk_output_rows(p, plan, dy, n0, nb, stage);
    for (index_t g = 0; g < G; ++g) {
      GemmParams gp;
      gp.M = Kg, gp.N = CgRS, gp.K = ncols;
      gp.trans_b = true;  // cols_g is (CgRS, ncols)
      gemm_cpu<T>(gp, T(1), dys + g * Kg * ncols, cols + g * CgRS * ncols, n0 == 0 ? T(0) : T(1),
              dw + g * Kg * CgRS);
    }
  }

  if (db) {
    const index_t PQ = plan.PQ;
#pragma omp parallel for schedule(static) if (p.N * p.K * PQ >= kParallelMin)
    for (index_t k = 0; k < p.K; ++k) {
      T sum = 0;
      for (index_t n = 0; n < p.N; ++n) {
        const T* row = dy + (n * p.K + k) * PQ;
        for (index_t j = 0; j < PQ; ++j) sum += row[j];
      }
      db[k] = sum;
    }
  }
}

#define NN_CONV2D_INSTANTIATE(T)                                                                     \
  template void conv2d_forward_cpu<T>(const Conv2dParams&, const T*, const T*, const T*, T*, T*);         \
  template void conv2d_backward_data_cpu<T>(const Conv2dParams&, const T*, const T*, T*, T*);             \
  template void conv2d_backward_weight_cpu<T>(const Conv2dParams&, const T*, const T*, T*, T*, T*);
NN_CONV2D_INSTANTIATE(float)
NN_CONV2D_INSTANTIATE(double)
#undef NN_CONV2D_INSTANTIATE

}  // namespace kern
