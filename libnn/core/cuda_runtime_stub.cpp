// Builds without CUDA: the device queries answer "none"; everything else names the missing backend.
#include "libnn/core/check.h"
#include "libnn/core/cuda_runtime.h"
#include "libnn/core/device.h"

namespace nn::cuda {

namespace {
[[noreturn]] void no_cuda(const char* what) { throw Error(str(what, ": hardtune was built without CUDA")); }
}  // namespace

bool built_with_cuda() { return false; }
bool is_available() { return false; }
int device_count() { return 0; }
void* malloc_device(std::size_t) { no_cuda("cuda malloc"); }
void free_device(void*) {}
void* malloc_host_pinned(std::size_t) { no_cuda("pinned host malloc"); }
void free_host_pinned(void*) {}
void copy_host_to_device(void*, const void*, std::size_t) { no_cuda("copy to cuda"); }
void copy_device_to_host(void*, const void*, std::size_t) { no_cuda("copy from cuda"); }
void copy_device_to_device(void*, const void*, std::size_t) { no_cuda("cuda copy"); }
void copy_host_to_device_async(void*, const void*, std::size_t, kern::Stream, std::shared_ptr<const void>) {
  no_cuda("async copy to cuda");
}
void synchronize() { no_cuda("cuda synchronize"); }

Stream::Stream() { no_cuda("cuda stream"); }
Stream::~Stream() = default;
void Stream::synchronize() const { no_cuda("cuda stream synchronize"); }
void Stream::wait_for(kern::Stream) const { no_cuda("cuda stream wait"); }
kern::Stream current_stream() { return nullptr; }
void current_stream_wait_for(kern::Stream) { no_cuda("cuda stream wait"); }
StreamGuard::StreamGuard(const Stream&) : previous_(nullptr) { no_cuda("cuda stream guard"); }
StreamGuard::~StreamGuard() = default;
void no_kernel(const char* op) { no_cuda(op); }

}  // namespace nn::cuda
