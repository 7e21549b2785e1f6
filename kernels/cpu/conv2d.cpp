// Fast conv2d. The forward and backward-data first ask conv2d_winograd.h whether Winograd F(4x4, 3x3)
// pays off for the shape (3x3 stride-1 layers with enough tiles); everything else runs here, per group,
// around the blocked gemm: output channels are the GEMM's rows, pixels its columns and C*R*S its depth.
// No direction writes an im2col matrix for its input operand: Im2colPanels packs the forward's B panels
// straight from x, Im2colPanelsTransposed the backward-weight's, and the forward's epilogue (bias, BN as
// scale / shift, PReLU / ReLU) runs on each block of y while it is still in cache. Backward-data
// multiplies w^T by dy into a column matrix and folds it back with col2im.
//
// Samples are processed in chunks. A chunk's columns sit side by side (chunk*P*Q of them), so one GEMM
// covers the chunk: late layers with tiny P*Q (5x5 = 25 columns would waste 22% of a 16-wide tile and pay
// full packing per sample) get wide GEMMs, while early layers with large P*Q use chunk 1, whose GEMM reads
// and writes the sample's planes in place. With chunk > 1, outputs (and dy) are staged in a
// (K, chunk*P*Q) buffer because NCHW puts each sample's K planes apart.
// 1x1 stride-1 unpadded convs need no im2col at all: x itself is the (C, H*W) column matrix. Stride-1
// convs with narrow output rows take the padded forward (PaddedPlan).
//
// Layout: NCHW, as every op of libnn and PyTorch's state and references. With channels as rows and pixels
// as columns a sample's output plane is the GEMM's C block as it is (no transpose on the way out) and an
// im2col panel is a run of one input row, so packing reads x sequentially; bench/README.md has the rates
// per layer. A channel-blocked layout (NCHW8c, oneDNN's) was not tried: it would let a direct convolution
// skip the packing (about a sixth of the batch-1 forward), at the price of a layout conversion around
// every op that is not a conv.
//
// Parallelism: the GEMMs thread themselves, or, with several one-sample GEMMs, threads take whole samples;
// the memory-bound loops around them (col2im, staging) use OpenMP over rows / planes.
#include "kernels/cpu/conv2d.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/conv2d_winograd.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/simd.h"

namespace kern {
namespace {

// Aim for GEMMs at least this many columns wide...
constexpr index_t kTargetCols = 512;
// ...but do not grow the chunk's scratch past this many elements (one sample may still exceed it).
constexpr index_t kChunkBudget = index_t(1) << 22;
// Samples are shared out among threads when each is at least this much work.
constexpr double kMinSampleFlops = 1e6;
// The padded forward (PaddedPlan) for output rows narrower than this, computing at most this many times
// the useful columns.
constexpr index_t kMaxPaddedQ = 32;
constexpr double kMaxPaddedWaste = 1.2;
// Winograd forwards with this many tiles keep no prepared weights: at batch 32 transforming them per call
// cost 3-9 % of a frozen ResNet34 / IR-50 forward (compare_models --unfrozen), and keeping them took 4x
// their memory (+0.5 / +1.3 GB), while at batch 1 (16-196 tiles) preparing them made the forward 1.2-1.9x
// faster.
constexpr index_t kMaxTilesPrepared = 256;
// ShiftedPlan's backward-weight for planes of at least this many (padded) output pixels.
constexpr index_t kMinShiftedCols = 512;

template <typename T>
void check_epilogue(const Conv2dParams& p, const ConvEpilogue<T>& e) {
  if (e.act == Activation::prelu && e.slope_count != 1 && e.slope_count != p.K)
    throw std::invalid_argument("conv2d_forward: PReLU needs 1 or K = " + std::to_string(p.K) + " slopes, got " +
                                std::to_string(e.slope_count));
}

void check_params(const Conv2dParams& p, const char* op) {
  if (p.groups < 1 || p.C % p.groups != 0 || p.K % p.groups != 0 || p.P() < 1 || p.Q() < 1 ||
      p.stride_h < 1 || p.stride_w < 1 || p.dil_h < 1 || p.dil_w < 1)
    throw std::invalid_argument(std::string(op) + ": invalid Conv2dParams (C=" + std::to_string(p.C) +
                                " K=" + std::to_string(p.K) + " groups=" + std::to_string(p.groups) +
                                " P=" + std::to_string(p.P()) + " Q=" + std::to_string(p.Q()) + ")");
}

// 1x1, stride 1, no padding: x is already the column matrix.
bool is_pointwise(const Conv2dParams& p) {
  return p.R == 1 && p.S == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 && p.pad_w == 0;
}

// The forward's product for one group, as gemm_pack_a_cpu sees its weights: w_g (K/G, C/G*R*S).
GemmParams group_gemm(const Conv2dParams& p) {
  GemmParams gp;
  gp.M = p.K / p.groups, gp.K = p.C / p.groups * p.R * p.S;
  return gp;
}

struct Plan {
  index_t PQ, CRS, chunk;
  bool pointwise;  // is_pointwise(p)
  index_t col_elems, stage_elems;

