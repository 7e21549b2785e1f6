#include "train/model_file.h"

#include "libnn/core/check.h"

namespace hardtune {

nn::io::Metadata model_file_metadata(const ModelFileInfo& info) {
  return {{"model", info.model},
          {"head", info.options.head},
          {"num_classes", std::to_string(info.options.num_classes)},
          {"frozen_head", info.options.frozen_head ? "true" : "false"},
          {"normalization", info.normalization}};
}

ModelFileInfo parse_model_file_metadata(const nn::io::Metadata& m, const std::string& source) {
  ModelFileInfo info;
  const auto get = [&](const char* key) { const auto it = m.find(key); return it == m.end() ? std::string() : it->second; };
  info.model = get("model");
  if (const std::string head = get("head"); !head.empty()) info.options.head = head;
  if (const std::string n = get("num_classes"); !n.empty()) {
    try {
      info.options.num_classes = std::stol(n);
    } catch (const std::exception&) {
      throw nn::Error(nn::str(source, ": metadata num_classes is not a number: '", n, "'"));
    }
  }
  info.options.frozen_head = get("frozen_head") == "true";
  info.normalization = get("normalization");
  return info;
}

}  // namespace hardtune
