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
void synchronize() { no_cuda("cuda synchronize"); }
void fill_f32(float*, std::size_t, float) { no_cuda("fill"); }

}  // namespace nn::cuda
