// Row-major GEMM on the GPU, our own tiled kernel: C = alpha * op(A) * op(B) + beta * C with the
// GemmParams of kernels/params.h (beta == 0 never reads C). A, B, C are device memory.
#pragma once

#include "kernels/cuda/stream.h"
#include "kernels/params.h"

namespace kern {

template <typename T>
void gemm_cuda(const GemmParams& p, T alpha, const T* A, const T* B, T beta, T* C, MathMode math,
               Stream stream);

}  // namespace kern
