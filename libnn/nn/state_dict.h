// StateDict: an ordered list of (dotted name, tensor), the in-memory form of a checkpoint. Modules,
// optimizers and LR schedulers all export one, so a checkpoint is their concatenation under the prefixes
// "model.", "optimizer.", "scheduler." and is written with safetensors like every other weight file.
#pragma once

#include <string>

#include "libnn/io/safetensors.h"

namespace nn {

using StateDict = io::NamedTensors;

// Every entry, renamed prefix + name.
StateDict with_prefix(const StateDict& dict, const std::string& prefix);
// The entries whose name starts with prefix, with the prefix removed (order kept).
StateDict strip_prefix(const StateDict& dict, const std::string& prefix);
// The tensor stored under name, or an undefined Tensor.
Tensor find_entry(const StateDict& dict, const std::string& name);

void save_state_dict(const StateDict& dict, const std::string& path, const io::Metadata& metadata = {});
StateDict load_state_dict_file(const std::string& path);

}  // namespace nn