  explicit Plan(const Conv2dParams& p) {
    PQ = p.P() * p.Q();
    CRS = p.C * p.R * p.S;
    pointwise = is_pointwise(p);
    chunk = std::min<index_t>(p.N, (kTargetCols + PQ - 1) / PQ);
    while (chunk > 1 && (CRS + p.K) * chunk * PQ > kChunkBudget) --chunk;
    chunk = std::max<index_t>(chunk, 1);
    col_elems = (pointwise && chunk == 1) ? 0 : CRS * chunk * PQ;
    stage_elems = chunk > 1 ? p.K * chunk * PQ : 0;
  }
  index_t workspace() const { return col_elems + stage_elems; }
};

// The forward of a stride-1 conv with narrow output rows (IR-50's 14x14 and 28x28 layers at batch 1) on a
// zero-padded copy of x: with Wp = W + 2 * pad_w, the im2col row of kernel tap (c, r, s) over all P output
// rows, each computed Wp wide, is one contiguous run of the padded plane, so packing is plain copies where
// Im2colPanels would cut runs of Q (14) at every row end and panel edge and clamp each one. The Wp - Q
// extra columns per row are computed and dropped, so this pays only where they are few (kMaxPaddedWaste).
struct PaddedPlan {
  index_t Hp, Wp, cols;  // padded input plane; GEMM columns per sample: P rows of Wp
  index_t chunk, xpad_elems, stage_elems;

  explicit PaddedPlan(const Conv2dParams& p) {
    Hp = p.H + 2 * p.pad_h, Wp = p.W + 2 * p.pad_w, cols = p.P() * Wp;
    const index_t per_sample = p.C * Hp * Wp + p.K * cols;
    chunk = std::min(p.N, (kTargetCols + cols - 1) / cols);
    chunk = std::max<index_t>(1, std::min(chunk, kChunkBudget / per_sample));
    // The last tap's run of the last plane reads (S - 1) * dil_w past the padded planes.
    xpad_elems = chunk * p.C * Hp * Wp + (p.S - 1) * p.dil_w;
    stage_elems = p.K * chunk * cols;
  }
  index_t workspace() const { return xpad_elems + stage_elems; }
};

// Computing each output row as wide as the padded input row (PaddedPlan, ShiftedPlan) wastes little.
bool few_padding_columns(const Conv2dParams& p) { return double(p.W + 2 * p.pad_w) <= kMaxPaddedWaste * double(p.Q()); }

bool padded_pays_off(const Conv2dParams& p) {
  return p.stride_h == 1 && p.stride_w == 1 && !is_pointwise(p) && p.Q() < kMaxPaddedQ && few_padding_columns(p);
}

// The backward-weight of a stride-1 conv from padded copies of one sample at a time. With xpad's planes
// Hp x Wp and dy's rows stretched to Wp columns (zeros past Q), tap (r, s) reads xpad at a fixed offset
// r * dil_h * Wp + s * dil_w from where output pixel j reads it, so dw[:, :, r, s] = dypad * xpad^T
// shifted by that offset: gemm_shifted_cpu packs dy and x once for all R * S taps, where the im2col path
// packs R * S shifted copies of x, each used only K times. acc holds the taps' (K, C) blocks.
struct ShiftedPlan {
  index_t Hp, Wp, cols, ldx;  // padded plane; dypad columns (P rows of Wp); xpad's channel stride
  index_t xpad_elems, dypad_elems, acc_elems;

