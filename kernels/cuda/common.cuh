// Shared by every .cu in kernels/cuda: launch geometry, error checks and the block reductions.
// Included by .cu files only; public headers include stream.h instead.
//
// Conventions every CUDA kernel follows (they mirror the CPU kernels, which are the spec):
//  - the public function is named like its CPU twin with _cuda for _cpu, takes the same arguments in the
//    same order plus a trailing kern::Stream, and has the same contract (assigned vs accumulated outputs,
//    aliasing, null pointers meaning "not wanted"). All pointers are device memory; scalars that the
//    CPU kernel passes by pointer (a loss, its gradient) stay on the device.
//  - launches are asynchronous on the given stream; launch errors are thrown at once by check_launch.
//  - reductions accumulate in double (Acc<T>) through fixed trees, so a result never depends on timing:
//    no floating-point atomics in any path whose result is compared to the CPU.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/cuda/stream.h"
#include "kernels/params.h"

namespace kern::cu {

constexpr int kThreads = 256;
// Enough blocks to fill an H200 (132 SMs x 16 resident blocks of 256 threads, rounded up); grid-stride
// loops cover the rest, so a launch never needs more.
constexpr index_t kMaxBlocks = 132 * 16;

constexpr index_t ceil_div(index_t a, index_t b) { return (a + b - 1) / b; }

inline int blocks_for(index_t n, int threads = kThreads) {
  const index_t b = ceil_div(n, threads);
  return static_cast<int>(b < 1 ? 1 : b > kMaxBlocks ? kMaxBlocks : b);
}

inline void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}
// After every launch: a bad configuration or a missing sm_90 image is reported by the kernel's name.
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

// Index of this thread in a 1-D grid, and the grid-stride step, as 64-bit values (tensors exceed 2^31).
__device__ __forceinline__ index_t global_index() {
  return static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ index_t grid_stride() { return static_cast<index_t>(gridDim.x) * blockDim.x; }

// The accumulation type of reductions: double for f32/f64 (as the CPU kernels), float for bf16 inputs.
template <typename T> struct AccOf { using type = double; };
template <> struct AccOf<__nv_bfloat16> { using type = float; };
template <typename T> using Acc = typename AccOf<T>::type;

// Loads and stores through float for the storage types, so one kernel body serves f32, f64 and bf16.
template <typename T> __device__ __forceinline__ Acc<T> load(const T* p) { return static_cast<Acc<T>>(*p); }
template <> __device__ __forceinline__ float load(const __nv_bfloat16* p) { return __bfloat162float(*p); }

template <typename A>
__device__ __forceinline__ A warp_sum(A v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

// Sum over the block; the result is valid in every thread. blockDim.x must be a multiple of 32 (at most
// 1024). Contains __syncthreads: every thread of the block must call it.
template <typename A>
__device__ A block_sum(A v) {
  __shared__ A partial[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // partial[] may still be read by a previous call
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  const int warps = blockDim.x >> 5;
  v = warp_sum(lane < warps ? partial[lane] : A(0));  // every warp reduces the partials itself
  return __shfl_sync(0xffffffffu, v, 0);
}

}  // namespace kern::cu
