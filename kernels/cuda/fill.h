// Fill a device buffer with a constant: the first CUDA kernel, and the pattern for the rest
// (raw pointers, an explicit stream, no libnn types).
#pragma once

#include <cstddef>

struct CUstream_st;

namespace kern {

// dst[i] = value for i < n. dst is device memory; stream nullptr = the default stream.
void fill_cuda(float* dst, std::size_t n, float value, CUstream_st* stream);

}  // namespace kern
