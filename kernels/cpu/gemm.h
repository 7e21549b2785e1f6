// Row-major GEMM on the CPU: the plain reference (the spec) and the fast cache-blocked path that every
// other CPU kernel (conv2d im2col, linear) calls. The library itself never links a BLAS.
#pragma once

#include "kernels/params.h"

namespace kern {

// C (M, N) = alpha * op(A) (M, K) * op(B) (K, N) + beta * C, all row-major (see GemmParams).
// requires: A, B, C contiguous with the leading dimensions of p (0 = natural); lda >= K when !trans_a,
//           lda >= M when trans_a (likewise ldb with N / K); ldc >= N. C must not alias A or B.
// ensures:  C is overwritten with the result. beta == 0 never reads C (C may hold NaN garbage), and
//           alpha == 0 or K == 0 never reads A or B: then C = beta * C.
// Float and double are instantiated; OpenMP threads split the work for large problems.
template <typename T>
void gemm_cpu(const GemmParams& p, T alpha, const T* A, const T* B, T beta, T* C);

// For kernels around the GEMM (conv2d): op(B) produced straight into the packed layout (implicit im2col,
// so the column matrix is never written out), and C finished while its block is still in cache.
template <typename T>
class GemmBSource {
 public:
  virtual ~GemmBSource() = default;
  // Writes op(B)[k0 .. k0+kc, j0 .. j0+nc) to dst as ceil(nc / nr) panels, panel t at dst + t*kc*nr
  // holding row k's nr values at k*nr; columns past nc are zero. Called concurrently by several threads.
  virtual void pack(index_t k0, index_t j0, index_t kc, index_t nc, int nr, T* dst) const = 0;
};

template <typename T>
class GemmEpilogue {
 public:
  virtual ~GemmEpilogue() = default;
  // Called exactly once per element of C, on finished blocks C[i0 .. i1, j0 .. j1) (row stride ldc).
  virtual void apply(index_t i0, index_t i1, index_t j0, index_t j1, T* C, index_t ldc) const = 0;
};

// An ordinary row-major matrix as a GemmBSource: op(B)(k, j) = trans ? B[j * ldb + k] : B[k * ldb + j].
template <typename T>
class DenseB final : public GemmBSource<T> {
 public:
  DenseB(const T* B, index_t ldb, bool trans) : B_(B), ldb_(ldb), trans_(trans) {}
  void pack(index_t k0, index_t j0, index_t kc, index_t nc, int nr, T* dst) const override;

 private:
  const T* B_;
  index_t ldb_;
  bool trans_;
};

// C (M, N) = op(A) * B + beta * C, then the epilogue (when not null). p.trans_b and p.ldb are ignored: B
// decides. beta == 0 never reads C. With A_packed (gemm_pack_a_cpu of the same M, K, op(A)), A is not
// read: weights used for many products are packed once. Results are bitwise those of the unpacked call.
template <typename T>
void gemm_cpu(const GemmParams& p, const T* A, const GemmBSource<T>& B, T beta, T* C,
              const GemmEpilogue<T>* epilogue = nullptr, const T* A_packed = nullptr);

// op(A) of p (M, K, trans_a, lda) in the micro-kernel's panel order, into gemm_packed_a_size(p) elements.
template <typename T>
index_t gemm_packed_a_size(const GemmParams& p);
template <typename T>
void gemm_pack_a_cpu(const GemmParams& p, const T* A, T* packed);

// The taps of a stride-1 convolution read one input shifted by a row offset each: for t in [0, taps),
// C_t (M, N) = op(A) (M, K) * B[offsets[t] .. offsets[t] + K, :] + beta * C_t, C_t at C + t * tap_stride
// (row stride p.ldc). A and each block of B are packed once for all taps (conv2d's backward-weight).
// requires: offsets >= 0; B serves rows [0, K + max offset); the C_t do not overlap A, B or each other.
// Each element's sum runs in the same order whatever the thread count.
template <typename T>
void gemm_shifted_cpu(const GemmParams& p, const T* A, const GemmBSource<T>& B, const index_t* offsets, index_t taps,
                      T beta, T* C, index_t tap_stride);

// Same contract as gemm, computed by the textbook triple loop, single-threaded: the spec the tests
// compare gemm against.
template <typename T>
void gemm_reference(const GemmParams& p, T alpha, const T* A, const T* B, T beta, T* C);

}  // namespace kern
