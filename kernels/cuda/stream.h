// What a CUDA kernel's public header needs to name a stream. cudaStream_t is a pointer to the opaque
// CUstream_st, so declaring that struct lets g++-compiled code (libnn, tests, benchmarks) call the
// kernels without including cuda_runtime.h. nullptr is the legacy default stream.
#pragma once

struct CUstream_st;

namespace kern {
using Stream = CUstream_st*;
}  // namespace kern
