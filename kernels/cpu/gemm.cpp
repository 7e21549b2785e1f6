// Fast CPU GEMM, GotoBLAS / BLIS style, and its reference.
//
// Loop nest (C is M x N):  jc: NC columns  ->  pc: KC depth  ->  pack the KC x NC block of op(B)  ->
// ic: MC rows  ->  pack the MC x KC block of op(A)  ->  jr: NR columns  ->  ir: MR rows  ->  register-tile
// micro-kernel (MR x NR accumulators, one FMA per lane). Packing puts both operands in the exact order
// the micro-kernel streams them, so transposes and leading dimensions cost nothing in the inner loop,
// and zero-padded panels make edge tiles ordinary. When a thread owns a single MC block of rows (conv
// shapes: few output channels, many pixels) the order becomes pc -> pack A once -> small B blocks.
//
// One generic micro-kernel is written against a tiny SIMD shim (Simd<T>): AVX-512 (14 x 32 float,
// 14 x 16 double: 28 accumulators + 2 B vectors + 1 broadcast = 31 of 32 zmm), AVX2+FMA (6 x 16 float,
// 6 x 8 double: 12 of 16 ymm), or plain scalars. Which one is compiled follows the compiler flags
// (-march=native by default), so the same source builds anywhere. The AVX-512 configuration was
// compiled but, for want of an AVX-512 machine, not yet run; the same generic code runs as AVX2 here.
//
// Threads: each computes one rectangle of a tm x tn grid over C, cut at tile boundaries and chosen per
// call by a small cost model (split_threads). Every thread packs its own operands, so there is no
// synchronisation inside a call. Tiles and depth blocks do
// not depend on the split, so results are bitwise identical for any thread count.
#include "kernels/cpu/gemm.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "kernels/cpu/simd.h"

namespace kern {
namespace {

#if defined(__AVX512F__)
constexpr int kSimdMR = 14;
#elif defined(__AVX2__) && defined(__FMA__)
constexpr int kSimdMR = 6;
#else
constexpr int kSimdMR = 4;
#endif

// Register tile and cache blocks. MR x NR accumulators fill the register file; KC x NR of B (one
// micro-panel) stays in L1, MC x KC of A in L2, KC x NC of B in L3. Sizes follow BLIS's Zen / SKX
// choices, rounded to multiples of the tile.
template <typename T>
struct Blocking {
  static constexpr bool scalar = Simd<T>::width == 1;
  static constexpr int NV = scalar ? 4 : 2;  // vectors per tile row
  static constexpr int MR = scalar ? 4 : kSimdMR;
  static constexpr int NR = NV * Simd<T>::width;
  static constexpr index_t KC = MR >= 14 ? 384 : 256;
  static constexpr index_t MC = MR * (MR >= 14 ? 10 : 24 / (int(sizeof(T)) / 4));
  static constexpr index_t NC = NR * (4096 / NR / (int(sizeof(T)) / 4));
  static constexpr index_t NC_small = NR * (256 / NR / (int(sizeof(T)) / 4));
};

// ---------------------------------------------------------------------------------------------------
// Micro-kernel: c (MR x NR, row stride ldc) = alpha * a_panel * b_panel + beta * c. a holds kc columns of
// MR values, b holds kc rows of NR values (the packed layouts). beta == 0 stores without loading c.
template <typename T>
struct MicroKernel {
  using S = Simd<T>;
  using reg = typename S::reg;
  static constexpr int MR = Blocking<T>::MR, NV = Blocking<T>::NV, NR = Blocking<T>::NR;
  static constexpr int W = S::width;

