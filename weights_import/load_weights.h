// One entry point for "a file of weights", whatever wrote it: the format is detected from the content, not
// the file name (a .pth may be a zip or a legacy pickle, and people rename files).
#pragma once

#include <string>

#include "libnn/nn/state_dict.h"

namespace weights_import {

// safetensors (nn::io::load_safetensors) or a PyTorch checkpoint of either format (read_torch_checkpoint,
// unwrapped and with a DataParallel "module." prefix stripped). Throws nn::Error naming the path and the
// formats it tried when the content matches none.
nn::StateDict load_weights(const std::string& path);

}  // namespace weights_import
