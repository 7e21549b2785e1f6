// The one place where an op chooses between a CPU kernel and its CUDA twin.
// NN_KERNEL(device, name, args...): kern::name_cpu(args...) on the CPU; on a CUDA device
//   kern::name_cuda(args..., the thread's current stream), declared in kernels/cuda/ with the same
//   arguments plus the stream.
// NN_CUDA(name, args...): kern::name(args..., current stream), for entries that exist on CUDA only (our
//   conv2d and GEMM with their MathMode, the cuDNN and cuBLAS backends).
// A build without CUDA raises "built without CUDA" instead of calling anything on CUDA (no tensor can be
// on a CUDA device there anyway), so no CUDA symbol is referenced.
#pragma once

#include "libnn/core/cuda_runtime.h"

#if NN_WITH_CUDA
#define NN_CUDA(name, ...) ::kern::name(__VA_ARGS__, ::nn::cuda::current_stream())
#else
#define NN_CUDA(name, ...) ::nn::cuda::no_kernel(#name)
#endif

#define NN_KERNEL(device, name, ...) \
  ((device).is_cuda() ? NN_CUDA(name##_cuda, __VA_ARGS__) : ::kern::name##_cpu(__VA_ARGS__))
