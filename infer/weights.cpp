#include "infer/weights.h"

#include <cstdio>

#include "libnn/core/check.h"
#include "models/faceapi.h"
#include "models/registry.h"
#include "weights_import/load_weights.h"

namespace infer {

namespace {

// A training checkpoint holds the model under "model." next to the optimizer's and scheduler's state.
nn::StateDict model_entries(const nn::StateDict& dict) {
  nn::StateDict model = nn::strip_prefix(dict, "model.");
  return model.empty() ? dict : model;
}

}  // namespace

std::shared_ptr<nn::Module> build_target_model(const std::string& name) {
  if (name == "faceapi") return std::make_shared<models::FaceRecognitionNet>();
  return models::build_model(name);
}

weights_import::MapReport load_weights_into(nn::Module& model, const weights_import::WeightsFile& file,
                                            const std::string& source, const std::string& map, bool strict) {
  const auto mapped = weights_import::map_weights(weights_import::find_key_map(map), model_entries(file.tensors),
                                                  model.state_dict(), strict, source);
  model.load_state_dict(mapped.tensors, false);
  return mapped.report;
}

weights_import::MapReport load_weights_into(nn::Module& model, const std::string& path, const std::string& map,
                                            bool strict) {
  return load_weights_into(model, weights_import::read_weights_file(path), path, map, strict);
}

void run_import(const ImportOptions& o, std::ostream& log) {
  const weights_import::KeyMap& map = weights_import::find_key_map(o.map);
  const std::string model_name = o.model.empty() ? map.default_model : o.model;
  NN_CHECK(!model_name.empty(), "import: key map \"", map.name, "\" needs --model NAME");
  const weights_import::WeightsFile file = weights_import::read_weights_file(o.in);
  NN_CHECK(o.from.empty() || file.format.starts_with(o.from), o.in, ": is a ", file.format, " file, not ", o.from);
  auto model = build_target_model(model_name);
  const auto mapped = weights_import::map_weights(map, model_entries(file.tensors), model->state_dict(), o.strict, o.in);
  model->load_state_dict(mapped.tensors, false);
  log << o.in << " (" << file.format << ", " << file.tensors.size() << " tensors) -> " << model_name << " via "
      << map.name << ": " << mapped.report.describe() << "\n";
  nn::save_state_dict(model->state_dict(), o.out,
                      {{"source", o.in}, {"source_format", file.format}, {"key_map", map.name}, {"model", model_name}});
  log << "wrote " << o.out << "\n";
}

void run_inspect(const std::string& path, std::ostream& out) {
  const weights_import::WeightsFile file = weights_import::read_weights_file(path);
  out << path << ": " << file.format << ", " << file.tensors.size() << " tensors\n";
  for (const auto& [key, value] : file.metadata) out << "  metadata " << key << " = " << value << "\n";
  std::size_t name_width = 4, total_bytes = 0, total_elements = 0;
  for (const auto& [name, t] : file.tensors) name_width = std::max(name_width, name.size());
  char line[512];
  for (const auto& [name, t] : file.tensors) {
    const std::size_t bytes = static_cast<std::size_t>(t.numel()) * nn::dtype_size(t.dtype());
    std::snprintf(line, sizeof line, "  %-*s  %-5s %-22s %12zu B\n", static_cast<int>(name_width), name.c_str(),
                  nn::dtype_name(t.dtype()), nn::str(t.shape()).c_str(), bytes);
    out << line;
    total_bytes += bytes;
    total_elements += static_cast<std::size_t>(t.numel());
  }
  out << "total: " << total_elements << " elements, " << total_bytes << " bytes\n";
}

}  // namespace infer
