// The block-tiled GEMM core shared by gemm.cu and conv2d.cu: C (M, N) = A (M, D) * B (D, N) per group,
// where A and B are not matrices in memory but gather functors (a dense matrix with any transpose and
// leading dimension, or an implicit im2col of a conv input), and C is never stored directly: each
// finished value goes through an epilogue functor (alpha/beta, a conv's bias/BN/activation, NCHW
// scatter). So one kernel body serves GEMM and the three conv directions in every MathMode.
//
// Structure: a 64 x 64 block tile, 256 threads, depth in steps of 16. Each step's A and B tiles are
// gathered from global memory into registers (64-bit offsets, zero outside the matrix or in the conv's
// padding), converted to the mode's operand type and stored to shared memory k-major (As[k][m],
// Bs[k][n]); the next step's gathers are issued before the current step is multiplied, so their latency
// hides behind the math. One block owns an output tile for the whole depth and sums it in a fixed
// order: results never depend on timing (no split-K, no atomics).
//
// Functor contracts (device-copyable structs, evaluated on the device):
//   A:   T operator()(int g, int m, int k) const;  bool k_fast;  // k_fast: consecutive k are adjacent in
//   B:   T operator()(int g, int k, int n) const;  bool k_fast;  // memory, so threads walk k (coalescing)
//   Epi: void operator()(int g, int m, int n, Acc v) const;       // called once per (m < M, n < N)
// Gathers are only called in range (m < M, k < D, n < N); padding is the functor's business.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kernels/cuda/common.cuh"

namespace kern::cu::tile {

constexpr int kBM = 64, kBN = 64, kBK = 16, kThreads = 256;
// Row padding of the shared tiles, 72 elements per row. The tf32 fragment reads (lanes t = 0..3 on four
// rows, g = 0..7 along a row) hit banks 8t + g: all distinct. bf16 rows are 36 words, so a read of rows
// 2t (+1) hits words 72t + g/2 (+36): lane pairs share a word (a broadcast), the 16 words are in distinct
// banks.
constexpr int kPad = 8;
constexpr int kLoadsA = kBM * kBK / kThreads, kLoadsB = kBN * kBK / kThreads;
static_assert(kLoadsA * kThreads == kBM * kBK && kLoadsB * kThreads == kBN * kBK);

// tf32 operand: the f32 rounded to nearest (ties away) to a 10-bit mantissa, as the tensor core reads it.
__device__ __forceinline__ std::uint32_t to_tf32(float v) {
  std::uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(v));
  return r;
}

// Two bf16 as one .bf16x2 register: the lower k index in the low half (PTX packs the lower-indexed
// element of a pair in the lower 16 bits).
__device__ __forceinline__ std::uint32_t pack_bf16(__nv_bfloat16 lo, __nv_bfloat16 hi) {
  return static_cast<std::uint32_t>(__bfloat16_as_ushort(lo)) |
         (static_cast<std::uint32_t>(__bfloat16_as_ushort(hi)) << 16);
}

