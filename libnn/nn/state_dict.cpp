#include "libnn/nn/state_dict.h"

namespace nn {

StateDict with_prefix(const StateDict& dict, const std::string& prefix) {
  StateDict out;
  out.reserve(dict.size());
  for (const auto& [name, t] : dict) out.emplace_back(prefix + name, t);
  return out;
}

StateDict strip_prefix(const StateDict& dict, const std::string& prefix) {
  StateDict out;
  for (const auto& [name, t] : dict)
    if (name.starts_with(prefix)) out.emplace_back(name.substr(prefix.size()), t);
  return out;
}

Tensor find_entry(const StateDict& dict, const std::string& name) {
  for (const auto& [key, t] : dict)
    if (key == name) return t;
  return {};
}

void save_state_dict(const StateDict& dict, const std::string& path, const io::Metadata& metadata) {
  io::save_safetensors(path, dict, metadata);
}

StateDict load_state_dict_file(const std::string& path) { return io::load_safetensors(path).tensors; }

}  // namespace nn
