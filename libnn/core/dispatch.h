// The one place where an op chooses between a CPU kernel and its CUDA twin.
// NN_KERNEL(device, name, args...): kern::name_cpu(args...) on the CPU; on a CUDA device
//   kern::name_cuda(args..., the thread's current stream), declared in kernels/cuda/ with the same
//   arguments plus the stream.
// NN_KERNEL_WS(device, ws, name, args...): the same for kernels whose CUDA twin reduces through a scratch
//   array of doubles, passed before the stream: ws, made by NN_CUDA_SCRATCH(device, doubles) (an f64
//   tensor on a CUDA device, undefined on the CPU, where the kernels need none).
// NN_CUDA(name, args...): kern::name(args..., current stream), for entries that exist on CUDA only (our
//   conv2d and GEMM with their MathMode, the cuDNN and cuBLAS backends).
// A build without CUDA raises "built without CUDA" instead of calling anything on CUDA (no tensor can be
// on a CUDA device there anyway), so no CUDA symbol is referenced.
#pragma once

#include <algorithm>

#include "libnn/core/cuda_runtime.h"
#include "libnn/core/tensor.h"

#if NN_WITH_CUDA
#define NN_CUDA(name, ...) ::kern::name(__VA_ARGS__, ::nn::cuda::current_stream())
#define NN_CUDA_SCRATCH(device, doubles)                                                                   \
  ((device).is_cuda() ? ::nn::Tensor::empty({std::max<::nn::index_t>((doubles), 1)}, ::nn::DType::f64, (device)) \
                      : ::nn::Tensor())
#else
// The arguments stay in an unevaluated operand: used for the compiler's warnings, never run or linked.
#define NN_CUDA(name, ...) ((void)sizeof(::nn::detail::ignore(__VA_ARGS__)), ::nn::cuda::no_kernel(#name))
#define NN_CUDA_SCRATCH(device, doubles) ((void)sizeof(doubles), (void)(device), ::nn::Tensor())
#endif

#define NN_KERNEL(device, name, ...) \
  ((device).is_cuda() ? NN_CUDA(name##_cuda, __VA_ARGS__) : ::kern::name##_cpu(__VA_ARGS__))
#define NN_KERNEL_WS(device, ws, name, ...)                                                     \
  ((device).is_cuda() ? NN_CUDA(name##_cuda, __VA_ARGS__, ::nn::detail::scratch_data(ws)) \
                      : ::kern::name##_cpu(__VA_ARGS__))

namespace nn::detail {
inline double* scratch_data(const Tensor& ws) { return ws.defined() ? ws.data<double>() : nullptr; }
template <typename... Args>
constexpr int ignore(const Args&...) {
  return 0;
}
}  // namespace nn::detail
