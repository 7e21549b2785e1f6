// The CUDA runtime calls libnn needs, behind plain functions so that no libnn header includes
// cuda_runtime.h. Implemented in cuda_runtime.cu, or in cuda_runtime_stub.cpp for builds without CUDA
// (there every call but the queries throws "built without CUDA").
//
// Streams: every op launches its kernels on current_stream(), which is the legacy default stream unless a
// StreamGuard names another for the calling thread. One compute stream per thread keeps the caching
// allocator safe without bookkeeping: a block freed by the host is reused only by work queued after the
// work that used it. A side stream (the loader's copies) first waits for the compute stream, and the
// compute stream waits for it before using what it produced (Stream::wait_for).
#pragma once

#include <cstddef>
#include <memory>

#include "kernels/cuda/stream.h"

namespace nn::cuda {

void* malloc_device(std::size_t bytes);  // nullptr when out of memory
void free_device(void* ptr);
// Page-locked host memory: the GPU's DMA engines read it directly, so host-to-device copies from it run at
// full bus speed and can be asynchronous. nullptr when it cannot be had.
void* malloc_host_pinned(std::size_t bytes);
void free_host_pinned(void* ptr);

// Copies ordered on current_stream(). The host-side ones return when the host memory may be reused
// (host to device) or read (device to host); device to device only queues the copy.
void copy_host_to_device(void* dst, const void* src, std::size_t bytes);
void copy_device_to_host(void* dst, const void* src, std::size_t bytes);
void copy_device_to_device(void* dst, const void* src, std::size_t bytes);
// Queues a host-to-device copy on `stream` and returns at once. src must be pinned and must stay
// untouched until the copy is done: `keep_alive` is held until then (the tensor's storage).
void copy_host_to_device_async(void* dst, const void* src, std::size_t bytes, kern::Stream stream,
                               std::shared_ptr<const void> keep_alive);
void synchronize();  // the whole device

// A stream of this library's own: created non-blocking, so it runs beside the legacy default stream.
class Stream {
 public:
  Stream();
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  kern::Stream get() const { return stream_; }
  void synchronize() const;
  // Work queued on this stream from now on starts after the work queued on `other` so far.
  void wait_for(kern::Stream other) const;

 private:
  kern::Stream stream_ = nullptr;
};

// The stream ops launch on in this thread.
kern::Stream current_stream();
// Work queued on current_stream() from now on starts after the work queued on `other` so far.
void current_stream_wait_for(kern::Stream other);

// Makes `stream` the calling thread's current stream for its scope.
class StreamGuard {
 public:
  explicit StreamGuard(const Stream& stream);
  ~StreamGuard();
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  [[maybe_unused]] kern::Stream previous_;  // read by the CUDA build's destructor only
};

// For ops without a CUDA kernel in this build: throws "<op>: hardtune was built without CUDA".
[[noreturn]] void no_kernel(const char* op);

}  // namespace nn::cuda
