// Fill a device buffer with a constant: the first CUDA kernel, and the pattern for the rest
// (raw pointers, an explicit stream, no libnn types).
#pragma once

#include <cstddef>

#include "kernels/cuda/stream.h"

namespace kern {

// dst[i] = value for i < n. dst is device memory; stream nullptr = the default stream.
void fill_cuda(float* dst, std::size_t n, float value, Stream stream);

}  // namespace kern
