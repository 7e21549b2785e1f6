// CUDA runtime glue for libnn (see cuda_runtime.h). Errors become nn::Error with the CUDA message.
#include <cuda_runtime.h>

#include "kernels/cuda/elementwise.h"
#include "libnn/core/check.h"
#include "libnn/core/cuda_runtime.h"
#include "libnn/core/device.h"

namespace nn::cuda {

namespace {
void check(cudaError_t err, const char* what) {
  NN_CHECK(err == cudaSuccess, what, ": ", cudaGetErrorString(err));
}
}  // namespace

bool built_with_cuda() { return true; }

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return n;
}

bool is_available() { return device_count() > 0; }

void* malloc_device(std::size_t bytes) {
  void* p = nullptr;
  if (cudaMalloc(&p, bytes) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  return p;
}

void free_device(void* ptr) { cudaFree(ptr); }

void* malloc_host_pinned(std::size_t bytes) {
  void* p = nullptr;
  // Portable: pinned for every context, so a loader thread's buffer serves the trainer's device too.
  if (cudaHostAlloc(&p, bytes, cudaHostAllocPortable) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  return p;
}

void free_host_pinned(void* ptr) { cudaFreeHost(ptr); }

void copy_host_to_device(void* dst, const void* src, std::size_t bytes) {
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "copy to cuda");
}
void copy_device_to_host(void* dst, const void* src, std::size_t bytes) {
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "copy from cuda");
}
void copy_device_to_device(void* dst, const void* src, std::size_t bytes) {
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice), "cuda copy");
}
void synchronize() { check(cudaDeviceSynchronize(), "cuda synchronize"); }

void fill_f32(float* dst, std::size_t n, float value) {
  kern::fill_cuda<float>(static_cast<kern::index_t>(n), value, dst, nullptr);
  check(cudaGetLastError(), "fill (cuda)");
}

}  // namespace nn::cuda
