#include "weights_import/key_maps.h"

#include <algorithm>
#include <map>

#include "libnn/core/check.h"
#include "weights_import/maps/maps.h"

namespace weights_import {

namespace {

// The first few keys of a category: a wrong model gives hundreds, and the first ones tell the story.
std::string join_lines(const char* what, const std::vector<std::string>& keys) {
  constexpr std::size_t kShown = 12;
  std::string out;
  for (std::size_t i = 0; i < std::min(keys.size(), kShown); ++i) out += nn::str("\n  ", what, ": ", keys[i]);
  if (keys.size() > kShown) out += nn::str("\n  ... and ", keys.size() - kShown, " more ", what, " keys");
  return out;
}

}  // namespace

std::string MapReport::describe() const {
  std::string out = nn::str(mapped, " tensors mapped, ", left_to_init.size(), " left to the model's init, ",
                            ignored.size(), " source tensors ignored by design; ", unused.size(), " unused, ",
                            missing.size(), " missing, ", unexpected.size(), " unexpected, ", mismatched.size(),
                            " shape mismatches");
  return out + join_lines("unused source key", unused) + join_lines("missing", missing) +
         join_lines("unexpected", unexpected) + join_lines("shape mismatch", mismatched);
}

bool SourceDict::contains(const std::string& key) const { return nn::find_entry(dict_, key).defined(); }

nn::Tensor SourceDict::take(const std::string& key) {
  nn::Tensor t = nn::find_entry(dict_, key);
  NN_CHECK(t.defined(), "the source has no tensor \"", key, "\"");
  taken_.insert(key);
  return t;
}

void SourceDict::report(MapReport& report) const {
  for (const auto& [key, t] : dict_) {
    if (taken_.contains(key)) continue;
    (ignored_.contains(key) ? report.ignored : report.unused).push_back(key);
  }
}

const std::vector<KeyMap>& key_maps() {
  static const std::vector<KeyMap> maps = {
      {"identity", "our own nets: the same names and shapes", "",
       [](SourceDict& source, const nn::StateDict&) {
         nn::StateDict out;
         for (const auto& [key, t] : source.entries()) out.emplace_back(key, source.take(key));
         return out;
       }},
      {"evolve_ir", "face.evoLVe IR-50 / IR-SE-50 / IR-100 / IR-152 Backbone -> IR DLAS-A (REFERENCE.md §2.2)",
       "ir50_dlas_a", maps::evolve_ir_to_dlas, maps::evolve_ir_leaves_to_init},
      {"resnet_caffe", "single-stream ResNetCaffe-34 (MCS2018, attributes trainer) -> ResNet34 DLAS (§2.1)",
       "resnet34_dlas_a", maps::resnet_caffe_to_dlas, maps::resnet_caffe_leaves_to_init},
      {"faceapi", "face-api TF.js FaceRecognitionNet -> FaceRecognitionNet (HWIO -> OIHW, fc transposed)", "faceapi",
       maps::faceapi_to_net},
      {"faceapi_dlas", "face-api TF.js FaceRecognitionNet -> faceapi_dlas_a (the trunk in every stream, agg <- "
       "conv128 / conv256 / conv256_down_out, layer4 <- conv256_down_out tiled per stream)", "faceapi_dlas_a",
       maps::faceapi_to_dlas, maps::faceapi_dlas_leaves_to_init},
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

MappedWeights map_weights(const KeyMap& map, const nn::StateDict& source, const nn::StateDict& target, bool strict,
                          const std::string& source_name) {
  SourceDict src(source);
  nn::StateDict produced;
  try {
    produced = map.apply(src, target);
  } catch (const nn::Error& e) {
    throw nn::Error(nn::str(source_name, ": key map \"", map.name, "\": ", e.what()));
  }
  MappedWeights out;
  src.report(out.report);

  std::map<std::string, const nn::Tensor*> by_name;
  for (const auto& [key, t] : produced) {
    NN_CHECK(by_name.emplace(key, &t).second, source_name, ": key map \"", map.name, "\" produced \"", key,
             "\" twice");
  }
  for (const auto& [key, t] : target) {
    const auto it = by_name.find(key);
    if (it == by_name.end()) {
      (map.leaves_to_init(key) ? out.report.left_to_init : out.report.missing).push_back(key);
    } else if (it->second->shape() != t.shape()) {
      out.report.mismatched.push_back(nn::str(key, ": model ", t.shape(), ", mapped ", it->second->shape()));
    } else {
      out.tensors.emplace_back(key, *it->second);
    }
  }
  std::set<std::string> target_keys;
  for (const auto& [key, t] : target) target_keys.insert(key);
  for (const auto& [key, t] : produced)
    if (!target_keys.contains(key)) out.report.unexpected.push_back(key);
  out.report.mapped = out.tensors.size();
  // A shape mismatch is an error even when not strict (as in torch's load_state_dict): the file was made
  // for another configuration of the model.
  NN_CHECK(out.report.mismatched.empty(), source_name, ": key map \"", map.name,
           "\" gives tensors of other shapes than the model's (another model or width?): ", out.report.describe());
  NN_CHECK(!strict || out.report.clean(), source_name, ": key map \"", map.name, "\" (strict): ",
           out.report.describe());
  return out;
}

}  // namespace weights_import
