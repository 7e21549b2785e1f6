// libFuzzer target: arbitrary bytes through the safe unpickler, with a persistent_load that accepts every
// id (so the fuzzer gets past BINPERSID into what follows). Only nn::Error may come out; the value graph
// may be cyclic, so nothing here walks it.
#include <cstddef>
#include <cstdint>

#include "libnn/core/check.h"
#include "weights_import/pickle.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::int64_t next = 0;
  try {
    const auto result = weights_import::pickle::unpickle({data, size}, "fuzz input",
                                                         [&](const weights_import::pickle::Value&) { return next++; });
    if (result.root == nullptr || result.end > size) __builtin_trap();
  } catch (const nn::Error&) {
  }
  return 0;
}
