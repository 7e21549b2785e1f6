#include "libnn/memory/allocator.h"

#include <cstdlib>
#include <new>

#include "libnn/core/check.h"
#include "libnn/core/cuda_runtime.h"

namespace nn {

namespace {
constexpr std::size_t kAlignment = 64;
constexpr std::size_t kGranularity = 512;
// A cached block serves a request up to this much smaller (a third of it at most is wasted). ResNet34
// training, VmHWM above start: exact sizes only 5298 MiB, 1.25: 5011, 1.5: 4916, 2: 5313 (waste wins).
constexpr double kMaxOversize = 1.5;

void* aligned_malloc(std::size_t bytes) { return std::aligned_alloc(kAlignment, bytes); }
void aligned_free(void* p) { std::free(p); }
}  // namespace

CachingAllocator::CachingAllocator(const char* name, SystemAlloc sys_alloc, SystemFree sys_free)
    : name_(name), sys_alloc_(sys_alloc), sys_free_(sys_free) {}

CachingAllocator::~CachingAllocator() { empty_cache(); }

std::size_t CachingAllocator::round_size(std::size_t bytes) {
  if (bytes == 0) bytes = 1;
  return (bytes + kGranularity - 1) / kGranularity * kGranularity;
}

void* CachingAllocator::allocate(std::size_t bytes) {
  const std::size_t size = round_size(bytes);
  std::lock_guard lock(mutex_);
  // The smallest cached size that fits (empty lists are erased, so the first one found has a block).
  auto it = free_blocks_.lower_bound(size);
  void* ptr = nullptr;
  std::size_t taken = size;
  if (it != free_blocks_.end() && double(it->first) <= kMaxOversize * double(size)) {
    taken = it->first;
    ptr = it->second.back();
    it->second.pop_back();
    if (it->second.empty()) free_blocks_.erase(it);
    stats_.cached_bytes -= taken;
    if (taken != size) oversized_[ptr] = taken;
  } else {
    ptr = sys_alloc_(size);
    if (!ptr && stats_.cached_bytes > 0) {  // give the cache back to the system and try once more
      for (auto& [sz, blocks] : free_blocks_)
        for (void* p : blocks) sys_free_(p);
      free_blocks_.clear();
      stats_.cached_bytes = 0;
      ptr = sys_alloc_(size);
    }
    NN_CHECK(ptr, name_, " allocator: out of memory allocating ", size, " bytes (", stats_.live_bytes,
             " bytes live)");
    ++stats_.system_allocations;
  }
  stats_.live_bytes += taken;
  if (stats_.live_bytes > stats_.peak_live_bytes) stats_.peak_live_bytes = stats_.live_bytes;
  return ptr;
}

void CachingAllocator::deallocate(void* ptr, std::size_t bytes) noexcept {
  if (!ptr) return;
  std::size_t size = round_size(bytes);
  std::lock_guard lock(mutex_);
  if (auto o = oversized_.find(ptr); o != oversized_.end()) {
    size = o->second;
    oversized_.erase(o);
  }
  try {
    free_blocks_[size].push_back(ptr);
    stats_.cached_bytes += size;
  } catch (...) {  // bookkeeping failed: release to the system instead of leaking
    sys_free_(ptr);
  }
  stats_.live_bytes -= size;
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void CachingAllocator::empty_cache() {
  std::lock_guard lock(mutex_);
  for (auto& [size, blocks] : free_blocks_)
    for (void* p : blocks) sys_free_(p);
  free_blocks_.clear();
  stats_.cached_bytes = 0;
}

Allocator& allocator_for(Device device) {
  // Leaked on purpose: tensors in static storage may be destroyed after any function-local static.
  static auto* cpu = new CachingAllocator("cpu", aligned_malloc, aligned_free);
  if (device.is_cpu()) return *cpu;
  NN_CHECK(cuda::built_with_cuda(), "allocator: device ", device, " requested, but hardtune was built without CUDA");
  NN_CHECK(device.index == 0, "allocator: only cuda:0 is supported, got ", device);
  static auto* gpu = new CachingAllocator("cuda", cuda::malloc_device, cuda::free_device);
  return *gpu;
}

Allocator& pinned_host_allocator() {
  static Allocator* pinned = cuda::is_available()
                                 ? new CachingAllocator("pinned", cuda::malloc_host_pinned, cuda::free_host_pinned)
                                 : &allocator_for(Device::cpu());
  return *pinned;
}

}  // namespace nn
