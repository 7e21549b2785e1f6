// The model registry: every network by name, and from a TOML config. Names:
//   resnet34_dlas_{a,b,c}, ir50_dlas_a, ir_se50_dlas_a, ir100_dlas_a, ir152_dlas_a, casia_surf_baseline,
//   faceapi_dlas_a (face-api's face-recognition net as the streams; 150x150 inputs)
// and reduced variants for fast tests and the demo (same code path, other numbers):
//   <name>_w4    width x1/4, full depth
//   <name>_tiny  width x1/8 and 1-2 units per stage
// and single-modality ablations (one stream, nothing to fuse) of resnet34_dlas_a*, ir50_dlas_a* and the
// baseline: <name>_rgb, <name>_depth, <name>_ir.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/net.h"

namespace models {

struct ModelOptions {
  std::string head = "linear";  // linear | linear_sequential | arc_margin | arc_margin_5e-2
  index_t num_classes = 2;
  bool frozen_head = false;  // the reference never trained its classifier (REFERENCE.md §3.3)
};

struct ModelInfo {
  std::string name;
  std::string description;
  index_t input_size;  // the side the net is meant for (112 for the reference nets)
};

// A model by name with its head options: the [model] table of a config file.
struct ModelSpec {
  std::string name;
  ModelOptions options;
};

class TomlReader;  // models/toml_config.h

std::vector<ModelInfo> list_models();
std::shared_ptr<MultiModalNet> build_model(const std::string& name, const ModelOptions& options = {});

// A [model] table: name = "...", head = "...", num_classes = 2, frozen_head = false. The name must be
// registered and the head known; any other key is an error.
ModelSpec read_model_spec(TomlReader& model);
// A TOML file with a [model] table (other tables are ignored: a training config works too).
std::shared_ptr<MultiModalNet> build_model_from_config(const std::string& path);

}  // namespace models
