// safetensors: the native format for weights, checkpoints and test references.
// Layout: u64 little-endian header size N, N bytes of JSON {name: {dtype, shape, data_offsets}, ...,
// "__metadata__": {string: string}}, then the raw little-endian data. A reader never trusts the file:
// header size, offsets, shapes and dtypes are checked against the file before any allocation, so a
// truncated or hostile file gives an error naming the file and the entry, never a crash or a huge alloc.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "libnn/core/tensor.h"

namespace nn::io {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
using Metadata = std::map<std::string, std::string>;

struct Safetensors {
  std::string source;   // the path (or the caller's name for the bytes), for error messages
  NamedTensors tensors;  // in file order
  Metadata metadata;

  bool contains(const std::string& name) const;
  const Tensor& get(const std::string& name) const;  // throws naming the file and the missing key
};

Safetensors load_safetensors(const std::string& path);
// The same checks on bytes already in memory (an archive member, a fuzzer's input); source names them
// in errors. The tensors own copies: bytes may be freed afterwards.
Safetensors parse_safetensors(std::span<const std::uint8_t> bytes, const std::string& source);
// Writes atomically (temp file + rename). Tensors may be any layout or device; they are saved contiguous.
void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata = {});

// Upper bound on the JSON header. The format's reference reader allows 100 MB, but nlohmann::json holds a
// header at 17-38x its size, so a hostile 100 MB header would cost up to 3.8 GB before any check; 16 MB
// still describes ~150k tensors (a real header is a few KB to a few MB).
constexpr std::size_t kMaxSafetensorsHeader = 16u << 20;

}  // namespace nn::io