  // The top Rows of a tile (Rows <= MR; the packed A panel is MR wide whatever Rows is). Edge panels of
  // full width run with their own row count and store straight to C: 64 output channels are 10 panels
  // of 6 and one of 4, so every 11th tile of a 64-channel conv is such an edge.
  template <int Rows>
  static void rows(index_t kc, const T* a, const T* b, T alpha, T beta, T* c, index_t ldc) {
    reg acc[Rows][NV];
#pragma GCC unroll 16
    for (int i = 0; i < Rows; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[i][j] = S::zero();
#if defined(__AVX2__) || defined(__AVX512F__)
#pragma GCC unroll 16
    for (int i = 0; i < Rows; ++i) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
#endif
#pragma GCC unroll 4
    for (index_t k = 0; k < kc; ++k) {
      reg bv[NV];
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) bv[j] = S::load(b + j * W);
#pragma GCC unroll 16
      for (int i = 0; i < Rows; ++i) {
        const reg av = S::set1(a[i]);
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) acc[i][j] = S::fma(av, bv[j], acc[i][j]);
      }
      a += MR;
      b += NR;
    }
    const reg va = S::set1(alpha);
    if (beta == T(0)) {
#pragma GCC unroll 16
      for (int i = 0; i < Rows; ++i)
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) S::store(c + i * ldc + j * W, S::mul(va, acc[i][j]));
    } else {
      const reg vb = S::set1(beta);
#pragma GCC unroll 16
      for (int i = 0; i < Rows; ++i)
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) {
          T* ci = c + i * ldc + j * W;
          S::store(ci, S::fma(vb, S::load(ci), S::mul(va, acc[i][j])));
        }
    }
  }

  static void full(index_t kc, const T* a, const T* b, T alpha, T beta, T* c, index_t ldc) {
    rows<MR>(kc, a, b, alpha, beta, c, ldc);
  }

  using RowsFn = void (*)(index_t, const T*, const T*, T, T, T*, index_t);
  // rows<m> for m in 1 .. MR.
  static RowsFn rows_fn(index_t m) {
    static constexpr auto table = []<int... I>(std::integer_sequence<int, I...>) {
      return std::array<RowsFn, MR>{&rows<I + 1>...};
    }(std::make_integer_sequence<int, MR>{});
    return table[std::size_t(m - 1)];
  }

  // The top-left m x n of the tile at c (m <= MR, n <= NR): all of it in the common case, fewer rows or
  // columns at the edges of C.
  static void tile(index_t kc, const T* a, const T* b, T alpha, T beta, T* c, index_t ldc, index_t m, index_t n) {
    if (m == MR && n == NR) return full(kc, a, b, alpha, beta, c, ldc);
    if (n == NR) return rows_fn(m)(kc, a, b, alpha, beta, c, ldc);
    alignas(64) T tile[MR * NR];
    full(kc, a, b, T(1), T(0), tile, NR);
    for (index_t i = 0; i < m; ++i)
      for (index_t j = 0; j < n; ++j) {
        T& ci = c[i * ldc + j];
        ci = beta == T(0) ? alpha * tile[i * NR + j] : alpha * tile[i * NR + j] + beta * ci;
      }
  }
};

// ---------------------------------------------------------------------------------------------------
// Packing. Ap: ceil(mc / MR) panels, each kc x MR (k-major); Bp: ceil(nc / NR) panels, each kc x NR.
// Rows / columns past the matrix edge are zero so the micro-kernel never branches.
// Packing writes up to this many elements past a panel's end (pack_a's overlapping vector stores).
constexpr index_t kPackSlack = 16;

