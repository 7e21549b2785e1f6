// What a model file written by `hardtune train` says about itself, in its safetensors metadata: the
// registry name and head options needed to rebuild the net, and the input normalization it was trained
// with. `predict` reads it back, so a model file is all a user needs to score a list.
#pragma once

#include <string>

#include "libnn/io/safetensors.h"
#include "models/registry.h"

namespace hardtune {

struct ModelFileInfo {
  std::string model;                // registry name ("" when the file does not say)
  models::ModelOptions options;
  std::string normalization;        // cifar | half ("" when the file does not say)
};

nn::io::Metadata model_file_metadata(const ModelFileInfo& info);
// Reads back what model_file_metadata wrote; absent keys keep their defaults. Errors name `source`.
ModelFileInfo parse_model_file_metadata(const nn::io::Metadata& metadata, const std::string& source);

}  // namespace hardtune
