// Key maps: from the names and layouts of a pretrained network to one of ours (REFERENCE.md §2). A map
// builds the target dict from the source; it is given the target model's own state dict (names and shapes)
// so that it fills only the streams the model has and sizes its concatenations to the model's inputs.
// Checking the result against the model (missing, unused, unexpected, shape mismatches, strict mode) is one
// shared step, so every map reports the same way.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "libnn/nn/state_dict.h"

namespace weights_import {

struct MapReport {
  std::size_t mapped = 0;
  std::vector<std::string> unused;        // source keys the map neither used nor deliberately ignores
  std::vector<std::string> ignored;       // source keys deliberately left out (e.g. face.evoLVe output_layer)
  std::vector<std::string> left_to_init;  // target keys the map never fills by design (fusion convs, head)
  std::vector<std::string> missing;       // other target keys that got no value
  std::vector<std::string> unexpected;    // mapped keys the target does not have
  std::vector<std::string> mismatched;    // "key: model [..], mapped [..]"
  // Nothing unused, missing, unexpected or mismatched (left_to_init and ignored are by design).
  bool clean() const { return unused.empty() && missing.empty() && unexpected.empty() && mismatched.empty(); }
  std::string describe() const;  // one line of counts, then one line per problem key
};

// Tracks which source keys a map consumed; what is neither taken nor ignored is reported as unused.
class SourceDict {
 public:
  explicit SourceDict(const nn::StateDict& dict) : dict_(dict) {}
  const nn::StateDict& entries() const { return dict_; }
  bool contains(const std::string& key) const;
  nn::Tensor take(const std::string& key);  // throws naming the key when absent
  void ignore(const std::string& key) { ignored_.insert(key); }
  void report(MapReport& report) const;     // fills unused and ignored

 private:
  const nn::StateDict& dict_;
  std::set<std::string> taken_, ignored_;
};

struct KeyMap {
  std::string name;
  std::string description;
  std::string default_model;  // the model `hardtune import` maps onto when none is given ("" = any)
  // target: the model's state dict (only names and shapes are read).
  std::function<nn::StateDict(SourceDict& source, const nn::StateDict& target)> apply;
  // Target keys this map never fills: the report lists them as left_to_init, not missing.
  std::function<bool(const std::string& target_key)> leaves_to_init = [](const std::string&) { return false; };
};

const std::vector<KeyMap>& key_maps();
const KeyMap& find_key_map(const std::string& name);  // throws listing the known maps

struct MappedWeights {
  nn::StateDict tensors;  // only keys the target has, with its shapes: load with strict = false
  MapReport report;
};
// Applies the map and checks the result against the target. With strict, any problem of the report is an
// error naming source_name and listing every problem key.
MappedWeights map_weights(const KeyMap& map, const nn::StateDict& source, const nn::StateDict& target, bool strict,
                          const std::string& source_name);

}  // namespace weights_import
