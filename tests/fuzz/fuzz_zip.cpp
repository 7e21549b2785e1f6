// libFuzzer target: arbitrary bytes as a zip archive; every entry the reader accepts is read in full (its
// CRC is checked there), so an entry reaching outside the buffer is an ASan report.
#include <cstddef>
#include <cstdint>

#include "libnn/core/check.h"
#include "weights_import/zip_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const weights_import::ZipReader zip({data, size}, "fuzz input");
    for (const auto& entry : zip.entries()) {
      const auto bytes = zip.read(entry);
      if (bytes.data() < data || bytes.data() + bytes.size() > data + size) __builtin_trap();
    }
  } catch (const nn::Error&) {
  }
  return 0;
}