template <typename T, int MR>
void pack_a(const T* A, index_t lda, bool trans, index_t i0, index_t k0, index_t mc, index_t kc, T* Ap) {
  for (index_t ip = 0; ip < mc; ip += MR) {
    const index_t m = std::min<index_t>(MR, mc - ip);
    T* dst = Ap + ip * kc;
    if (!trans) {  // op(A)(i, k) = A[i * lda + k]
      const T* src = A + (i0 + ip) * lda + k0;
      index_t k_done = 0;
#if defined(__AVX2__)
      if constexpr (std::is_same_v<T, float> && MR <= 8) {
        // 8 columns at a time through a register transpose (rows past m read as zero); each column's
        // MR values are stored as 8 lanes in increasing k, so the 8 - MR extra lanes are overwritten by
        // the next column (or land in the slack after the buffer). The scalar loop's strided stores
        // made packing weights ~6 % of a conv forward.
        k_done = kc / 8 * 8;
        const bool more = ip + MR < mc;  // fetch the next panel's rows meanwhile, as pack_b does
        for (index_t k = 0; k < k_done; k += 8) {
          if (more && k % 16 == 0)
            for (int i = 0; i < MR; ++i) __builtin_prefetch(src + (MR + i) * lda + k);
          __m256 r[8];
          for (int i = 0; i < 8; ++i) r[i] = i < m ? _mm256_loadu_ps(src + i * lda + k) : _mm256_setzero_ps();
          transpose8x8(r);
          for (int j = 0; j < 8; ++j) _mm256_storeu_ps(dst + (k + j) * MR, r[j]);
        }
      }
#endif
      for (index_t i = 0; i < m; ++i)
        for (index_t k = k_done; k < kc; ++k) dst[k * MR + i] = src[i * lda + k];
    } else {  // op(A)(i, k) = A[k * lda + i]
      const T* src = A + k0 * lda + i0 + ip;
      for (index_t k = 0; k < kc; ++k)
        for (index_t i = 0; i < m; ++i) dst[k * MR + i] = src[k * lda + i];
    }
    if (m < MR)
      for (index_t k = 0; k < kc; ++k)
        for (index_t i = m; i < MR; ++i) dst[k * MR + i] = T(0);
  }
}

// Rows read ahead by pack_b. A block's rows are often short (NC_small columns: 1 KB) and far apart, too
// short for the hardware prefetchers to ramp up on, so unaided the copy waited on memory: 39 % of a
// 64 x 2916 x 576 product went to packing B.
constexpr index_t kPackBAhead = 8;

// Packs op(B)[k0 .. k0+kc, j0 .. j0+nc) into ceil(nc / NR) panels. Untransposed B is walked row by row
// (sequential reads from a matrix that is usually far out of cache, the row kPackBAhead on prefetched;
// scattered writes into the L2-resident block); transposed B panel by panel, reading NR rows of B along
// k while the next panel's rows are prefetched.
template <typename T, int NR>
void pack_b(const T* B, index_t ldb, bool trans, index_t k0, index_t j0, index_t kc, index_t nc, T* Bp) {
  const index_t full = nc / NR, rem = nc - full * NR;
  if (!trans) {  // op(B)(k, j) = B[k * ldb + j]
    for (index_t k = 0; k < kc; ++k) {
      const T* src = B + (k0 + k) * ldb + j0;
      if (k + kPackBAhead < kc)
        for (index_t j = 0; j < nc; j += 64 / index_t(sizeof(T))) __builtin_prefetch(src + kPackBAhead * ldb + j);
      T* dst = Bp + k * NR;
      for (index_t jp = 0; jp < full; ++jp, src += NR, dst += kc * NR)
#pragma GCC unroll 32
        for (int j = 0; j < NR; ++j) dst[j] = src[j];
      if (rem) {
        for (index_t j = 0; j < rem; ++j) dst[j] = src[j];
        for (index_t j = rem; j < NR; ++j) dst[j] = T(0);
      }
    }
    return;
  }
  // op(B)(k, j) = B[j * ldb + k]
  for (index_t jp = 0; jp * NR < nc; ++jp) {
    const index_t n = std::min<index_t>(NR, nc - jp * NR);
    const T* src = B + (j0 + jp * NR) * ldb + k0;
    T* dst = Bp + jp * kc * NR;
    index_t k_done = 0;
#if defined(__AVX2__)
    if constexpr (std::is_same_v<T, float> && NR % 8 == 0) {
      // 8 x 8 register transposes: the scalar loop's strided stores made this path 2-3x slower.
      if (n == NR) {
        k_done = kc / 8 * 8;
        const bool more = (jp + 2) * NR <= nc;  // the next panel is a full one: fetch its rows meanwhile
        for (index_t k = 0; k < k_done; k += 8) {
          if (more && k % 16 == 0)
            for (int j = 0; j < NR; ++j) __builtin_prefetch(src + (NR + j) * ldb + k);
          for (int j = 0; j < NR; j += 8) transpose8x8(src + j * ldb + k, ldb, dst + k * NR + j, NR);
        }
      }
    }
#endif
    for (index_t j = 0; j < n; ++j)
      for (index_t k = k_done; k < kc; ++k) dst[k * NR + j] = src[j * ldb + k];
    for (index_t k = 0; k < kc; ++k)
      for (index_t j = n; j < NR; ++j) dst[k * NR + j] = T(0);
  }
}

