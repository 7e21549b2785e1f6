// Storage: a reference-counted buffer on one device, taken from that device's caching allocator.
// Views (reshape, permute, slice) share one Storage through std::shared_ptr.
#pragma once

#include <cstddef>
#include <memory>

#include "libnn/core/device.h"
#include "libnn/memory/allocator.h"

namespace nn {

class Storage {
 public:
  Storage(std::size_t nbytes, Device device) : Storage(nbytes, device, allocator_for(device)) {}
  Storage(std::size_t nbytes, Device device, Allocator& allocator)
      : nbytes_(nbytes), device_(device), allocator_(&allocator), data_(allocator_->allocate(nbytes)) {}
  ~Storage() { allocator_->deallocate(data_, nbytes_); }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  // Page-locked host memory, which the GPU can copy from asynchronously.
  bool pinned() const {
    return device_.is_cpu() && allocator_ == &pinned_host_allocator() && allocator_ != &allocator_for(device_);
  }

 private:
  std::size_t nbytes_;
  Device device_;
  Allocator* allocator_;
  void* data_;
};

}  // namespace nn
