// Key maps: from the names and layouts of a pretrained network to ours (REFERENCE.md §2). A map is a pure
// function source dict -> target dict; checking against a model (missing, unused, shape mismatches,
// strict mode) is one shared step, so every map reports the same way.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "libnn/nn/state_dict.h"

namespace weights_import {

struct MapReport {
  std::vector<std::string> unused;   // source keys no target was made from (and the map does not ignore)
  std::vector<std::string> missing;  // target keys the model has but the map did not produce
  std::vector<std::string> mismatched;  // "key: model (..) vs mapped (..)"
  std::size_t mapped = 0;
  bool clean() const { return unused.empty() && missing.empty() && mismatched.empty(); }
  std::string describe() const;  // multi-line, for the CLI and errors
};

struct KeyMap {
  std::string name;
  std::string description;
  // Builds the target dict from the source; records in report.unused the source keys it did not use and
  // does not deliberately ignore.
  std::function<nn::StateDict(const nn::StateDict& source, MapReport& report)> apply;
};

const std::vector<KeyMap>& key_maps();
const KeyMap& find_key_map(const std::string& name);  // throws listing the known maps

}  // namespace weights_import