  explicit ShiftedPlan(const Conv2dParams& p) {
    Hp = p.H + 2 * p.pad_h, Wp = p.W + 2 * p.pad_w, cols = p.P() * Wp;
    // Tap (R-1, S-1) of the last padded column reads (S - 1) * dil_w past the plane.
    ldx = Hp * Wp + (p.S - 1) * p.dil_w;
    xpad_elems = p.C * ldx, dypad_elems = p.K * cols, acc_elems = p.R * p.S * p.K * p.C;
  }
  index_t workspace() const { return xpad_elems + dypad_elems + acc_elems; }
};

// Enough input channels to fill the micro-kernel's columns, few padding columns, and a plane deep enough
// that the taps' blocks of acc (as large as dw) are revisited after long products: on 12x12 planes
// (168 columns per sample) re-reading acc per sample made 768 -> 512 channels 1.6x slower than im2col,
// while on 54x54 - 110x110 planes this path ran 1.0-1.2x faster (bench_conv2d, same run).
bool shifted_pays_off(const Conv2dParams& p) {
  return p.stride_h == 1 && p.stride_w == 1 && p.groups == 1 && !is_pointwise(p) && p.C >= 16 &&
         few_padding_columns(p) && p.P() * (p.W + 2 * p.pad_w) >= kMinShiftedCols;
}

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

// The output columns q of one output row that read inside x's width at kernel column offset w_off.
inline void valid_columns(const Conv2dParams& p, index_t w_off, index_t& q_lo, index_t& q_hi) {
  const index_t Q = p.Q();
  q_lo = w_off >= 0 ? 0 : std::min(Q, (-w_off + p.stride_w - 1) / p.stride_w);
  q_hi = p.W - 1 - w_off < 0 ? 0 : std::min(Q, (p.W - 1 - w_off) / p.stride_w + 1);
  q_hi = std::max(q_hi, q_lo);
}

// op(B) = the im2col columns of group g of samples [n0, n0 + nb) (row (c*R + r)*S + s, column
// i*P*Q + p*Q + q), packed straight from x. The column matrix itself is never stored: for a 64-channel
// 3x3 layer at 54x54 it is 6.7 MB per sample, written once and read back from far outside L2.
template <typename T>
class Im2colPanels final : public GemmBSource<T> {
 public:
  Im2colPanels(const Conv2dParams& p, const T* x, index_t n0, index_t c0) : p_(p), x_(x), n0_(n0), c0_(c0) {}

  void pack(index_t k0, index_t j0, index_t kc, index_t nc, int nr, T* dst) const override {
    // The column range cut where an output row or a panel ends: within a run, columns map to
    // consecutive q of one output row and to consecutive lanes of one panel.
    struct Run {
      index_t dst, x, pp, q, len;  // panel * kc * nr + lane; sample offset in x; output row; first q
    };
    thread_local std::vector<Run> runs;
    runs.clear();
    const index_t Q = p_.Q(), PQ = p_.P() * Q, CHW = p_.C * p_.H * p_.W;
    index_t i = j0 / PQ, pp = j0 % PQ / Q, q = j0 % Q;
    for (index_t j = 0; j < nc;) {
      const index_t len = std::min({Q - q, nc - j, nr - j % nr});
      runs.push_back({j / nr * kc * nr + j % nr, (n0_ + i) * CHW, pp, q, len});
      j += len;
      if ((q += len) == Q) {
        q = 0;
        if (++pp == p_.P()) pp = 0, ++i;
      }
    }
    const index_t RS = p_.R * p_.S, HW = p_.H * p_.W, tail = nc % nr;
    for (index_t k = 0; k < kc; ++k) {
      const index_t row = k0 + k, c = c0_ + row / RS, r = row / p_.S % p_.R, s = row % p_.S;
      const index_t h_off = r * p_.dil_h - p_.pad_h, w_off = s * p_.dil_w - p_.pad_w;
      index_t q_lo, q_hi;
      valid_columns(p_, w_off, q_lo, q_hi);
      const T* xc = x_ + c * HW + w_off;
      T* dk = dst + k * nr;
      for (const Run& run : runs) {
        T* d = dk + run.dst;
        const index_t h = run.pp * p_.stride_h + h_off;
        const index_t a = std::clamp(q_lo, run.q, run.q + run.len), b = std::clamp(q_hi, a, run.q + run.len);
        if (h < 0 || h >= p_.H) {
          std::fill(d, d + run.len, T(0));
          continue;
        }
        const T* src = xc + run.x + h * p_.W;
        std::fill(d, d + (a - run.q), T(0));
        if (p_.stride_w == 1)
          copy_short(src + a, d + (a - run.q), b - a);
        else
          for (index_t qq = a; qq < b; ++qq) d[qq - run.q] = src[qq * p_.stride_w];
        std::fill(d + (b - run.q), d + run.len, T(0));
      }
      if (tail) std::fill(dk + (nc / nr) * kc * nr + tail, dk + (nc / nr) * kc * nr + nr, T(0));
    }
  }

