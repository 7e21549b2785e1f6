// CUDA runtime glue for libnn (see cuda_runtime.h). Errors become nn::Error with the CUDA message.
#include <cuda_runtime.h>

#include "libnn/core/check.h"
#include "libnn/core/cuda_runtime.h"
#include "libnn/core/device.h"

namespace nn::cuda {

namespace {
void check(cudaError_t err, const char* what) {
  NN_CHECK(err == cudaSuccess, what, ": ", cudaGetErrorString(err));
}

thread_local kern::Stream tls_current = nullptr;

// Runs on a CUDA driver thread once the stream reaches it; frees nothing itself but the last reference
// to a pinned storage, which goes back to the pinned caching allocator (no CUDA call).
void release_keep_alive(void* owner) { delete static_cast<std::shared_ptr<const void>*>(owner); }
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
  // Synchronous for the host: src may be pageable memory the caller frees right after.
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, tls_current), "copy to cuda");
  check(cudaStreamSynchronize(tls_current), "copy to cuda");
}
void copy_device_to_host(void* dst, const void* src, std::size_t bytes) {
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, tls_current), "copy from cuda");
  check(cudaStreamSynchronize(tls_current), "copy from cuda");
}
void copy_device_to_device(void* dst, const void* src, std::size_t bytes) {
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, tls_current), "cuda copy");
}
void copy_host_to_device_async(void* dst, const void* src, std::size_t bytes, kern::Stream stream,
                               std::shared_ptr<const void> keep_alive) {
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream), "async copy to cuda");
  auto* owner = new std::shared_ptr<const void>(std::move(keep_alive));
  const cudaError_t err = cudaLaunchHostFunc(stream, release_keep_alive, owner);
  if (err != cudaSuccess) {
    cudaStreamSynchronize(stream);  // the copy must finish before the source can be released
    delete owner;
    check(err, "async copy to cuda");
  }
}
void synchronize() { check(cudaDeviceSynchronize(), "cuda synchronize"); }

Stream::Stream() { check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cuda stream create"); }
Stream::~Stream() { cudaStreamDestroy(stream_); }
void Stream::synchronize() const { check(cudaStreamSynchronize(stream_), "cuda stream synchronize"); }

namespace {
void stream_wait(kern::Stream waiter, kern::Stream other) {
  if (waiter == other) return;
  cudaEvent_t event = nullptr;
  check(cudaEventCreateWithFlags(&event, cudaEventDisableTiming), "cuda event create");
  check(cudaEventRecord(event, other), "cuda event record");
  check(cudaStreamWaitEvent(waiter, event, 0), "cuda stream wait");
  cudaEventDestroy(event);  // released once the wait has been satisfied
}
}  // namespace

void Stream::wait_for(kern::Stream other) const { stream_wait(stream_, other); }

kern::Stream current_stream() { return tls_current; }
void current_stream_wait_for(kern::Stream other) { stream_wait(tls_current, other); }

StreamGuard::StreamGuard(const Stream& stream) : previous_(tls_current) { tls_current = stream.get(); }
StreamGuard::~StreamGuard() { tls_current = previous_; }

void no_kernel(const char* op) { throw Error(str(op, ": no CUDA kernel for this op")); }

}  // namespace nn::cuda
