// libFuzzer target: arbitrary bytes through nn::io::parse_safetensors. A clean nn::Error is the only
// acceptable failure; any other exception (std::terminate), crash, sanitizer report, leak, timeout or
// allocation past -malloc_limit_mb is a finding.
#include <cstddef>
#include <cstdint>

#include "libnn/io/safetensors.h"
#include "libnn/memory/allocator.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto st = nn::io::parse_safetensors({data, size}, "fuzz input");
    // The parser promises tensors no larger than the input: touching every byte lets ASan catch a
    // buffer smaller than its shape claims, and the total catches an amplifying allocation.
    std::size_t total = 0;
    for (const auto& [name, t] : st.tensors) {
      const std::size_t bytes = static_cast<std::size_t>(t.numel()) * nn::dtype_size(t.dtype());
      const auto* p = static_cast<const volatile std::uint8_t*>(t.raw_data());
      for (std::size_t i = 0; i < bytes; ++i) (void)p[i];
      total += bytes;
      if (!st.contains(name)) __builtin_trap();
    }
    if (total > size) __builtin_trap();
  } catch (const nn::Error&) {
  }
  // Hand cached blocks back to malloc so ASan sees each input's frees and RSS does not creep.
  nn::allocator_for(nn::Device::cpu()).empty_cache();
  return 0;
}
