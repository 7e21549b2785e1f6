// libFuzzer target: arbitrary bytes through weights_import::parse_torch_checkpoint (zip or legacy, the
// unpickler, tensor rebuilding, unwrapping). Only nn::Error may come out; the tensors it returns must be
// readable to their last byte.
#include <cstddef>
#include <cstdint>

#include "libnn/memory/allocator.h"
#include "weights_import/torch_checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto ckpt = weights_import::parse_torch_checkpoint({data, size}, "fuzz input");
    for (const auto& [name, t] : ckpt.tensors) {
      const std::size_t bytes = static_cast<std::size_t>(t.numel()) * nn::dtype_size(t.dtype());
      const auto* p = static_cast<const volatile std::uint8_t*>(t.raw_data());
      for (std::size_t i = 0; i < bytes; ++i) (void)p[i];
    }
  } catch (const nn::Error&) {
  }
  nn::allocator_for(nn::Device::cpu()).empty_cache();
  return 0;
}
