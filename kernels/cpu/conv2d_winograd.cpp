// Winograd F(4x4, 3x3) conv2d (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).
//
// A 4x4 output tile of plane (n, k) is A^T [ sum_c (G g_kc G^T) .* (B^T d_nc B) ] A, d_nc being the 6x6
// input patch under the tile. Taking the 36 element-wise products apart turns the sum over channels
// into 36 independent GEMMs for the blocked gemm_cpu:
//   U[xi] (K, C)           weight transform G g G^T, element xi of the 6x6 result, for every (k, c)
//                          (stored transposed);
//   V[xi] (C, chunk)       input transform B^T d B for a chunk of tiles (tiles of all samples in a row,
//                          so late layers with few tiles per sample still get wide GEMMs);
//   M[xi] (K, chunk)       = U[xi] V[xi];
//   y tile                 = A^T M A (+ bias), scattered into NCHW y, edge tiles clipped.
// V and M are stored channel-major, V (C, 36, chunk), so V[xi] is a (C, chunk) matrix with rows
// 36 * chunk apart: transforming a channel then writes, and the output transform reads, one contiguous
// block instead of 36 strips far apart (measured ~10% faster at 64 and 128 channels).
// Backward-data of a stride-1 3x3 conv is itself such a conv: dx = conv(dy, w') with w'[c][k] = w[k][c]
// rotated 180 degrees and padding 2 - pad. The weight transform reads w in that order directly, so no
// rotated copy is made and both directions share every other step. Backward-weight is the forward's
// adjoint (Lavin & Gray's backward-filter): the same V, Y = A dy A^T per tile, the 36 GEMMs
// dU[xi] (K, C) += Y[xi] (K, tiles) V[xi]^T summed over chunks of tiles, and dw = G^T dU G. Its float
// error on ResNet / IR-50 layers is 5-11 eps of the sum of |terms| (GEMM path: 2-3).
//
// Why F(4x4, 3x3): 36 multiplies per 16 outputs, 4x fewer than direct (F(2x2, 3x3): 2.25x), and its
// float error is still small. Measured at the four ResNet34 block-layer shapes (N = 2, ReLU'd inputs,
// He-initialised weights) against the double reference: max |error| / (sum of |terms|) 0.85-3.3e-6
// (7-27 eps; im2col: 0.3-1.1 eps), max |error| / max |y| 0.5-1.2e-5, both directions. F(6x6, 3x3)
// would save another 1.8x in multiplies but has larger transform coefficients and error; not tried.
//
// The transforms run 8 tiles (weights: 8 output channels) at once, one per SIMD lane, in GCC vector
// extensions: one AVX2 register per value for float, two for double. Each stage is an OpenMP loop; the
// 36 GEMMs of a chunk are shared out whole among the threads (each single-threaded inside the parallel
// region), so a chunk costs three fork/joins rather than one per GEMM.
#include "kernels/cpu/conv2d_winograd.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/simd.h"

