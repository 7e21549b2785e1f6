// gemm_cuda: the shared tile core (mma.cuh) with dense operands and the alpha / beta store.
#include <string>

#include "kernels/cuda/gemm.h"
#include "kernels/cuda/mma.cuh"

namespace kern {

namespace {

// op(A)(m, k) of a row-major A: trans ? A[k, m] : A[m, k].
template <typename T>
struct DenseA {
  const T* a;
  index_t lda;
  bool trans, k_fast;
  __device__ T operator()(int, int m, int k) const {
    return trans ? a[static_cast<index_t>(k) * lda + m] : a[static_cast<index_t>(m) * lda + k];
  }
};

// op(B)(k, n): trans ? B[n, k] : B[k, n].
template <typename T>
struct DenseB {
  const T* b;
  index_t ldb;
  bool trans, k_fast;
  __device__ T operator()(int, int k, int n) const {
    return trans ? b[static_cast<index_t>(n) * ldb + k] : b[static_cast<index_t>(k) * ldb + n];
  }
};

template <typename T>
struct AlphaBetaStore {
  T* c;
  index_t ldc;
  T alpha, beta;
  template <typename V>
  __device__ void operator()(int, int m, int n, V v) const {
    T* dst = c + static_cast<index_t>(m) * ldc + n;
    // beta == 0 overwrites: C may hold NaN garbage, which 0 * NaN would keep.
    *dst = beta == T(0) ? alpha * T(v) : alpha * T(v) + beta * *dst;
  }
};

}  // namespace

template <typename T>
void gemm_cuda(const GemmParams& p, T alpha, const T* A, const T* B, T beta, T* C, MathMode math, Stream stream) {
  const index_t lda = p.lda ? p.lda : (p.trans_a ? p.M : p.K);
  const index_t ldb = p.ldb ? p.ldb : (p.trans_b ? p.K : p.N);
  const index_t ldc = p.ldc ? p.ldc : p.N;
  if (p.M < 0 || p.N < 0 || p.K < 0 || lda < (p.trans_a ? p.M : p.K) || ldb < (p.trans_b ? p.K : p.N) || ldc < p.N)
    throw std::invalid_argument("gemm_cuda: bad shape M " + std::to_string(p.M) + " N " + std::to_string(p.N) +
                                " K " + std::to_string(p.K) + " lda " + std::to_string(lda) + " ldb " +
                                std::to_string(ldb) + " ldc " + std::to_string(ldc));
  // alpha == 0 never reads A or B (the CPU's contract): a zero depth leaves C = beta * C.
  const index_t depth = alpha == T(0) ? 0 : p.K;
  cu::tile::tile_gemm<T>(p.M, p.N, depth, 1, DenseA<T>{A, lda, p.trans_a, !p.trans_a},
                         DenseB<T>{B, ldb, p.trans_b, p.trans_b}, AlphaBetaStore<T>{C, ldc, alpha, beta}, math,
                         stream, "gemm_cuda");
}

template void gemm_cuda<float>(const GemmParams&, float, const float*, const float*, float, float*, MathMode,
                               Stream);
template void gemm_cuda<double>(const GemmParams&, double, const double*, const double*, double, double*,
                                MathMode, Stream);

}  // namespace kern