// ---------------------------------------------------------------------------------------------------
// Packing buffers live per thread and only grow, so steady-state calls allocate nothing. OpenMP keeps
// its pool threads alive, which keeps their buffers alive too. Slot 0: A (each thread), 1: B (caller).
struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};

template <int Slot>
void* thread_buffer(std::size_t bytes) {
  thread_local std::unique_ptr<void, AlignedFree> buf;
  thread_local std::size_t cap = 0;
  if (bytes > cap) {
    const std::size_t rounded = (bytes + 4095) / 4096 * 4096;
    buf.reset(std::aligned_alloc(64, rounded));
    if (!buf) throw std::bad_alloc();
    cap = rounded;
  }
  return buf.get();
}

index_t ceil_div(index_t a, index_t b) { return (a + b - 1) / b; }
index_t round_up(index_t a, index_t b) { return ceil_div(a, b) * b; }

// The depth of the blocks a K-deep product is cut into: equal blocks (a 288-deep product runs as 2 x 144,
// not 256 + 32), and one block when K barely exceeds KC, since every extra block re-reads and re-writes
// the C tile. A pre-packed A (gemm_pack_a_cpu) is cut the same way.
template <typename T>
index_t depth_block(index_t K) {
  constexpr index_t KC = Blocking<T>::KC;
  return ceil_div(K, K <= KC * 5 / 4 ? 1 : ceil_div(K, KC));
}

// tm x tn = nt, minimising the slowest thread's cost: its tiles (rounded up to whole MR / NR panels)
// times K FMAs, plus the packing it does, since each thread packs its own rows of A (unless A comes
// packed) and columns of B.
// Packing one element costs roughly what one 32-flop/cycle core does in 16 FMAs. Conv shapes (few rows,
// many columns) thus split columns: splitting rows would make every thread pack all of the big B.
void split_threads(int nt, index_t m_panels, index_t n_panels, int mr, int nr, bool packs_a, int& tm, int& tn) {
  double best = -1.0;
  for (int a = nt; a >= 1; --a) {
    if (nt % a != 0) continue;
    const int b = nt / a;
    const double rows = double(ceil_div(m_panels, a) * mr), cols = double(ceil_div(n_panels, b) * nr);
    const double cost = rows * cols + 16.0 * ((packs_a ? rows : 0.0) + cols);
    if (best < 0 || cost < best) {
      best = cost;
      tm = a;
      tn = b;
    }
  }
}

// Below this many flops the fork/join costs more than a second thread gains.
constexpr double kMinParallelFlops = 2.0 * 48 * 48 * 48;