namespace kern {
namespace {

constexpr index_t kM = 4;                   // outputs per tile side
constexpr index_t kAlpha = kM + 3 - 1;      // input patch side
constexpr index_t kXi = kAlpha * kAlpha;    // GEMMs per chunk
constexpr int kLanes = 8;                   // tiles (weights: output channels) transformed together
constexpr index_t kXiPad = 40;              // kXi rounded up to whole 8x8 transposes

// Tiles per chunk: the GEMMs want many (packing a U[xi] is paid once per chunk), the transforms few (V
// and M, 36 (C + K) elements per tile, should stay in cache between transform, GEMM and transform).
// The GEMM's share of the work grows with the channel count, so the chunk does too: kColsPerChannel *
// min(C, K) tiles, at least kMinCols, and V + M within kChunkBudget elements. (From measurements, noisy
// on the shared 2-core machine: chunks of 64-128 tiles did best at 64 channels, 256 or more at 128, and
// all 288 tiles of a batch of 32 at 256.) Chunks are balanced so the last one is no sliver.
constexpr index_t kColsPerChannel = 2;
constexpr index_t kMinCols = 128;
constexpr index_t kChunkBudget = index_t(1) << 23;

// When Winograd pays off (winograd_pays_off), from bench_conv2d's winograd-against-gemm runs: enough
// tiles to amortise the weight transform, whose cost per tile does not depend on the channel counts (at
// batch 1: 169 tiles of a 52x52 plane won 2x, 49 tiles of 26x26 won 1.15x, 36 of 24x24 lost 1.3x, 9 of
// 12x12 lost 3.5x; 288 tiles of 12x12 at batch 32 won 2.6x), edge tiles mostly inside the output (a 5x5
// plane uses 25 of 64 tile outputs and lost, 0.74x), and channels enough for the GEMMs (conv1's 3 lost).
constexpr index_t kMinTiles = 48;
// With the weights transformed once (prepared, frozen inference) only the input and output transforms
// and the GEMMs remain per call, and at batch 1 (bench_conv2d --batch=1, *_prepared) Winograd won 2.3x on
// 16 tiles of 14x14 with 256 channels and 1.8x on 9 tiles of 12x12, but lost 1.2x on 9 tiles of 10x10
// with 768 -> 512 channels (its 56 MB of transformed weights come from memory each call) and 1.5x on the 4
// tiles of 7x7 (N = 4 GEMM columns fill a quarter of the micro-kernel's).
constexpr index_t kMinTilesPrepared = 16;
constexpr double kMinTileUse = 0.6;
constexpr index_t kMinChannels = 16;

template <typename T>
struct LanesOf;
template <>
struct LanesOf<float> {
  typedef float type __attribute__((vector_size(kLanes * sizeof(float))));
};
template <>
struct LanesOf<double> {
  typedef double type __attribute__((vector_size(kLanes * sizeof(double))));
};
template <typename T>
using Lanes = typename LanesOf<T>::type;

// The first n lanes of v to p.
template <typename T>
void store(T* p, const Lanes<T>& v, int n) {
  if (n == kLanes)
    std::memcpy(p, &v, sizeof v);
  else
    std::memcpy(p, &v, std::size_t(n) * sizeof(T));
}

index_t ceil_div(index_t a, index_t b) { return (a + b - 1) / b; }
index_t round_up(index_t a, index_t b) { return ceil_div(a, b) * b; }

// The conv that is computed: the forward conv itself, or the forward conv that is backward-data.
struct Geometry {
  index_t N, C, K, H, W, pad_h, pad_w;
  bool rotated;  // w is the original conv's (K, C, 3, 3), used transposed and rotated (backward-data)
  index_t P, Q, TH, TW, tiles, chunk;

