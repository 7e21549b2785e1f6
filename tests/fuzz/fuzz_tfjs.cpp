// libFuzzer target: a TF.js manifest and its weights. The input is the manifest text up to the first NUL
// byte; the bytes after it are what every shard path reads (one shard, or the same bytes again). Only
// nn::Error may come out; every returned tensor must be readable to its last byte.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "libnn/memory/allocator.h"
#include "tests/fuzz/fuzz_support.h"
#include "weights_import/tfjs.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto* nul = static_cast<const std::uint8_t*>(std::memchr(data, 0, size));
  const std::size_t split = nul ? static_cast<std::size_t>(nul - data) : size;
  const std::string manifest(reinterpret_cast<const char*>(data), split);
  const std::vector<std::uint8_t> shard(data + std::min(size, split + 1), data + size);
  try {
    const auto tensors = weights_import::parse_tfjs(manifest, [&](const std::string&) { return shard; }, "fuzz input");
    fuzz::touch_every_byte(tensors);
  } catch (const nn::Error&) {
  }
  nn::allocator_for(nn::Device::cpu()).empty_cache();
  return 0;
}
