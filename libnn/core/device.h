// Devices. Host<->device copies are always explicit (Tensor::to). A build without CUDA still knows the
// CUDA device type; using it raises "built without CUDA".
#pragma once

#include <ostream>
#include <string>

namespace nn {

enum class DeviceType : unsigned char { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static Device cpu() { return {DeviceType::CPU, 0}; }
  static Device cuda(int i = 0) { return {DeviceType::CUDA, i}; }
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  friend std::ostream& operator<<(std::ostream& os, const Device& d) {
    return d.is_cpu() ? os << "cpu" : os << "cuda:" << d.index;
  }
};

namespace cuda {
bool built_with_cuda();
// True when built with CUDA and at least one device answers; never throws.
bool is_available();
int device_count();
}  // namespace cuda

}  // namespace nn