  Geometry(index_t n, index_t c, index_t k, index_t h, index_t w, index_t ph, index_t pw, bool rot)
      : N(n), C(c), K(k), H(h), W(w), pad_h(ph), pad_w(pw), rotated(rot) {
    P = H + 2 * pad_h - 2;
    Q = W + 2 * pad_w - 2;
    TH = ceil_div(P, kM);
    TW = ceil_div(Q, kM);
    tiles = N * TH * TW;
    const index_t target =
        std::max(kMinCols, std::min(kColsPerChannel * std::min(C, K), kChunkBudget / (kXi * (C + K))));
    chunk = tiles > 0 ? round_up(ceil_div(tiles, ceil_div(tiles, target)), kLanes) : 0;
  }
  index_t u_elems() const { return kXi * K * C; }
  index_t v_elems() const { return kXi * C * chunk; }
  index_t m_elems() const { return kXi * K * chunk; }
};

// The backward-weight's chunk of tiles: the depth of its 36 GEMMs, whose K x C results are re-read and
// re-written once per chunk, so deeper than the forward's, within kChunkBudget. (bench_conv2d, noisy:
// chunks of 512 tiles did about as well as 128 or 256 at 64-128 channels and better at 256-768; all
// the budget allows, up to 1800 tiles at 64 channels, did worse: V and Y then leave L3.)
constexpr index_t kBackwardWeightCols = 512;

index_t backward_weight_chunk(const Geometry& g) {
  const index_t target = std::max(kMinCols, std::min(kBackwardWeightCols, kChunkBudget / (kXi * (g.C + g.K))));
  return g.tiles > 0 ? round_up(ceil_div(g.tiles, ceil_div(g.tiles, target)), kLanes) : 0;
}

index_t backward_weight_workspace(const Geometry& g) {
  return g.u_elems() + kXi * (g.C + g.K) * backward_weight_chunk(g);
}

Geometry forward_geometry(const Conv2dParams& p) {
  return Geometry(p.N, p.C, p.K, p.H, p.W, p.pad_h, p.pad_w, false);
}

Geometry backward_data_geometry(const Conv2dParams& p) {
  return Geometry(p.N, p.K, p.C, p.P(), p.Q(), 2 - p.pad_h, 2 - p.pad_w, true);
}

void check_applicable(const Conv2dParams& p, const char* op) {
  if (!winograd_applicable(p))
    throw std::invalid_argument(std::string(op) + ": needs a 3x3, stride-1, undilated, ungrouped conv with "
                                "padding 0..2 (R=" + std::to_string(p.R) + " S=" + std::to_string(p.S) +
                                " stride=" + std::to_string(p.stride_h) + "," + std::to_string(p.stride_w) +
                                " dil=" + std::to_string(p.dil_h) + "," + std::to_string(p.dil_w) +
                                " groups=" + std::to_string(p.groups) + " pad=" + std::to_string(p.pad_h) +
                                "," + std::to_string(p.pad_w) + ")");
}

// ---------------------------------------------------------------------------------------------------
// The 1-D transforms, applied to the columns and then the rows of a tile (points 0, ±1, ±2, ∞; common
// subexpressions as in NNPACK). Each reads its input at stride si and writes at stride so.

// (G g), 3 -> 6.
template <typename T>
inline void g_1d(const Lanes<T>* g, int si, Lanes<T>* u, int so) {
  const Lanes<T> g0 = g[0], g1 = g[si], g2 = g[2 * si];
  const Lanes<T> s = g0 + g2, e = T(1) / 24 * g0 + T(1) / 6 * g2, o = T(1) / 12 * g1;
  u[0] = T(1) / 4 * g0;
  u[so] = T(-1) / 6 * (s + g1);
  u[2 * so] = T(-1) / 6 * (s - g1);
  u[3 * so] = e + o;
  u[4 * so] = e - o;
  u[5 * so] = g2;
}

// (B^T d), 6 -> 6.
template <typename T>
inline void bt_1d(const Lanes<T>* d, int si, Lanes<T>* v, int so) {
  const Lanes<T> d0 = d[0], d1 = d[si], d2 = d[2 * si], d3 = d[3 * si], d4 = d[4 * si], d5 = d[5 * si];
  v[0] = T(4) * d0 - T(5) * d2 + d4;
  v[so] = (d3 + d4) - T(4) * (d1 + d2);
  v[2 * so] = T(4) * (d1 - d2) + (d4 - d3);
  v[3 * so] = T(2) * (d3 - d1) + (d4 - d2);
  v[4 * so] = T(2) * (d1 - d3) + (d4 - d2);
  v[5 * so] = T(4) * d1 - T(5) * d3 + d5;
}

// (A^T m), 6 -> 4.
template <typename T>
inline void at_1d(const Lanes<T>* m, int si, Lanes<T>* o, int so) {
  const Lanes<T> a = m[si] + m[2 * si], b = m[si] - m[2 * si];
  const Lanes<T> c = m[3 * si] + m[4 * si], e = m[3 * si] - m[4 * si];
  o[0] = m[0] + a + c;
  o[so] = b + T(2) * e;
  o[2 * so] = a + T(4) * c;
  o[3 * so] = b + T(8) * e + m[5 * si];
}

// The backward-weight's two: the transposes of the forward's output and weight transforms.
// (A o), 4 -> 6: the points' powers 0..3, and o[3] alone at infinity.
template <typename T>
inline void a_1d(const Lanes<T>* o, int si, Lanes<T>* m, int so) {
  const Lanes<T> o0 = o[0], o1 = o[si], o2 = o[2 * si], o3 = o[3 * si];
  const Lanes<T> e1 = o0 + o2, d1 = o1 + o3, e2 = o0 + T(4) * o2, d2 = T(2) * o1 + T(8) * o3;
  m[0] = o0;
  m[so] = e1 + d1;
  m[2 * so] = e1 - d1;
  m[3 * so] = e2 + d2;
  m[4 * so] = e2 - d2;
  m[5 * so] = o3;
}

// (G^T u), 6 -> 3.
template <typename T>
inline void gt_1d(const Lanes<T>* u, int si, Lanes<T>* g, int so) {
  const Lanes<T> u0 = u[0], s12 = u[si] + u[2 * si], d12 = u[2 * si] - u[si];
  const Lanes<T> s34 = u[3 * si] + u[4 * si], d34 = u[3 * si] - u[4 * si];
  g[0] = T(1) / 4 * u0 - T(1) / 6 * s12 + T(1) / 24 * s34;
  g[so] = T(1) / 6 * d12 + T(1) / 12 * d34;
  g[2 * so] = T(1) / 6 * (s34 - s12) + u[5 * si];
}

// Prefetches the 36 vectors (rows ld apart from row0) that the item two lane groups on will store
// (for_write) or load: a chunk's V, Y or M is larger than L2, and allocating those lines only at the
// stores stalled the input transforms (their stores took ~40 % of transform_output_adjoint at 64
// channels), as the loads of M did the output transform (~30 % of it at 32 channels).
template <bool for_write, typename T>
void prefetch_item(T* row0, index_t ld, index_t j0) {
  if (j0 + 2 * kLanes < ld)
    for (index_t xi = 0; xi < kXi; ++xi) __builtin_prefetch(row0 + xi * ld + j0 + 2 * kLanes, for_write);
}

// ---------------------------------------------------------------------------------------------------
// Tile t of the computed conv is (n, th, tw), t = (n * TH + th) * TW + tw; consecutive lanes walk it.
struct TilePos {
  index_t n, th, tw;
  TilePos(const Geometry& g, index_t t) : n(t / (g.TH * g.TW)), th(t / g.TW % g.TH), tw(t % g.TW) {}
  void next(const Geometry& g) {
    if (++tw < g.TW) return;
    tw = 0;
    if (++th < g.TH) return;
    th = 0;
    ++n;
  }
};

// U[xi] for every (k, c) of the computed conv, 8 output channels at a time. U[xi] is stored as its
// transpose (C, K): the 8 lanes are then contiguous, and the GEMM packs U[xi] (as op(A) = A^T) with
// contiguous copies instead of strided ones.
template <typename T>
void transform_weights(const Geometry& g, const T* w, T* U) {
  // Where the 9 taps of the computed conv's (k, c) start in w.
  const index_t stride_k = g.rotated ? 9 : g.C * 9, stride_c = g.rotated ? g.K * 9 : 9;
  const index_t groups = ceil_div(g.K, kLanes);
#pragma omp parallel for schedule(static) if (g.u_elems() >= kParallelMin)
  for (index_t item = 0; item < g.C * groups; ++item) {  // rows of U[xi] filled one after another
    const index_t c = item / groups, k0 = item % groups * kLanes;
    const int n = int(std::min<index_t>(kLanes, g.K - k0));
    alignas(64) T taps[9][kLanes] = {};
    for (int l = 0; l < n; ++l) {
      const T* src = w + (k0 + l) * stride_k + c * stride_c;
      for (int i = 0; i < 9; ++i) taps[i][l] = src[g.rotated ? 8 - i : i];
    }
    Lanes<T> gv[9], t[6 * 3], u[kXi];
    std::memcpy(gv, taps, sizeof gv);
    for (int j = 0; j < 3; ++j) g_1d<T>(gv + j, 3, t + j, 3);
    for (int i = 0; i < 6; ++i) g_1d<T>(t + 3 * i, 1, u + 6 * i, 1);
    for (index_t xi = 0; xi < kXi; ++xi) store(U + (xi * g.C + c) * g.K + k0, u[xi], n);
  }
}

// V (C, 36, ld) for tiles t0 .. t0 + nt of x (N, C, H, W); ld = nt rounded up to whole lanes, which
// hold zeros past nt. Each lane's patch is copied row by row (6 contiguous values), then 8x8 transposes
// turn the 8 patches into 36 vectors: scalar stores into lanes would stall the vector loads after them.
template <typename T>
void transform_input(const Geometry& g, const T* x, index_t t0, index_t nt, index_t ld, T* V) {
  const index_t groups = ld / kLanes;
#pragma omp parallel for schedule(static) if (g.C * ld * kXi >= kParallelMin)
  for (index_t item = 0; item < g.C * groups; ++item) {
    const index_t c = item / groups, j0 = item % groups * kLanes;
    alignas(64) T patches[kLanes][kXiPad];  // lane-major
    TilePos tp(g, t0 + j0);
    for (int l = 0; l < kLanes; ++l, tp.next(g)) {
      T* dst = patches[l];
      std::fill(dst + kXi, dst + kXiPad, T(0));
      if (j0 + l >= nt) {
        std::fill(dst, dst + kXi, T(0));
        continue;
      }
      const index_t h0 = tp.th * kM - g.pad_h, w0 = tp.tw * kM - g.pad_w;
      const T* plane = x + (tp.n * g.C + c) * g.H * g.W;
      if (h0 >= 0 && w0 >= 0 && h0 + kAlpha <= g.H && w0 + kAlpha <= g.W) {
        for (index_t i = 0; i < kAlpha; ++i)
          std::memcpy(dst + i * kAlpha, plane + (h0 + i) * g.W + w0, kAlpha * sizeof(T));
        // The tile below needs 4 more rows. The hardware prefetchers do not follow this 6-row raster
        // walk well: without this, waiting for x was the largest part of this loop at 64 channels.
        if (h0 + kAlpha + kM <= g.H)
          for (index_t i = kAlpha; i < kAlpha + kM; ++i) __builtin_prefetch(plane + (h0 + i) * g.W + w0);
      } else {  // the part of the patch inside x; zeros in the padding
        std::fill(dst, dst + kXi, T(0));
        const index_t i_end = std::min(kAlpha, g.H - h0), j_begin = std::max<index_t>(0, -w0);
        const index_t j_end = std::min(kAlpha, g.W - w0);
        for (index_t i = std::max<index_t>(0, -h0); i < i_end; ++i) {
          const T* row = plane + (h0 + i) * g.W;
          if (j_begin == 0 && j_end == kAlpha) {  // top and bottom tiles: whole rows
            std::memcpy(dst + i * kAlpha, row + w0, kAlpha * sizeof(T));
            continue;
          }
          // (A fixed trip count with a test, not j_begin .. j_end: GCC turns that into a memmove call.)
          for (index_t j = 0; j < kAlpha; ++j)
            if (j >= j_begin && j < j_end) dst[i * kAlpha + j] = row[w0 + j];
        }
      }
    }
    alignas(64) T cols[kXiPad][kLanes];  // element-major
    for (index_t b = 0; b < kXiPad; b += kLanes) transpose8x8(&patches[0][b], kXiPad, &cols[b][0], kLanes);
    Lanes<T> d[kXi], t[kXi], v[kXi];
    std::memcpy(d, cols, sizeof d);
    for (int j = 0; j < kAlpha; ++j) bt_1d<T>(d + j, kAlpha, t + j, kAlpha);
    for (int i = 0; i < kAlpha; ++i) bt_1d<T>(t + kAlpha * i, 1, v + kAlpha * i, 1);
    prefetch_item<true>(V + c * kXi * ld, ld, j0);
    for (index_t xi = 0; xi < kXi; ++xi) store(V + (c * kXi + xi) * ld + j0, v[xi], kLanes);
  }
}

// The product U[xi] (K, C) * V[xi] (C, nt) as the GEMM sees it; U[xi] is stored (C, K).
GemmParams tap_gemm(const Geometry& g, index_t nt, index_t ld) {
  GemmParams gp;
  gp.M = g.K, gp.N = nt, gp.K = g.C;
  gp.trans_a = true;
  gp.ldb = gp.ldc = kXi * ld;
  return gp;
}

// The 36 U[xi] packed for their GEMMs (tap_gemm's op(A)), at packed + xi * packed_size.
template <typename T>
void pack_transformed_weights(const Geometry& g, const T* U, T* packed) {
  const GemmParams gp = tap_gemm(g, 1, 1);
  const index_t packed_size = gemm_packed_a_size<T>(gp);
#pragma omp parallel for schedule(static) if (g.u_elems() >= kParallelMin)
  for (index_t xi = 0; xi < kXi; ++xi) gemm_pack_a_cpu<T>(gp, U + xi * g.K * g.C, packed + xi * packed_size);
}

// Scratch of the forward / backward-data: U's slot (the transformed weights, or them packed: whichever
// is larger, for float and double alike), V and M for one chunk.
index_t u_slot_elems(const Geometry& g) {
  const GemmParams gp = tap_gemm(g, 1, 1);
  return std::max(g.u_elems(), kXi * std::max(gemm_packed_a_size<float>(gp), gemm_packed_a_size<double>(gp)));
}

index_t conv_workspace(const Geometry& g) { return u_slot_elems(g) + g.v_elems() + g.m_elems(); }

// M[xi] (K, nt) = U[xi] (K, C) * V[xi] (C, nt), both with rows 36 * ld apart. With packed (the 36 U[xi]
// packed by conv2d_winograd_prepare_weights_cpu) U is not read.
template <typename T>
void multiply(const Geometry& g, const T* U, const T* packed, const T* V, index_t nt, index_t ld, T* M) {
  const GemmParams gp = tap_gemm(g, nt, ld);
  const index_t packed_size = gemm_packed_a_size<T>(gp);
  // Whole GEMMs per thread: gemm_cpu finds itself inside a parallel region and runs single-threaded.
#pragma omp parallel for schedule(dynamic) if (g.K * g.C * nt >= kParallelMin)
  for (index_t xi = 0; xi < kXi; ++xi)
    gemm_cpu<T>(gp, U + xi * g.K * g.C, DenseB<T>(V + xi * ld, gp.ldb, false), T(0), M + xi * ld, nullptr,
                packed ? packed + xi * packed_size : nullptr);
}

// Tiles t0 .. t0 + nt of y (N, K, P, Q) = epilogue(A^T M A), clipped at the bottom and right edges.
template <typename T>
void transform_output(const Geometry& g, const T* M, const ConvEpilogue<T>& e, index_t t0, index_t nt, index_t ld,
                      T* y) {
  const index_t groups = ld / kLanes;
#pragma omp parallel for schedule(static) if (g.K * ld * kXi >= kParallelMin)
  for (index_t item = 0; item < g.K * groups; ++item) {
    const index_t k = item / groups, j0 = item % groups * kLanes;
    Lanes<T> m[kXi], t[kM * kAlpha], o[kM * kM];
    prefetch_item<false>(M + k * kXi * ld, ld, j0);
    for (index_t xi = 0; xi < kXi; ++xi) std::memcpy(&m[xi], M + (k * kXi + xi) * ld + j0, sizeof m[xi]);
    for (int j = 0; j < kAlpha; ++j) at_1d<T>(m + j, kAlpha, t + j, kAlpha);
    for (int i = 0; i < kM; ++i) at_1d<T>(t + kAlpha * i, 1, o + kM * i, 1);
    // The epilogue on the 16 lane vectors, before they are scattered (a NaN stays NaN: a * NaN).
    const T scale = e.scale ? e.scale[k] : T(1), shift = e.bias ? e.bias[k] : T(0);
    const T slope = e.act == Activation::prelu ? e.slope[e.slope_count == 1 ? 0 : k] : T(0);
    if (e.scale || e.bias)
      for (auto& v : o) v = scale * v + shift;
    if (e.act != Activation::none)
      for (auto& v : o) v = v > T(0) ? v : slope * v;
    alignas(64) T cols[kM * kM][kLanes];     // element-major
    alignas(64) T tiles[kLanes][kM * kM];    // lane-major: each tile's 4 rows of 4
    std::memcpy(cols, o, sizeof cols);
    for (index_t b = 0; b < kM * kM; b += kLanes) transpose8x8(&cols[b][0], kLanes, &tiles[0][b], kM * kM);
    TilePos tp(g, t0 + j0);
    const index_t lanes = std::min<index_t>(kLanes, nt - j0);
    for (index_t l = 0; l < lanes; ++l, tp.next(g)) {
      const index_t p0 = tp.th * kM, q0 = tp.tw * kM;
      const index_t rows = std::min(kM, g.P - p0), cols_left = std::min(kM, g.Q - q0);
      T* dst = y + ((tp.n * g.K + k) * g.P + p0) * g.Q + q0;
      // The tile row below is stored a few items later: its lines, allocated only at the stores, were
      // ~30 % of this loop at 32 channels (as in transform_input, the walk is a 4-row raster).
      if (p0 + 2 * kM <= g.P)
        for (index_t i = kM; i < 2 * kM; ++i) __builtin_prefetch(dst + i * g.Q, 1);
      if (cols_left == kM)
        for (index_t i = 0; i < rows; ++i) std::memcpy(dst + i * g.Q, tiles[l] + i * kM, kM * sizeof(T));
      else
        for (index_t i = 0; i < rows; ++i)
          for (index_t j = 0; j < cols_left; ++j) dst[i * g.Q + j] = tiles[l][i * kM + j];
    }
  }
}

template <typename T>
void winograd_conv(const Geometry& g, const T* x, const T* w, const T* prepared, const ConvEpilogue<T>& e, T* y,
                   T* workspace) {
  std::vector<T> owned;
  if (!workspace) {
    owned.resize(std::size_t(conv_workspace(g)));
    workspace = owned.data();
  }
  T* U = workspace;
  T* V = U + u_slot_elems(g);
  T* M = V + g.v_elems();
  if (!prepared && g.tiles > g.chunk && g.v_elems() + g.m_elems() >= g.u_elems()) {
    // Several chunks: pack the transformed weights once rather than in every chunk's GEMMs (~5 % of a
    // 32 -> 64-channel layer, whose 196 chunks each packed them again). V and M, not used before the
    // first chunk, hold the transform meanwhile.
    transform_weights(g, w, V);
    pack_transformed_weights(g, V, U);
    prepared = U;
  } else if (!prepared) {
    transform_weights(g, w, U);
  }
  for (index_t t0 = 0; t0 < g.tiles; t0 += g.chunk) {
    const index_t nt = std::min(g.chunk, g.tiles - t0), ld = round_up(nt, kLanes);
    transform_input(g, x, t0, nt, ld, V);
    multiply(g, U, prepared, V, nt, ld, M);
    transform_output(g, M, e, t0, nt, ld, y);
  }
}

// Y (K, 36, ld) = A dy A^T for tiles t0 .. t0 + nt of dy (N, K, P, Q): the adjoint of transform_output.
// Outputs past P or Q (clipped in the forward) and lanes past nt read as zeros.
template <typename T>
void transform_output_adjoint(const Geometry& g, const T* dy, index_t t0, index_t nt, index_t ld, T* Y) {
  const index_t groups = ld / kLanes;
#pragma omp parallel for schedule(static) if (g.K * ld * kXi >= kParallelMin)
  for (index_t item = 0; item < g.K * groups; ++item) {
    const index_t k = item / groups, j0 = item % groups * kLanes;
    alignas(64) T tiles[kLanes][kM * kM];  // lane-major: each tile's 4 rows of 4
    TilePos tp(g, t0 + j0);
    const index_t lanes = std::min<index_t>(kLanes, nt - j0);
    for (index_t l = 0; l < kLanes; ++l, tp.next(g)) {
      const index_t p0 = tp.th * kM, q0 = tp.tw * kM;
      const index_t rows = std::min(kM, g.P - p0), cols_left = std::min(kM, g.Q - q0);
      const T* src = dy + ((tp.n * g.K + k) * g.P + p0) * g.Q + q0;
      if (l < lanes && rows == kM && cols_left == kM) {
        for (index_t i = 0; i < kM; ++i) std::memcpy(tiles[l] + i * kM, src + i * g.Q, kM * sizeof(T));
        // As in transform_input: the tile row below comes a few items later, and the prefetchers do
        // not follow this 4-row raster walk (waiting for dy was most of this loop at 64 channels).
        if (p0 + 2 * kM <= g.P)
          for (index_t i = kM; i < 2 * kM; ++i) __builtin_prefetch(src + i * g.Q);
        continue;
      }
      std::fill(tiles[l], tiles[l] + kM * kM, T(0));
      if (l < lanes)
        for (index_t i = 0; i < rows; ++i)
          for (index_t j = 0; j < kM; ++j)
            if (j < cols_left) tiles[l][i * kM + j] = src[i * g.Q + j];
    }
    alignas(64) T cols[kM * kM][kLanes];  // element-major
    for (index_t b = 0; b < kM * kM; b += kLanes) transpose8x8(&tiles[0][b], kM * kM, &cols[b][0], kLanes);
    Lanes<T> o[kM * kM], t[kAlpha * kM], m[kXi];
    std::memcpy(o, cols, sizeof o);
    for (int j = 0; j < kM; ++j) a_1d<T>(o + j, kM, t + j, kM);
    for (int i = 0; i < kAlpha; ++i) a_1d<T>(t + kM * i, 1, m + kAlpha * i, 1);
    prefetch_item<true>(Y + k * kXi * ld, ld, j0);
    for (index_t xi = 0; xi < kXi; ++xi) store(Y + (k * kXi + xi) * ld + j0, m[xi], kLanes);
  }
}

// dU[xi] (K, C) (+)= Y[xi] (K, nt) * V[xi] (C, nt)^T, the 36 GEMMs shared out whole among the threads.
template <typename T>
void multiply_adjoint(const Geometry& g, const T* Y, const T* V, index_t nt, index_t ld, bool first, T* dU) {
  GemmParams gp;
  gp.M = g.K, gp.N = g.C, gp.K = nt;
  gp.trans_b = true;
  gp.lda = gp.ldb = kXi * ld;
#pragma omp parallel for schedule(dynamic) if (g.K * g.C * nt >= kParallelMin)
  for (index_t xi = 0; xi < kXi; ++xi)
    gemm_cpu<T>(gp, T(1), Y + xi * ld, V + xi * ld, first ? T(0) : T(1), dU + xi * g.K * g.C);
}

// dw (K, C, 3, 3) = G^T dU_kc G, 8 input channels at a time.
template <typename T>
void transform_weight_gradient(const Geometry& g, const T* dU, T* dw) {
  const index_t groups = ceil_div(g.C, kLanes);
#pragma omp parallel for schedule(static) if (g.u_elems() >= kParallelMin)
  for (index_t item = 0; item < g.K * groups; ++item) {
    const index_t k = item / groups, c0 = item % groups * kLanes;
    const int n = int(std::min<index_t>(kLanes, g.C - c0));
    Lanes<T> u[kXi] = {}, t[3 * kAlpha], r[9];
    for (index_t xi = 0; xi < kXi; ++xi)
      std::memcpy(&u[xi], dU + (xi * g.K + k) * g.C + c0, std::size_t(n) * sizeof(T));
    for (int j = 0; j < kAlpha; ++j) gt_1d<T>(u + j, kAlpha, t + j, kAlpha);
    for (int i = 0; i < 3; ++i) gt_1d<T>(t + kAlpha * i, 1, r + 3 * i, 1);
    for (int l = 0; l < n; ++l)
      for (int i = 0; i < 9; ++i) dw[(k * g.C + c0 + l) * 9 + i] = r[i][l];
  }
}

}  // namespace

bool winograd_applicable(const Conv2dParams& p) {
  return p.R == 3 && p.S == 3 && p.stride_h == 1 && p.stride_w == 1 && p.dil_h == 1 && p.dil_w == 1 &&
         p.groups == 1 && p.pad_h >= 0 && p.pad_h <= 2 && p.pad_w >= 0 && p.pad_w <= 2 && p.C >= 1 &&
         p.K >= 1 && p.N >= 0 && p.P() >= 1 && p.Q() >= 1;
}

index_t conv2d_winograd_workspace_size(const Conv2dParams& p) {
  if (!winograd_applicable(p)) return 0;
  const Geometry f = forward_geometry(p);
  return std::max({conv_workspace(f), conv_workspace(backward_data_geometry(p)), backward_weight_workspace(f)});
}

bool winograd_pays_off(const Conv2dParams& p, ConvPass pass, bool weights_prepared) {
  if (!winograd_applicable(p) || std::min(p.C, p.K) < kMinChannels) return false;
  const Geometry g = pass == ConvPass::backward_data ? backward_data_geometry(p) : forward_geometry(p);
  return g.tiles >= (weights_prepared ? kMinTilesPrepared : kMinTiles) &&
         double(g.P * g.Q) >= kMinTileUse * double(g.TH * g.TW * kM * kM);
}

index_t conv2d_winograd_tiles(const Conv2dParams& p) { return winograd_applicable(p) ? forward_geometry(p).tiles : 0; }

template <typename T>
index_t conv2d_winograd_prepared_size(const Conv2dParams& p) {
  return winograd_applicable(p) ? kXi * gemm_packed_a_size<T>(tap_gemm(forward_geometry(p), 1, 1)) : 0;
}

template <typename T>
void conv2d_winograd_prepare_weights_cpu(const Conv2dParams& p, const T* w, T* prepared) {
  check_applicable(p, "conv2d_winograd_prepare_weights");
  const Geometry g = forward_geometry(p);
  std::vector<T> U(std::size_t(g.u_elems()));
  transform_weights(g, w, U.data());
  pack_transformed_weights(g, U.data(), prepared);
}

template <typename T>
void conv2d_forward_winograd_cpu(const Conv2dParams& p, const T* x, const T* w, const ConvEpilogue<T>& e, T* y,
                                 T* workspace, const T* prepared) {
  check_applicable(p, "conv2d_forward_winograd");
  winograd_conv(forward_geometry(p), x, w, prepared, e, y, workspace);
}

template <typename T>
void conv2d_forward_winograd_cpu(const Conv2dParams& p, const T* x, const T* w, const T* bias, T* y,
                                 T* workspace) {
  ConvEpilogue<T> e;
  e.bias = p.has_bias ? bias : nullptr;
  conv2d_forward_winograd_cpu(p, x, w, e, y, workspace);
}

template <typename T>
void conv2d_backward_data_winograd_cpu(const Conv2dParams& p, const T* dy, const T* w, T* dx, T* workspace) {
  check_applicable(p, "conv2d_backward_data_winograd");
  winograd_conv<T>(backward_data_geometry(p), dy, w, nullptr, ConvEpilogue<T>{}, dx, workspace);
}

// The forward's transforms, adjoint: Lavin & Gray's backward-filter. With V = B^T d B (the forward's
// input transform) and Y = A dy A^T per tile, d(sum y * dy) / dU_kc = sum over tiles Y_k .* V_c, and
// dw_kc = G^T (that) G. Outputs the forward computes and clips have no dy (zeros), so this is exactly the
// gradient of what the forward computes, which on the valid outputs is the conv.
template <typename T>
void conv2d_backward_weight_winograd_cpu(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* workspace) {
  check_applicable(p, "conv2d_backward_weight_winograd");
  const Geometry g = forward_geometry(p);
  std::vector<T> owned;
  if (!workspace) {
    owned.resize(std::size_t(backward_weight_workspace(g)));
    workspace = owned.data();
  }
  const index_t chunk = backward_weight_chunk(g);
  T* dU = workspace;
  T* V = dU + g.u_elems();
  T* Y = V + kXi * g.C * chunk;
  if (g.tiles == 0) std::fill(dU, dU + g.u_elems(), T(0));
  for (index_t t0 = 0; t0 < g.tiles; t0 += chunk) {
    const index_t nt = std::min(chunk, g.tiles - t0), ld = round_up(nt, kLanes);
    transform_input(g, x, t0, nt, ld, V);
    transform_output_adjoint(g, dy, t0, nt, ld, Y);
    multiply_adjoint(g, Y, V, nt, ld, t0 == 0, dU);
  }
  transform_weight_gradient(g, dU, dw);
}

#define NN_CONV2D_WINOGRAD_INSTANTIATE(T)                                                                           \
  template void conv2d_forward_winograd_cpu<T>(const Conv2dParams&, const T*, const T*, const T*, T*, T*);          \
  template void conv2d_forward_winograd_cpu<T>(const Conv2dParams&, const T*, const T*, const ConvEpilogue<T>&, T*, \
                                               T*, const T*);                                                       \
  template void conv2d_winograd_prepare_weights_cpu<T>(const Conv2dParams&, const T*, T*);                          \
  template index_t conv2d_winograd_prepared_size<T>(const Conv2dParams&);                                           \
  template void conv2d_backward_data_winograd_cpu<T>(const Conv2dParams&, const T*, const T*, T*, T*);              \
  template void conv2d_backward_weight_winograd_cpu<T>(const Conv2dParams&, const T*, const T*, T*, T*);
NN_CONV2D_WINOGRAD_INSTANTIATE(float)
NN_CONV2D_WINOGRAD_INSTANTIATE(double)
#undef NN_CONV2D_WINOGRAD_INSTANTIATE

}  // namespace kern
