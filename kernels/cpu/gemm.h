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

// Same contract as gemm, computed by the textbook triple loop, single-threaded: the spec the tests
// compare gemm against.
template <typename T>
void gemm_reference(const GemmParams& p, T alpha, const T* A, const T* B, T beta, T* C);

}  // namespace kern
