// libFuzzer target: arbitrary bytes through nn::io::parse_safetensors. A clean nn::Error is the only
// acceptable failure; any other exception (std::terminate), crash, sanitizer report, leak, timeout or
// allocation past -malloc_limit_mb is a finding.
#include <cstddef>
#include <cstdint>

#include "libnn/io/safetensors.h"
#include "libnn/memory/allocator.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto st = nn::io::parse_safetensors({data, size}, "fuzz input");
    // The parser promises tensors no larger than the input: the total catches an amplifying allocation.
    const std::size_t total = fuzz::touch_every_byte(st.tensors);
    if (total > size) __builtin_trap();
  } catch (const nn::Error&) {
  }
  // Hand cached blocks back to malloc so ASan sees each input's frees and RSS does not creep.
  nn::allocator_for(nn::Device::cpu()).empty_cache();
  return 0;
}
