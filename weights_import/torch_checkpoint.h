// PyTorch checkpoints without PyTorch: the zip format (torch >= 1.6: archive/data.pkl + archive/data/N)
// and the legacy format (torch <= 1.5: magic, protocol, sys_info, pickled object with persistent ids,
// storage keys, raw storages). Both go through the allow-list unpickler (pickle.h), so a file can only
// ever describe tensors, storages, dicts and plain values; anything else is rejected naming the global.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "libnn/nn/state_dict.h"

namespace weights_import {

enum class TorchFormat { zip, legacy };

struct TorchCheckpoint {
  std::string source;           // the path, for messages
  TorchFormat format = TorchFormat::zip;
  nn::StateDict tensors;        // in the pickle's order, after unwrapping (see below)
  std::string wrapper;          // the key that held the state dict ("state_dict", "model", ...) or ""
  std::string stripped_prefix;  // "module." when every key had it (DataParallel), else ""
  nn::io::Metadata metadata;    // the wrapper's other plain entries (epoch, arch, ...) as text
  // Entries that are neither tensors nor metadata, as dotted paths: non-tensor values inside the state dict
  // and the wrapper's containers (an optimizer state, a scalar tensor, ...). Listed, never an error.
  std::vector<std::string> skipped;
};

// Reads a checkpoint of either format. Unwraps {'state_dict': d} / {'model': d} / ... and strips a common
// "module." prefix. Every tensor comes back contiguous in its stored dtype (f32, f64, f16, bf16, i64, u8);
// int32 / int16 / int8 storages widen to i64 and bool to u8 (0 / 1), since nn has no such dtypes.
// Duplicate keys, storages that do not hold a tensor's (offset, size, stride), big-endian files and any
// global outside the allow-list are errors naming the file and the entry.
TorchCheckpoint read_torch_checkpoint(const std::string& path);
// The same from bytes in memory (tests, fuzzing); source names them in messages.
TorchCheckpoint parse_torch_checkpoint(std::span<const std::uint8_t> bytes, const std::string& source);

// True when the first bytes look like either format (zip "PK\3\4" or a legacy pickle magic).
bool is_torch_checkpoint(std::span<const std::uint8_t> head);

}  // namespace weights_import
