// Weights into models from any supported file: our safetensors (a bare state dict or a training checkpoint
// with "model." entries), PyTorch .pth (zip or legacy) and TF.js manifests, through a key map. This is what
// every command that takes a weights path calls, so a .pth works wherever a .safetensors does.
#pragma once

#include <memory>
#include <ostream>
#include <string>

#include "libnn/nn/module.h"
#include "weights_import/key_maps.h"
#include "weights_import/load_weights.h"

namespace infer {

// The model a key map targets by name: a registered multi-modal net (models/registry.h) or "faceapi".
std::shared_ptr<nn::Module> build_target_model(const std::string& name);

// Reads path, maps it (identity: our own names) and loads it into model. With strict, any key problem is an
// error listing every key; otherwise keys the model lacks are skipped and missing ones keep their init.
weights_import::MapReport load_weights_into(nn::Module& model, const std::string& path,
                                            const std::string& map = "identity", bool strict = true);
weights_import::MapReport load_weights_into(nn::Module& model, const weights_import::WeightsFile& file,
                                            const std::string& source, const std::string& map, bool strict);

struct ImportOptions {
  std::string from;   // "pth", "tfjs", "safetensors" or "" (detect)
  std::string map;    // a key map name
  std::string model;  // target; "" = the map's default model
  std::string in, out;
  bool strict = false;
};
// `hardtune import`: maps IN onto the model and writes OUT (safetensors, atomically) with the model's full
// state dict (mapped tensors, the rest at init) and metadata naming the source, map and model.
void run_import(const ImportOptions& options, std::ostream& log);

// `hardtune inspect`: format, metadata, then one line per tensor (name, dtype, shape, bytes) and totals.
void run_inspect(const std::string& path, std::ostream& out);

}  // namespace infer
