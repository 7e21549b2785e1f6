// The key-map registry (REFERENCE.md §2 and the face-api maps). Minimal version from the faceapi branch: only
// the face-api entries; the table is merged with the reference nets' maps.
#include "weights_import/key_maps.h"

#include "weights_import/maps/maps.h"

namespace weights_import {

std::string MapReport::describe() const {
  std::string out = nn::str(mapped, " tensors mapped");
  const auto list = [&](const char* what, const std::vector<std::string>& keys) {
    if (keys.empty()) return;
    out += nn::str("\n", keys.size(), " ", what, ":");
    for (const auto& k : keys) out += "\n  " + k;
  };
  list("unused source keys", unused);
  list("missing target keys", missing);
  list("shape mismatches", mismatched);
  return out;
}

const std::vector<KeyMap>& key_maps() {
  static const std::vector<KeyMap> maps{
      {"faceapi", "face-api TF.js FaceRecognitionNet -> FaceRecognitionNet (HWIO -> OIHW, fc transposed)", map_faceapi},
      {"faceapi_dlas",
       "face-api TF.js FaceRecognitionNet -> faceapi_dlas_a (trunk x3, agg <- conv128 / conv256 / conv256_down_out, "
       "layer4 conv1 tiled 3x; fusion convs and head left to init)",
       map_faceapi_dlas},
  };
  return maps;
}

const KeyMap& find_key_map(const std::string& name) {
  std::string known;
  for (const auto& m : key_maps()) {
    if (m.name == name) return m;
    known += (known.empty() ? "" : ", ") + m.name;
  }
  throw nn::Error(nn::str("unknown key map \"", name, "\"; known maps: ", known));
}

}  // namespace weights_import