// The sequential blocked algorithm on the sub-block rows [r0, r1) x columns [c0, c1) of C. pack_b(pc,
// kc, jc, nc, Bp) fills Bp with the packed block of op(B); the epilogue (if any) finishes each block of C
// right after its last depth step, while it is still in L2.
template <typename T, typename PackB>
void gemm_block_range(const GemmParams& p, T alpha, const T* A, index_t lda, const T* A_packed,
                      const PackB& pack_b_block, T beta, T* C, index_t ldc, const GemmEpilogue<T>* epilogue, index_t r0,
                      index_t r1, index_t c0, index_t c1) {
  using BK = Blocking<T>;
  using MK = MicroKernel<T>;
  constexpr int MR = BK::MR, NR = BK::NR;
  if (r0 >= r1 || c0 >= c1) return;
  const index_t kc_max = depth_block<T>(p.K);
  const index_t nc_max = std::min<index_t>(BK::NC, ceil_div(c1 - c0, NR) * NR);
  T* Ap = A_packed ? nullptr : static_cast<T*>(thread_buffer<0>(sizeof(T) * std::size_t(BK::MC * kc_max + kPackSlack)));
  T* Bp = static_cast<T*>(thread_buffer<1>(sizeof(T) * std::size_t(kc_max * nc_max)));
  // Rows [ic, ic + mc) of the depth block at pc, packed: here, or once for all calls (gemm_pack_a_cpu).
  auto packed_rows = [&](index_t ic, index_t mc, index_t pc, index_t kc) -> const T* {
    if (A_packed) return A_packed + pc * round_up(p.M, MR) + ic * kc;
    pack_a<T, MR>(A, lda, p.trans_a, ic, pc, mc, kc, Ap);
    return Ap;
  };

  // C[ic.., jc..] (mc x nc) += the packed blocks, tile by tile; the B micro-panel stays in L1 while
  // the A micro-panels stream from L2.
  auto macro_kernel = [&](const T* Ap, index_t ic, index_t mc, index_t jc, index_t nc, index_t pc, index_t kc) {
    const T beta_k = pc == 0 ? beta : T(1);
    for (index_t jp = 0; jp * NR < nc; ++jp) {
      const index_t n = std::min<index_t>(NR, nc - jp * NR);
      const T* bp = Bp + jp * kc * NR;
      for (index_t ip = 0; ip < mc; ip += MR) {
        const index_t m = std::min<index_t>(MR, mc - ip);
        T* c = C + (ic + ip) * ldc + jc + jp * NR;
        MK::tile(kc, Ap + ip * kc, bp, alpha, beta_k, c, ldc, m, n);
      }
    }
    if (epilogue && pc + kc == p.K) epilogue->apply(ic, ic + mc, jc, jc + nc, C, ldc);
  };

  if (r1 - r0 <= BK::MC) {
    // One block of rows (conv-shaped: few output channels, many pixels): pack A once per depth step
    // and walk B in blocks small enough to stay in L2 between packing and use, since a packed B block
    // is never revisited by another row block.
    for (index_t pc = 0; pc < p.K; pc += kc_max) {
      const index_t kc = std::min<index_t>(kc_max, p.K - pc);
      const T* Ap = packed_rows(r0, r1 - r0, pc, kc);
      for (index_t jc = c0; jc < c1; jc += BK::NC_small) {
        const index_t nc = std::min<index_t>(BK::NC_small, c1 - jc);
        pack_b_block(pc, kc, jc, nc, Bp);
        macro_kernel(Ap, r0, r1 - r0, jc, nc, pc, kc);
      }
    }
    return;
  }
  for (index_t jc = c0; jc < c1; jc += BK::NC) {
    const index_t nc = std::min<index_t>(BK::NC, c1 - jc);
    for (index_t pc = 0; pc < p.K; pc += kc_max) {
      const index_t kc = std::min<index_t>(kc_max, p.K - pc);
      pack_b_block(pc, kc, jc, nc, Bp);
      for (index_t ic = r0; ic < r1; ic += BK::MC) {
        const index_t mc = std::min<index_t>(BK::MC, r1 - ic);
        macro_kernel(packed_rows(ic, mc, pc, kc), ic, mc, jc, nc, pc, kc);
      }
    }
  }
}