 private:
  const Conv2dParams& p_;
  const T* x_;
  index_t n0_, c0_;
};

// op(B) = the transposed im2col columns (pixels down, rows (c*R + r)*S + s across): the backward-weight
// GEMM's operand. Each panel's rows are generated contiguously by Im2colPanels into a small buffer that
// stays in L1 / L2, then transposed into place by DenseB's 8 x 8 register transposes.
template <typename T>
class Im2colPanelsTransposed final : public GemmBSource<T> {
 public:
  Im2colPanelsTransposed(const Conv2dParams& p, const T* x, index_t n0, index_t c0) : rows_(p, x, n0, c0) {}

  void pack(index_t k0, index_t j0, index_t kc, index_t nc, int nr, T* dst) const override {
    thread_local std::vector<T> buffer;
    const index_t ld = (kc + nr - 1) / nr * nr;
    buffer.resize(std::size_t(nr * ld));
    for (index_t jp = 0; jp * nr < nc; ++jp) {
      const index_t n = std::min<index_t>(nr, nc - jp * nr);
      // One Im2colPanels panel as wide as the buffer is plain rows: columns k0 .. k0 + kc of rows
      // j0 + jp*nr .. + n, at buffer + j * ld.
      rows_.pack(j0 + jp * nr, k0, n, kc, int(ld), buffer.data());
      DenseB<T>(buffer.data(), ld, true).pack(0, 0, kc, n, nr, dst + jp * kc * nr);
    }
  }

 private:
  Im2colPanels<T> rows_;
};

// v[0 .. n) of output channel k = act(scale[k] * v + bias[k]).
template <typename T>
void finish_outputs(const ConvEpilogue<T>& e, index_t k, T* v, index_t n) {
  const T m = e.scale ? e.scale[k] : T(1), b = e.bias ? e.bias[k] : T(0);
  switch (e.act) {
    case Activation::none:
      if (e.scale || e.bias)
        for (index_t j = 0; j < n; ++j) v[j] = m * v[j] + b;
      break;
    case Activation::relu:
      affine_prelu(v, v, n, m, b, T(0));
      break;
    case Activation::prelu:
      affine_prelu(v, v, n, m, b, e.slope[e.slope_count == 1 ? 0 : k]);
      break;
  }
}

// op(B) for PaddedPlan: row (c*R + r)*S + s, column i*cols + pp*Wp + q of group c0's samples in xpad.
template <typename T>
class PaddedPanels final : public GemmBSource<T> {
 public:
  PaddedPanels(const Conv2dParams& p, const PaddedPlan& plan, const T* xpad, index_t c0)
      : p_(p), plan_(plan), xpad_(xpad), c0_(c0) {}

  void pack(index_t k0, index_t j0, index_t kc, index_t nc, int nr, T* dst) const override {
    // Where each panel's columns start in a sample's padded planes; a panel that straddles two samples
    // (rare: only at sample boundaries) is copied column by column.
    struct Panel {
      index_t src, j, n;  // offset of its first column in xpad (less the tap's), that column, its width
      bool split;
    };
    thread_local std::vector<Panel> panels;
    panels.clear();
    const index_t plane = plan_.Hp * plan_.Wp, sample = p_.C * plane;
    for (index_t j = j0; j < j0 + nc; j += nr) {
      const index_t n = std::min<index_t>(nr, j0 + nc - j), i = j / plan_.cols, within = j % plan_.cols;
      panels.push_back({i * sample + within, j, n, within + n > plan_.cols});
    }
    const index_t RS = p_.R * p_.S;
    for (index_t k = 0; k < kc; ++k) {
      const index_t row = k0 + k, c = c0_ + row / RS, r = row / p_.S % p_.R, s = row % p_.S;
      const T* src = xpad_ + c * plane + r * p_.dil_h * plan_.Wp + s * p_.dil_w;
      T* d = dst + k * nr;
      for (const Panel& panel : panels) {
        if (!panel.split) {
          copy_short(src + panel.src, d, panel.n);
        } else {
          for (index_t j = panel.j; j < panel.j + panel.n; ++j)
            d[j - panel.j] = src[j / plan_.cols * sample + j % plan_.cols];
        }
        std::fill(d + panel.n, d + nr, T(0));
        d += kc * nr;
      }
    }
  }

 private:
  const Conv2dParams& p_;
  const PaddedPlan& plan_;
  const T* xpad_;
  index_t c0_;
};

// Rows of the GEMM's C are output channels k0, k0 + 1, ...
template <typename T>
class ChannelEpilogue final : public GemmEpilogue<T> {
 public:
  ChannelEpilogue(const ConvEpilogue<T>& e, index_t k0) : e_(e), k0_(k0) {}
  void apply(index_t i0, index_t i1, index_t j0, index_t j1, T* C, index_t ldc) const override {
    for (index_t i = i0; i < i1; ++i) finish_outputs(e_, k0_ + i, C + i * ldc + j0, j1 - j0);
  }

