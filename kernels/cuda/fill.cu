#include "kernels/cuda/fill.h"

namespace kern {

namespace {
__global__ void fill_kernel(float* dst, std::size_t n, float value) {
  // Grid-stride loop: any grid size covers any n.
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
    dst[i] = value;
}
}  // namespace

void fill_cuda(float* dst, std::size_t n, float value, Stream stream) {
  if (n == 0) return;
  constexpr int kThreads = 256;
  const std::size_t blocks = (n + kThreads - 1) / kThreads;
  const int grid = static_cast<int>(blocks < 65535 ? blocks : 65535);
  fill_kernel<<<grid, kThreads, 0, stream>>>(dst, n, value);
}

}  // namespace kern