// Calls body(r0, r1, c0, c1) once per thread, each with one rectangle of a tm x tn grid over C (cut at
// tile boundaries), for work of the given flops. Each thread runs the sequential algorithm with its own
// packing buffers. Sharing one packed B block (BLIS) would save re-packing it tm times, but costs two
// barriers per KC step, and on a shared 2-core machine a descheduled thread at a barrier stalls everyone
// for a time slice: measured 10-50x slowdowns under a concurrent compile, against ~2x for independent
// rectangles.
template <typename T, typename Body>
void for_each_rectangle(const GemmParams& p, double flops, bool packs_a, const Body& body) {
  constexpr int MR = Blocking<T>::MR, NR = Blocking<T>::NR;
  const index_t m_panels = ceil_div(p.M, MR), n_panels = ceil_div(p.N, NR);
  int nt = flops < kMinParallelFlops ? 1 : omp_get_max_threads();
  nt = int(std::min<index_t>(nt, m_panels * n_panels));
  if (nt <= 1) {
    body(index_t(0), p.M, index_t(0), p.N);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    // The team may be smaller than asked (nested regions, thread limits): split what we got.
    const int nth = omp_get_num_threads(), tid = omp_get_thread_num();
    int tm = 1, tn = 1;
    split_threads(nth, m_panels, n_panels, MR, NR, packs_a, tm, tn);
    const int im = tid % tm, in = tid / tm;
    body(std::min(p.M, (m_panels * im / tm) * MR), std::min(p.M, (m_panels * (im + 1) / tm) * MR),
         std::min(p.N, (n_panels * in / tn) * NR), std::min(p.N, (n_panels * (in + 1) / tn) * NR));
  }
}

template <typename T, typename PackB>
void gemm_blocked(const GemmParams& p, T alpha, const T* A, index_t lda, const T* A_packed, const PackB& pack_b_block,
                  T beta, T* C, index_t ldc, const GemmEpilogue<T>* epilogue) {
  for_each_rectangle<T>(p, p.flops(), !A_packed, [&](index_t r0, index_t r1, index_t c0, index_t c1) {
    gemm_block_range(p, alpha, A, lda, A_packed, pack_b_block, beta, C, ldc, epilogue, r0, r1, c0, c1);
  });
}

// gemm_shifted_cpu on rows [r0, r1) x columns [c0, c1) of every C_t. Each packed block of B covers the
// depth block plus max_off rows, so tap t's operand is the same panels read offsets[t] rows further on;
// the loop over taps sits inside the one over B micro-panels, which keeps a panel's window in L1 / L2
// for all taps, and A is packed once for all of them.
template <typename T>
void shifted_block_range(const GemmParams& p, const T* A, index_t lda, const GemmBSource<T>& B, const index_t* offsets,
                         index_t taps, index_t max_off, T beta, T* C, index_t ldc, index_t tap_stride, index_t r0,
                         index_t r1, index_t c0, index_t c1) {
  using BK = Blocking<T>;
  using MK = MicroKernel<T>;
  constexpr int MR = BK::MR, NR = BK::NR;
  if (r0 >= r1 || c0 >= c1) return;
  const index_t kc_max = depth_block<T>(p.K);
  const index_t nc_max = std::min<index_t>(BK::NC_small / 2, ceil_div(c1 - c0, NR) * NR);
  T* Ap = static_cast<T*>(thread_buffer<0>(sizeof(T) * std::size_t(BK::MC * kc_max + kPackSlack)));
  T* Bp = static_cast<T*>(thread_buffer<1>(sizeof(T) * std::size_t((kc_max + max_off) * nc_max)));
  for (index_t jc = c0; jc < c1; jc += nc_max) {
    const index_t nc = std::min<index_t>(nc_max, c1 - jc);
    for (index_t pc = 0; pc < p.K; pc += kc_max) {
      const index_t kc = std::min<index_t>(kc_max, p.K - pc), kb = kc + max_off;
      const T beta_k = pc == 0 ? beta : T(1);
      B.pack(pc, jc, kb, nc, NR, Bp);
      for (index_t ic = r0; ic < r1; ic += BK::MC) {
        const index_t mc = std::min<index_t>(BK::MC, r1 - ic);
        pack_a<T, MR>(A, lda, p.trans_a, ic, pc, mc, kc, Ap);
        for (index_t jp = 0; jp * NR < nc; ++jp) {
          const index_t n = std::min<index_t>(NR, nc - jp * NR);
          for (index_t t = 0; t < taps; ++t) {
            const T* bp = Bp + jp * kb * NR + offsets[t] * NR;
            for (index_t ip = 0; ip < mc; ip += MR) {
              const index_t m = std::min<index_t>(MR, mc - ip);
              T* c = C + t * tap_stride + (ic + ip) * ldc + jc + jp * NR;
              MK::tile(kc, Ap + ip * kc, bp, T(1), beta_k, c, ldc, m, n);
            }
          }
        }
      }
    }
  }
}