 private:
  const ConvEpilogue<T>& e_;
  index_t k0_;
};

// One p.H x p.W plane at in, zero-padded by p.pad_h / p.pad_w on each side, to out, whose ld >=
// (H + 2 pad_h) * (W + 2 pad_w) elements past the padded plane are zeroed too.
template <typename T>
void pad_plane(const Conv2dParams& p, const T* in, index_t ld, T* out) {
  const index_t Wp = p.W + 2 * p.pad_w;
  std::fill(out, out + p.pad_h * Wp, T(0));
  for (index_t h = 0; h < p.H; ++h) {
    T* row = out + (p.pad_h + h) * Wp;
    std::fill(row, row + p.pad_w, T(0));
    std::copy(in + h * p.W, in + (h + 1) * p.W, row + p.pad_w);
    std::fill(row + p.pad_w + p.W, row + Wp, T(0));
  }
  std::fill(out + (p.pad_h + p.H) * Wp, out + ld, T(0));
}

// planes such planes, at src and at dst with a stride of ld.
template <typename T>
void pad_planes(const Conv2dParams& p, const T* src, index_t planes, index_t ld, T* dst) {
  const index_t HW = p.H * p.W;
#pragma omp parallel for schedule(static) if (planes * ld >= kParallelMin)
  for (index_t i = 0; i < planes; ++i) pad_plane(p, src + i * HW, ld, dst + i * ld);
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
        index_t q_lo, q_hi;
        valid_columns(p, w_off, q_lo, q_hi);
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

// y samples n0.. = epilogue(stage).
template <typename T>
void scatter_samples(const T* stage, const ConvEpilogue<T>& e, index_t K, index_t PQ, index_t n0, index_t nb, T* y) {
#pragma omp parallel for schedule(static) if (K * nb * PQ >= kParallelMin)
  for (index_t k = 0; k < K; ++k)
    for (index_t i = 0; i < nb; ++i) {
      const T* src = stage + (k * nb + i) * PQ;
      T* dst = y + ((n0 + i) * K + k) * PQ;
      std::copy(src, src + PQ, dst);
      finish_outputs(e, k, dst, PQ);
    }
}

// dy of samples [n0, n0 + nb) as one (K, nb * PQ) matrix: a view for one sample, staged for several.
template <typename T>
const T* chunk_output_rows(const Conv2dParams& p, const Plan& plan, const T* dy, index_t n0, index_t nb, T* stage) {
  if (nb == 1) return dy + n0 * p.K * plan.PQ;
  gather_samples(dy, p.K, plan.PQ, n0, nb, stage);
  return stage;
}

}  // namespace

index_t conv2d_workspace_size(const Conv2dParams& p) {
  const bool winograd = winograd_pays_off(p, ConvPass::forward) || winograd_pays_off(p, ConvPass::backward_data) ||
                        winograd_pays_off(p, ConvPass::backward_weight);
  return std::max({Plan(p).workspace(), winograd ? conv2d_winograd_workspace_size(p) : 0,
                   shifted_pays_off(p) ? ShiftedPlan(p).workspace() : 0, conv2d_forward_workspace_size(p)});
}
index_t conv2d_forward_workspace_size(const Conv2dParams& p) {
  if (winograd_pays_off(p, ConvPass::forward)) return conv2d_winograd_workspace_size(p);
  const index_t gemm = padded_pays_off(p) ? PaddedPlan(p).workspace() : Plan(p).stage_elems;
  return winograd_pays_off(p, ConvPass::forward, true) ? std::max(gemm, conv2d_winograd_workspace_size(p)) : gemm;
}

ConvWeightLayout conv2d_forward_weight_layout(const Conv2dParams& p) {
  if (!winograd_pays_off(p, ConvPass::forward, true)) return ConvWeightLayout::gemm;
  return conv2d_winograd_tiles(p) >= kMaxTilesPrepared ? ConvWeightLayout::none : ConvWeightLayout::winograd;
}

template <typename T>
index_t conv2d_prepared_weights_size(const Conv2dParams& p, ConvWeightLayout layout) {
  if (layout == ConvWeightLayout::none) return 0;
  if (layout == ConvWeightLayout::winograd) return conv2d_winograd_prepared_size<T>(p);
  return p.groups * gemm_packed_a_size<T>(group_gemm(p));
}

template <typename T>
void conv2d_prepare_weights_cpu(const Conv2dParams& p, ConvWeightLayout layout, const T* w, T* prepared) {
  check_params(p, "conv2d_prepare_weights");
  if (layout == ConvWeightLayout::none) return;
  if (layout == ConvWeightLayout::winograd) return conv2d_winograd_prepare_weights_cpu(p, w, prepared);
  const GemmParams gp = group_gemm(p);
  for (index_t g = 0; g < p.groups; ++g)
    gemm_pack_a_cpu<T>(gp, w + g * gp.M * gp.K, prepared + g * gemm_packed_a_size<T>(gp));
}

template <typename T>
void conv2d_forward_fused_cpu(const Conv2dParams& p, const T* x, const T* w, const ConvEpilogue<T>& e, T* y,
                              T* workspace, const T* prepared) {
  if (winograd_pays_off(p, ConvPass::forward, prepared != nullptr)) {
    check_epilogue(p, e);
    conv2d_forward_winograd_cpu(p, x, w, e, y, workspace, prepared);
  } else {
    conv2d_forward_gemm_cpu(p, x, w, e, y, workspace, prepared);
  }
}

template <typename T>
void conv2d_forward_gemm_cpu(const Conv2dParams& p, const T* x, const T* w, const ConvEpilogue<T>& e, T* y,
                             T* workspace, const T* prepared) {
  check_params(p, "conv2d_forward");
  check_epilogue(p, e);
  // Group g's weights, packed (when prepared) or as they are.
  const index_t packed_size = prepared ? gemm_packed_a_size<T>(group_gemm(p)) : 0;
  auto packed = [&](index_t g) { return prepared ? prepared + g * packed_size : nullptr; };
  if (padded_pays_off(p)) return forward_padded(p, x, w, packed, e, y, workspace);
  const Plan plan(p);
  Scratch<T> ws(workspace, plan.stage_elems);
  T* stage = ws.ptr;
  const index_t G = p.groups, Kg = p.K / G, Cg = p.C / G, CgRS = plan.CRS / G;

  // Samples [n0, n0 + nb): one sample writes y directly and finishes it block by block; a chunk goes
  // through the stage.
  auto run_chunk = [&](index_t n0, index_t nb) {
    const index_t ncols = nb * plan.PQ;
    T* out = nb == 1 ? y + n0 * p.K * plan.PQ : stage;
    for (index_t g = 0; g < G; ++g) {
      GemmParams gp;
      gp.M = Kg, gp.N = ncols, gp.K = CgRS;
      const ChannelEpilogue<T> epilogue(e, g * Kg);
      const GemmEpilogue<T>* finish = nb == 1 ? &epilogue : nullptr;
      if (plan.pointwise && nb == 1) {
        const DenseB<T> cols(x + (n0 * p.C + g * Cg) * plan.PQ, plan.PQ, false);
        gemm_cpu<T>(gp, w + g * Kg * CgRS, cols, T(0), out + g * Kg * ncols, finish, packed(g));
      } else {
        const Im2colPanels<T> cols(p, x, n0, g * Cg);
        gemm_cpu<T>(gp, w + g * Kg * CgRS, cols, T(0), out + g * Kg * ncols, finish, packed(g));
      }
    }
    if (nb > 1) scatter_samples(stage, e, p.K, plan.PQ, n0, nb, y);
  };

  // One sample per GEMM and several samples: threads take whole samples (their GEMMs run single-threaded
  // inside the region) rather than splitting every GEMM's columns, which costs a fork / join per sample
  // and a thread idling at each join. Each sample is computed by the same sequential code either way,
  // so y does not depend on the thread count. Dynamic: on a loaded machine a descheduled thread takes
  // fewer samples.
  if (plan.chunk == 1 && p.N > 1 && p.flops() / double(p.N) >= kMinSampleFlops) {
#pragma omp parallel for schedule(dynamic)
    for (index_t n = 0; n < p.N; ++n) run_chunk(n, 1);
    return;
  }
  for (index_t n0 = 0; n0 < p.N; n0 += plan.chunk) run_chunk(n0, std::min(plan.chunk, p.N - n0));
}

// The forward through PaddedPlan: per chunk, pad the samples, one GEMM per group into the stage, then
// keep the first Q of every Wp columns and finish them into y.
template <typename T, typename Packed>
void forward_padded(const Conv2dParams& p, const T* x, const T* w, const Packed& packed, const ConvEpilogue<T>& e, T* y,
                    T* workspace) {
  const PaddedPlan plan(p);
  Scratch<T> ws(workspace, plan.workspace());
  T* xpad = ws.ptr;
  T* stage = ws.ptr + plan.xpad_elems;
  const index_t G = p.groups, Kg = p.K / G, Cg = p.C / G, CgRS = Cg * p.R * p.S;
  const index_t P = p.P(), Q = p.Q(), HW = p.H * p.W, plane = plan.Hp * plan.Wp;
  std::fill(xpad + plan.xpad_elems - (p.S - 1) * p.dil_w, xpad + plan.xpad_elems, T(0));
  for (index_t n0 = 0; n0 < p.N; n0 += plan.chunk) {
    const index_t nb = std::min(plan.chunk, p.N - n0), ncols = nb * plan.cols;
    pad_planes(p, x + n0 * p.C * HW, nb * p.C, plane, xpad);
    for (index_t g = 0; g < G; ++g) {
      GemmParams gp;
      gp.M = Kg, gp.N = ncols, gp.K = CgRS;
      const PaddedPanels<T> cols(p, plan, xpad, g * Cg);
      gemm_cpu<T>(gp, w + g * Kg * CgRS, cols, T(0), stage + g * Kg * ncols, nullptr, packed(g));
    }
#pragma omp parallel for schedule(static) if (p.K * nb * P * Q >= kParallelMin)
    for (index_t ki = 0; ki < p.K * nb; ++ki) {
      const index_t k = ki / nb, i = ki % nb;
      T* out = y + ((n0 + i) * p.K + k) * P * Q;
      for (index_t pp = 0; pp < P; ++pp) {
        const T* src = stage + k * ncols + i * plan.cols + pp * plan.Wp;
        std::copy(src, src + Q, out + pp * Q);
      }
      finish_outputs(e, k, out, P * Q);
    }
  }
}

template <typename T>
void conv2d_forward_cpu(const Conv2dParams& p, const T* x, const T* w, const T* bias, T* y, T* workspace) {
  ConvEpilogue<T> e;
  e.bias = p.has_bias ? bias : nullptr;
  conv2d_forward_fused_cpu(p, x, w, e, y, workspace);
}

template <typename T>
void conv2d_backward_data_cpu(const Conv2dParams& p, const T* dy, const T* w, T* dx, T* workspace) {
  if (winograd_pays_off(p, ConvPass::backward_data))
    conv2d_backward_data_winograd_cpu(p, dy, w, dx, workspace);
  else
    conv2d_backward_data_gemm_cpu(p, dy, w, dx, workspace);
}

template <typename T>
void conv2d_backward_data_gemm_cpu(const Conv2dParams& p, const T* dy, const T* w, T* dx, T* workspace) {
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

// dw through ShiftedPlan: per sample, pad x and dy, then one shifted GEMM for all taps into acc; dw is
// acc's (tap, k, c) reordered to (k, c, tap).
template <typename T>
void backward_weight_shifted(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* workspace) {
  const ShiftedPlan plan(p);
  Scratch<T> ws(workspace, plan.workspace());
  T* xpad = ws.ptr;
  T* dypad = xpad + plan.xpad_elems;
  T* acc = dypad + plan.dypad_elems;
  const index_t P = p.P(), Q = p.Q(), HW = p.H * p.W, RS = p.R * p.S;
  std::vector<index_t> offsets;
  for (index_t r = 0; r < p.R; ++r)
    for (index_t s = 0; s < p.S; ++s) offsets.push_back(r * p.dil_h * plan.Wp + s * p.dil_w);
  GemmParams gp;
  gp.M = p.K, gp.N = p.C, gp.K = plan.cols;
  const DenseB<T> xt(xpad, plan.ldx, true);  // op(B)(pixel, c) = xpad[c * ldx + pixel]
  if (p.N <= 0) std::fill(acc, acc + plan.acc_elems, T(0));
  for (index_t n = 0; n < p.N; ++n) {
    // x's planes and dy's in one loop: one fork / join per sample fewer (it was ~5 % of a 28x28 layer).
#pragma omp parallel for schedule(static) if ((p.C * plan.ldx + p.K * plan.cols) >= kParallelMin)
    for (index_t i = 0; i < p.C + p.K; ++i) {
      if (i < p.C) {
        pad_plane(p, x + (n * p.C + i) * HW, plan.ldx, xpad + i * plan.ldx);
        continue;
      }
      const index_t k = i - p.C;
      for (index_t pp = 0; pp < P; ++pp) {
        const T* src = dy + ((n * p.K + k) * P + pp) * Q;
        T* row = dypad + k * plan.cols + pp * plan.Wp;
        std::copy(src, src + Q, row);
        std::fill(row + Q, row + plan.Wp, T(0));
      }
    }
    gemm_shifted_cpu<T>(gp, dypad, xt, offsets.data(), RS, n == 0 ? T(0) : T(1), acc, p.K * p.C);
  }
#pragma omp parallel for schedule(static) if (plan.acc_elems >= kParallelMin)
  for (index_t k = 0; k < p.K; ++k)
    for (index_t c = 0; c < p.C; ++c)
      for (index_t t = 0; t < RS; ++t) dw[(k * p.C + c) * RS + t] = acc[(t * p.K + k) * p.C + c];
}

// dy's per-channel sums.
template <typename T>
void backward_bias(const Conv2dParams& p, const T* dy, T* db) {
  const index_t PQ = p.P() * p.Q();
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

template <typename T>
void conv2d_backward_weight_cpu(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db, T* workspace) {
  check_params(p, "conv2d_backward_weight");
  if (!winograd_pays_off(p, ConvPass::backward_weight))
    return conv2d_backward_weight_gemm_cpu(p, x, dy, dw, db, workspace);
  if (db) backward_bias(p, dy, db);
  conv2d_backward_weight_winograd_cpu(p, x, dy, dw, workspace);
}

template <typename T>
void conv2d_backward_weight_gemm_cpu(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db, T* workspace) {
  check_params(p, "conv2d_backward_weight");
  if (db) backward_bias(p, dy, db);
  if (shifted_pays_off(p)) return backward_weight_shifted(p, x, dy, dw, workspace);
  const Plan plan(p);
  Scratch<T> ws(workspace, plan.stage_elems);
  T* stage = ws.ptr;
  const index_t G = p.groups, Kg = p.K / G, Cg = p.C / G, CgRS = plan.CRS / G;

  if (p.N <= 0) std::fill(dw, dw + p.K * CgRS, T(0));
  for (index_t n0 = 0; n0 < p.N; n0 += plan.chunk) {
    const index_t nb = std::min(plan.chunk, p.N - n0), ncols = nb * plan.PQ;
    const T* dys = chunk_output_rows(p, plan, dy, n0, nb, stage);
    for (index_t g = 0; g < G; ++g) {
      GemmParams gp;
      gp.M = Kg, gp.N = CgRS, gp.K = ncols;
      const T beta = n0 == 0 ? T(0) : T(1);
      if (plan.pointwise && nb == 1) {
        const DenseB<T> cols(x + (n0 * p.C + g * Cg) * plan.PQ, plan.PQ, true);
        gemm_cpu<T>(gp, dys + g * Kg * ncols, cols, beta, dw + g * Kg * CgRS);
      } else {
        const Im2colPanelsTransposed<T> cols(p, x, n0, g * Cg);
        gemm_cpu<T>(gp, dys + g * Kg * ncols, cols, beta, dw + g * Kg * CgRS);
      }
    }
  }
}

#define NN_CONV2D_INSTANTIATE(T)                                                                                     \
  template void conv2d_forward_cpu<T>(const Conv2dParams&, const T*, const T*, const T*, T*, T*);                    \
  template void conv2d_forward_fused_cpu<T>(const Conv2dParams&, const T*, const T*, const ConvEpilogue<T>&, T*, T*, \
                                            const T*);                                                               \
  template void conv2d_forward_gemm_cpu<T>(const Conv2dParams&, const T*, const T*, const ConvEpilogue<T>&, T*, T*,  \
                                           const T*);                                                                \
  template index_t conv2d_prepared_weights_size<T>(const Conv2dParams&, ConvWeightLayout);                           \
  template void conv2d_prepare_weights_cpu<T>(const Conv2dParams&, ConvWeightLayout, const T*, T*);                  \
  template void conv2d_backward_data_cpu<T>(const Conv2dParams&, const T*, const T*, T*, T*);                        \
  template void conv2d_backward_data_gemm_cpu<T>(const Conv2dParams&, const T*, const T*, T*, T*);                   \
  template void conv2d_backward_weight_cpu<T>(const Conv2dParams&, const T*, const T*, T*, T*, T*);                  \
  template void conv2d_backward_weight_gemm_cpu<T>(const Conv2dParams&, const T*, const T*, T*, T*, T*);
NN_CONV2D_INSTANTIATE(float)
NN_CONV2D_INSTANTIATE(double)
#undef NN_CONV2D_INSTANTIATE

}  // namespace kern