// D = A * B + D on one 16 x 8 tile. Fragment ownership (PTX ISA "mma.m16n8k8" / "mma.m16n8k16"), with
// g = lane / 4 and t = lane % 4; A is row-major (row = m, col = k), B column-major (row = k, col = n):
//   tf32 m16n8k8:  a0 (g, t)  a1 (g+8, t)  a2 (g, t+4)  a3 (g+8, t+4);   b0 (k=t, n=g)  b1 (k=t+4, n=g)
//   bf16 m16n8k16: each a/b register a pair along k, lower k in the low half:
//                  a0 (g, 2t..2t+1)  a1 (g+8, 2t..2t+1)  a2 (g, 2t+8..2t+9)  a3 (g+8, 2t+8..2t+9);
//                  b0 (k=2t..2t+1, n=g)  b1 (k=2t+8..2t+9, n=g)
//   both, C/D f32: c0 (g, 2t)  c1 (g, 2t+1)  c2 (g+8, 2t)  c3 (g+8, 2t+1)
__device__ __forceinline__ void mma_tf32_m16n8k8(float (&d)[4], const std::uint32_t (&a)[4],
                                                 const std::uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
__device__ __forceinline__ void mma_bf16_m16n8k16(float (&d)[4], const std::uint32_t (&a)[4],
                                                  const std::uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// The three multiplies. Each names its shared-memory operand type and the conversion into it.
template <typename T>
struct Ffma {  // T = float or double: ordinary FMAs, a 4 x 4 micro-tile per thread
  using Smem = T;
  using Acc = T;
  __device__ static Smem convert(T v) { return v; }
};
struct Tf32 {
  using Smem = std::uint32_t;
  using Acc = float;
  __device__ static Smem convert(float v) { return to_tf32(v); }
};
struct Bf16 {
  using Smem = __nv_bfloat16;
  using Acc = float;
  __device__ static Smem convert(float v) { return __float2bfloat16_rn(v); }
};
template <typename Mode>
constexpr bool kTensorCore = std::is_same_v<Mode, Tf32> || std::is_same_v<Mode, Bf16>;

// Tensor-core warp layout: 8 warps as 2 (m) x 4 (n), each owning 32 x 16 of the block tile = 2 x 2 MMA
// tiles of 16 x 8. FFMA layout: thread (tx, ty) = (tid % 16, tid / 16) owns rows ty + 16 i and columns
// tx + 16 j, so a warp's B reads are 16 consecutive words and its A reads two broadcast words.
constexpr int kWarpM = 32, kWarpN = 16, kMmaM = 2, kMmaN = 2;
static_assert(kBM == 2 * kWarpM && kBN == 4 * kWarpN && kWarpM == 16 * kMmaM && kWarpN == 8 * kMmaN);

template <typename Mode>
struct Accumulators {
  using Acc = typename Mode::Acc;
  // tensor cores: [i][j][r] = MMA tile (i, j), register r; FFMA: [i][j][0] = output (ty + 16 i, tx + 16 j)
  Acc v[kTensorCore<Mode> ? kMmaM : 4][kTensorCore<Mode> ? kMmaN : 4][kTensorCore<Mode> ? 4 : 1] = {};
};

// Multiplies one depth step of the shared tiles into acc.
template <typename Mode>
__device__ __forceinline__ void multiply_step(const typename Mode::Smem (&As)[kBK][kBM + kPad],
                                              const typename Mode::Smem (&Bs)[kBK][kBN + kPad],
                                              Accumulators<Mode>& acc) {
  const int tid = threadIdx.x;
  if constexpr (!kTensorCore<Mode>) {
    const int tx = tid % 16, ty = tid / 16;
#pragma unroll
    for (int k = 0; k < kBK; ++k) {
      typename Mode::Acc a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) a[i] = As[k][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; ++j) b[j] = Bs[k][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc.v[i][j][0] += a[i] * b[j];
    }
  } else {
    const int lane = tid % 32, warp = tid / 32;
    const int g = lane / 4, t = lane % 4;
    const int wm = (warp / 4) * kWarpM, wn = (warp % 4) * kWarpN;
    if constexpr (std::is_same_v<Mode, Tf32>) {
#pragma unroll
      for (int k0 = 0; k0 < kBK; k0 += 8) {
        std::uint32_t a[kMmaM][4], b[kMmaN][2];
#pragma unroll
        for (int i = 0; i < kMmaM; ++i) {
          const int m = wm + 16 * i + g;
          a[i][0] = As[k0 + t][m];
          a[i][1] = As[k0 + t][m + 8];
          a[i][2] = As[k0 + t + 4][m];
          a[i][3] = As[k0 + t + 4][m + 8];
        }
#pragma unroll
        for (int j = 0; j < kMmaN; ++j) {
          const int n = wn + 8 * j + g;
          b[j][0] = Bs[k0 + t][n];
          b[j][1] = Bs[k0 + t + 4][n];
        }
#pragma unroll
        for (int i = 0; i < kMmaM; ++i)
#pragma unroll
          for (int j = 0; j < kMmaN; ++j) mma_tf32_m16n8k8(acc.v[i][j], a[i], b[j]);
      }
    } else {
      static_assert(kBK == 16, "one m16n8k16 per depth step");
      std::uint32_t a[kMmaM][4], b[kMmaN][2];
#pragma unroll
      for (int i = 0; i < kMmaM; ++i) {
        const int m = wm + 16 * i + g;
        a[i][0] = pack_bf16(As[2 * t][m], As[2 * t + 1][m]);
        a[i][1] = pack_bf16(As[2 * t][m + 8], As[2 * t + 1][m + 8]);
        a[i][2] = pack_bf16(As[2 * t + 8][m], As[2 * t + 9][m]);
        a[i][3] = pack_bf16(As[2 * t + 8][m + 8], As[2 * t + 9][m + 8]);
      }
#pragma unroll
      for (int j = 0; j < kMmaN; ++j) {
        const int n = wn + 8 * j + g;
        b[j][0] = pack_bf16(Bs[2 * t][n], Bs[2 * t + 1][n]);
        b[j][1] = pack_bf16(Bs[2 * t + 8][n], Bs[2 * t + 9][n]);
      }
#pragma unroll
      for (int i = 0; i < kMmaM; ++i)
#pragma unroll
        for (int j = 0; j < kMmaN; ++j) mma_bf16_m16n8k16(acc.v[i][j], a[i], b[j]);
    }
  }
}

// Element e of a thread's share of a (rows x kBK) tile: (row, k) with k fastest when the operand's
// consecutive k are adjacent in memory, else row fastest, so a warp's gathers are coalesced either way.
template <int Rows>
__device__ __forceinline__ void tile_coords(int e, bool k_fast, int& row, int& k) {
  const int idx = threadIdx.x + e * kThreads;
  if (k_fast) {
    row = idx / kBK;
    k = idx % kBK;
  } else {
    row = idx % Rows;
    k = idx / Rows;
  }
}

// At least two blocks per SM for f32 (<= 128 registers, which its tiles fit in); f64's accumulators and
// gathers need more than 128, so it is allowed one block rather than spilling.
template <typename T, typename Mode, typename AOp, typename BOp, typename Epi>
__global__ void __launch_bounds__(kThreads, sizeof(T) == 8 ? 1 : 2)
    tile_gemm_kernel(int M, int N, int D, AOp a_op, BOp b_op, Epi epi) {
  using Smem = typename Mode::Smem;
  __shared__ Smem As[kBK][kBM + kPad];
  __shared__ Smem Bs[kBK][kBN + kPad];
  const int g = blockIdx.z;
  const int m0 = blockIdx.y * kBM, n0 = blockIdx.x * kBN;

  T ra[kLoadsA], rb[kLoadsB];
  auto gather = [&](int k0) {
#pragma unroll
    for (int e = 0; e < kLoadsA; ++e) {
      int m, k;
      tile_coords<kBM>(e, a_op.k_fast, m, k);
      ra[e] = m0 + m < M && k0 + k < D ? a_op(g, m0 + m, k0 + k) : T(0);
    }
#pragma unroll
    for (int e = 0; e < kLoadsB; ++e) {
      int n, k;
      tile_coords<kBN>(e, b_op.k_fast, n, k);
      rb[e] = n0 + n < N && k0 + k < D ? b_op(g, k0 + k, n0 + n) : T(0);
    }
  };

  Accumulators<Mode> acc;
  if (D > 0) gather(0);
  for (int k0 = 0; k0 < D; k0 += kBK) {
#pragma unroll
    for (int e = 0; e < kLoadsA; ++e) {
      int m, k;
      tile_coords<kBM>(e, a_op.k_fast, m, k);
      As[k][m] = Mode::convert(ra[e]);
    }
#pragma unroll
    for (int e = 0; e < kLoadsB; ++e) {
      int n, k;
      tile_coords<kBN>(e, b_op.k_fast, n, k);
      Bs[k][n] = Mode::convert(rb[e]);
    }
    __syncthreads();
    if (k0 + kBK < D) gather(k0 + kBK);
    multiply_step<Mode>(As, Bs, acc);
    __syncthreads();  // the tiles are overwritten at the top of the next step
  }

  const int tid = threadIdx.x;
  if constexpr (!kTensorCore<Mode>) {
    const int tx = tid % 16, ty = tid / 16;
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int m = m0 + ty + 16 * i, n = n0 + tx + 16 * j;
        if (m < M && n < N) epi(g, m, n, acc.v[i][j][0]);
      }
  } else {
    const int lane = tid % 32, warp = tid / 32;
    const int wm = m0 + (warp / 4) * kWarpM + lane / 4, wn = n0 + (warp % 4) * kWarpN + 2 * (lane % 4);
#pragma unroll
    for (int i = 0; i < kMmaM; ++i)
#pragma unroll
      for (int j = 0; j < kMmaN; ++j)
#pragma unroll
        for (int r = 0; r < 4; ++r) {
          const int m = wm + 16 * i + 8 * (r / 2), n = wn + 8 * j + r % 2;
          if (m < M && n < N) epi(g, m, n, acc.v[i][j][r]);
        }
  }
}

// Runs the tile GEMM for `groups` independent (M, N, D) problems (blockIdx.z = group) in the requested
// MathMode. T = double supports fp32 only. Sizes are int: the callers check that rows, columns and depth
// fit (offsets inside the functors are 64-bit).
template <typename T, typename AOp, typename BOp, typename Epi>
void tile_gemm(index_t M, index_t N, index_t D, index_t groups, const AOp& a, const BOp& b, const Epi& epi,
               MathMode math, Stream stream, const char* op) {
  if (M <= 0 || N <= 0 || groups <= 0) return;
  constexpr index_t kIntMax = 0x7fffffff;
  const index_t grid_y = ceil_div(M, kBM);
  if (N > kIntMax - kBN || M > kIntMax - kBM || D > kIntMax - kBK || grid_y > 65535 || groups > 65535)
    throw std::invalid_argument(std::string(op) + ": problem too large for the tile grid (M " +
                                std::to_string(M) + ", N " + std::to_string(N) + ", depth " + std::to_string(D) +
                                ", groups " + std::to_string(groups) + ")");
  const dim3 grid(static_cast<unsigned>(ceil_div(N, kBN)), static_cast<unsigned>(grid_y),
                  static_cast<unsigned>(groups));
  const int m = static_cast<int>(M), n = static_cast<int>(N), d = static_cast<int>(D);
  if constexpr (std::is_same_v<T, double>) {
    if (math != MathMode::fp32)
      throw std::invalid_argument(std::string(op) + ": double data supports MathMode::fp32 only");
    tile_gemm_kernel<T, Ffma<T>><<<grid, kThreads, 0, stream>>>(m, n, d, a, b, epi);
  } else {
    static_assert(std::is_same_v<T, float>);
    switch (math) {
      case MathMode::fp32:
        tile_gemm_kernel<T, Ffma<T>><<<grid, kThreads, 0, stream>>>(m, n, d, a, b, epi);
        break;
      case MathMode::tf32:
        tile_gemm_kernel<T, Tf32><<<grid, kThreads, 0, stream>>>(m, n, d, a, b, epi);
        break;
      case MathMode::bf16:
        tile_gemm_kernel<T, Bf16><<<grid, kThreads, 0, stream>>>(m, n, d, a, b, epi);
        break;
    }
  }
  check_launch(op);
}

}  // namespace kern::cu::tile