struct Lds {
  index_t lda, ldb, ldc;
};

Lds leading_dims(const GemmParams& p) {
  return {p.lda ? p.lda : (p.trans_a ? p.M : p.K), p.ldb ? p.ldb : (p.trans_b ? p.K : p.N),
          p.ldc ? p.ldc : p.N};
}

// C = beta * C without reading C when beta == 0.
template <typename T>
void scale_c(index_t M, index_t N, T beta, T* C, index_t ldc) {
  for (index_t i = 0; i < M; ++i)
    for (index_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
}

}  // namespace

template <typename T>
void gemm_cpu(const GemmParams& p, T alpha, const T* A, const T* B, T beta, T* C) {
  if (p.M <= 0 || p.N <= 0) return;
  const Lds ld = leading_dims(p);
  if (alpha == T(0) || p.K <= 0) {
    scale_c(p.M, p.N, beta, C, ld.ldc);
    return;
  }
  auto pack = [&](index_t pc, index_t kc, index_t jc, index_t nc, T* Bp) {
    pack_b<T, Blocking<T>::NR>(B, ld.ldb, p.trans_b, pc, jc, kc, nc, Bp);
  };
  gemm_blocked(p, alpha, A, ld.lda, static_cast<const T*>(nullptr), pack, beta, C, ld.ldc,
               static_cast<const GemmEpilogue<T>*>(nullptr));
}

template <typename T>
index_t gemm_packed_a_size(const GemmParams& p) {
  return round_up(p.M, Blocking<T>::MR) * std::max<index_t>(p.K, 0) + kPackSlack;
}

template <typename T>
void gemm_pack_a_cpu(const GemmParams& p, const T* A, T* packed) {
  const index_t lda = leading_dims(p).lda, kc_max = depth_block<T>(p.K), m_pad = round_up(p.M, Blocking<T>::MR);
  // Blocks in order: each one's overlapping vector stores past its end land in the next, written after.
  for (index_t pc = 0; pc < p.K; pc += kc_max)
    pack_a<T, Blocking<T>::MR>(A, lda, p.trans_a, 0, pc, p.M, std::min(kc_max, p.K - pc), packed + pc * m_pad);
}

template <typename T>
void gemm_cpu(const GemmParams& p, const T* A, const GemmBSource<T>& B, T beta, T* C, const GemmEpilogue<T>* epilogue,
              const T* A_packed) {
  if (p.M <= 0 || p.N <= 0) return;
  const Lds ld = leading_dims(p);
  if (p.K <= 0) {
    scale_c(p.M, p.N, beta, C, ld.ldc);
    if (epilogue) epilogue->apply(0, p.M, 0, p.N, C, ld.ldc);
    return;
  }
  auto pack = [&](index_t pc, index_t kc, index_t jc, index_t nc, T* Bp) {
    B.pack(pc, jc, kc, nc, Blocking<T>::NR, Bp);
  };
  gemm_blocked(p, T(1), A, ld.lda, A_packed, pack, beta, C, ld.ldc, epilogue);
}

