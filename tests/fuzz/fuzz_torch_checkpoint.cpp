// libFuzzer target: arbitrary bytes through weights_import::parse_torch_checkpoint (zip or legacy, the
// unpickler, tensor rebuilding, unwrapping). Only nn::Error may come out; the tensors it returns must be
// readable to their last byte.
#include <cstddef>
#include <cstdint>

#include "libnn/memory/allocator.h"
#include "tests/fuzz/fuzz_support.h"
#include "weights_import/torch_checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto ckpt = weights_import::parse_torch_checkpoint({data, size}, "fuzz input");
    fuzz::touch_every_byte(ckpt.tensors);
  } catch (const nn::Error&) {
  }
  nn::allocator_for(nn::Device::cpu()).empty_cache();
  return 0;
}
