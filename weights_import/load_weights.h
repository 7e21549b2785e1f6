// One entry point for "a file of weights", whatever wrote it: the format is detected from the content, not
// the file name (a .pth may be a zip or a legacy pickle, and people rename files).
#pragma once

#include <string>

#include "libnn/nn/state_dict.h"

namespace weights_import {

struct WeightsFile {
  std::string format;          // "safetensors", "pth (zip)", "pth (legacy)", "tfjs"
  nn::StateDict tensors;       // in file order
  nn::io::Metadata metadata;   // safetensors metadata; a checkpoint's wrapper, prefix and plain entries
};

// safetensors (nn::io::load_safetensors), a PyTorch checkpoint of either format (read_torch_checkpoint,
// unwrapped and with a DataParallel "module." prefix stripped) or a TF.js weights manifest (load_tfjs).
// Throws nn::Error naming the path and the formats it tried when the content matches none.
WeightsFile read_weights_file(const std::string& path);
nn::StateDict load_weights(const std::string& path);  // read_weights_file(path).tensors

}  // namespace weights_import
