// Shared by the fuzz targets.
#pragma once

#include <cstddef>
#include <cstdint>

#include "libnn/nn/state_dict.h"

namespace fuzz {

// Reads every byte of every tensor a parser returned, so ASan reports a buffer smaller than its shape
// claims; returns the total, for targets that bound it by the input size.
inline std::size_t touch_every_byte(const nn::StateDict& tensors) {
  std::size_t total = 0;
  for (const auto& [name, t] : tensors) {
    const std::size_t bytes = static_cast<std::size_t>(t.numel()) * nn::dtype_size(t.dtype());
    const auto* p = static_cast<const volatile std::uint8_t*>(t.raw_data());
    for (std::size_t i = 0; i < bytes; ++i) (void)p[i];
    total += bytes;
  }
  return total;
}

}  // namespace fuzz
