// Row-major GEMM through cuBLAS (cublasGemmEx_64), with the contract of kernels/cpu/gemm.h.
//
// cuBLAS is column-major. A row-major (rows, cols) matrix with leading dimension ld is, read column-major,
// its transpose with the same ld, so row-major C = op(A) op(B) is computed as column-major
// C^T (N, M) = op(B)^T op(A)^T: the operands swap places and keep their own transpose flags.
//
// MathMode: fp32 computes in CUBLAS_COMPUTE_32F on a handle left in CUBLAS_DEFAULT_MATH, which never
// rounds operands to TF32; tf32 asks CUBLAS_COMPUTE_32F_FAST_TF32. f64 data computes in CUBLAS_COMPUTE_64F.
// beta == 0 never reads C: cuBLAS guarantees it, so C may hold NaN garbage as with the CPU kernel.
#include <cublas_v2.h>

#include <mutex>
#include <string>

#include "kernels/cuda/vendor.h"
#include "kernels/cuda/vendor_context.cuh"

namespace kern {

namespace {

void check_cublas(cublasStatus_t status, const char* call, const std::string& op) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(op + ": " + call + ": " + cublasGetStatusName(status) + " (" +
                             cublasGetStatusString(status) + ")");
}

// The cuBLAS handle of one (device, stream): see vendor_context.cuh for why it is cached.
struct CublasContext {
  std::mutex mutex;
  cublasHandle_t handle = nullptr;

  explicit CublasContext(Stream stream) {
    check_cublas(cublasCreate(&handle), "cublasCreate", "cuBLAS context");
    check_cublas(cublasSetStream(handle, stream), "cublasSetStream", "cuBLAS context");
  }
};

std::string describe(const GemmParams& p) {
  using std::to_string;
  return "gemm_cublas (M=" + to_string(p.M) + " N=" + to_string(p.N) + " K=" + to_string(p.K) +
         " trans_a=" + to_string(p.trans_a) + " trans_b=" + to_string(p.trans_b) + " lda=" + to_string(p.lda) +
         " ldb=" + to_string(p.ldb) + " ldc=" + to_string(p.ldc) + ")";
}

template <typename T> constexpr cudaDataType_t cuda_type();
template <> constexpr cudaDataType_t cuda_type<float>() { return CUDA_R_32F; }
template <> constexpr cudaDataType_t cuda_type<double>() { return CUDA_R_64F; }

// The natural leading dimension when p leaves it 0; cuBLAS wants at least 1 even for an empty operand.
index_t leading(index_t given, index_t natural) { return given ? given : (natural > 1 ? natural : 1); }

}  // namespace

template <typename T>
void gemm_cublas(const GemmParams& p, T alpha, const T* A, const T* B, T beta, T* C, MathMode math,
                 Stream stream) {
  cu::check_math<T>(math, "gemm_cublas");
  if (p.M == 0 || p.N == 0) return;
  const index_t lda = leading(p.lda, p.trans_a ? p.M : p.K);
  const index_t ldb = leading(p.ldb, p.trans_b ? p.K : p.N);
  const index_t ldc = leading(p.ldc, p.N);
  cublasComputeType_t compute = CUBLAS_COMPUTE_64F;
  if constexpr (sizeof(T) == 4) compute = math == MathMode::tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  auto locked = cu::context_for<CublasContext>(stream);
  const cublasStatus_t status =
      cublasGemmEx_64(locked.ctx.handle, p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                      p.N, p.M, p.K, &alpha, B, cuda_type<T>(), ldb, A, cuda_type<T>(), lda, &beta, C, cuda_type<T>(),
                      ldc, compute, CUBLAS_GEMM_DEFAULT);
  check_cublas(status, "cublasGemmEx_64", describe(p));
}

template void gemm_cublas<float>(const GemmParams&, float, const float*, const float*, float, float*, MathMode,
                                 Stream);
template void gemm_cublas<double>(const GemmParams&, double, const double*, const double*, double, double*,
                                  MathMode, Stream);

}  // namespace kern