template <typename T>
void gemm_shifted_cpu(const GemmParams& p, const T* A, const GemmBSource<T>& B, const index_t* offsets, index_t taps,
                      T beta, T* C, index_t tap_stride) {
  if (p.M <= 0 || p.N <= 0 || taps <= 0) return;
  const Lds ld = leading_dims(p);
  if (p.K <= 0) {
    for (index_t t = 0; t < taps; ++t) scale_c(p.M, p.N, beta, C + t * tap_stride, ld.ldc);
    return;
  }
  const index_t max_off = *std::max_element(offsets, offsets + taps);
  if (*std::min_element(offsets, offsets + taps) < 0) throw std::invalid_argument("gemm_shifted: negative row offset");
  for_each_rectangle<T>(p, p.flops() * double(taps), true, [&](index_t r0, index_t r1, index_t c0, index_t c1) {
    shifted_block_range(p, A, ld.lda, B, offsets, taps, max_off, beta, C, ld.ldc, tap_stride, r0, r1, c0, c1);
  });
}

template <typename T>
void gemm_reference(const GemmParams& p, T alpha, const T* A, const T* B, T beta, T* C) {
  if (p.M <= 0 || p.N <= 0) return;
  const Lds ld = leading_dims(p);
  if (alpha == T(0) || p.K <= 0) {
    scale_c(p.M, p.N, beta, C, ld.ldc);
    return;
  }
  for (index_t i = 0; i < p.M; ++i)
    for (index_t j = 0; j < p.N; ++j) {
      T sum = 0;
      for (index_t k = 0; k < p.K; ++k) {
        const T a = p.trans_a ? A[k * ld.lda + i] : A[i * ld.lda + k];
        const T b = p.trans_b ? B[j * ld.ldb + k] : B[k * ld.ldb + j];
        sum += a * b;
      }
      T& c = C[i * ld.ldc + j];
      c = beta == T(0) ? alpha * sum : alpha * sum + beta * c;
    }
}

template void gemm_cpu<float>(const GemmParams&, float, const float*, const float*, float, float*);
template void gemm_cpu<double>(const GemmParams&, double, const double*, const double*, double, double*);
template <typename T>
void DenseB<T>::pack(index_t k0, index_t j0, index_t kc, index_t nc, int nr, T* dst) const {
  if (nr != Blocking<T>::NR) throw std::logic_error("DenseB::pack: panel width differs from the micro-kernel's");
  pack_b<T, Blocking<T>::NR>(B_, ldb_, trans_, k0, j0, kc, nc, dst);
}
template class DenseB<float>;
template class DenseB<double>;

template void gemm_cpu<float>(const GemmParams&, const float*, const GemmBSource<float>&, float, float*,
                              const GemmEpilogue<float>*, const float*);
template void gemm_cpu<double>(const GemmParams&, const double*, const GemmBSource<double>&, double, double*,
                               const GemmEpilogue<double>*, const double*);
template index_t gemm_packed_a_size<float>(const GemmParams&);
template index_t gemm_packed_a_size<double>(const GemmParams&);
template void gemm_pack_a_cpu<float>(const GemmParams&, const float*, float*);
template void gemm_pack_a_cpu<double>(const GemmParams&, const double*, double*);
template void gemm_shifted_cpu<float>(const GemmParams&, const float*, const GemmBSource<float>&, const index_t*,
                                      index_t, float, float*, index_t);
template void gemm_shifted_cpu<double>(const GemmParams&, const double*, const GemmBSource<double>&, const index_t*,
                                       index_t, double, double*, index_t);
template void gemm_reference<float>(const GemmParams&, float, const float*, const float*, float, float*);
template void gemm_reference<double>(const GemmParams&, double, const double*, const double*, double,
                                     double*);

}  // namespace kern
