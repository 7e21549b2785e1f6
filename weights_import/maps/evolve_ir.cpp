// face.evoLVe Backbone -> IR DLAS-A (REFERENCE.md §2.2). The source's `body` is the flat list of units;
// the stage of a unit is not written in the file, so it is read off the channels: a stage starts at unit 0
// and wherever a unit's first conv changes the width (64 -> 128 -> 256 -> 512 in every face.evoLVe depth).
#include <map>
#include <string>

#include "libnn/core/check.h"
#include "weights_import/maps/maps.h"

namespace weights_import::maps {

namespace {

// body.N -> the first unit of each of the 4 stages, and the unit count.
struct Stages {
  std::array<int, 5> start{};  // start[s] = first unit of stage s + 1; start[4] = the number of units
};

Stages find_stages(const SourceDict& source) {
  std::map<int, nn::Tensor> conv;  // unit -> res_layer.1.weight (depth, in, 3, 3)
  for (const auto& [key, t] : source.entries()) {
    if (!key.starts_with("body.")) continue;
    const auto dot = key.find('.', 5);
    NN_CHECK(dot != std::string::npos && dot > 5 && key.find_first_not_of("0123456789", 5) == dot, "\"", key,
             "\" is not body.<unit>.<name>");
    const int unit = std::stoi(key.substr(5, dot - 5));
    if (key.substr(dot + 1) == "res_layer.1.weight") conv[unit] = t;
  }
  NN_CHECK(!conv.empty(), "no body.<unit>.res_layer.1.weight: not a face.evoLVe IR Backbone");
  Stages s;
  int stage = 0;
  for (int unit = 0; unit < static_cast<int>(conv.size()); ++unit) {
    const auto it = conv.find(unit);
    NN_CHECK(it != conv.end() && it->second.dim() == 4, "body.", unit, ".res_layer.1.weight is missing or not 4-D");
    const bool widens = it->second.size(0) != it->second.size(1);
    if (unit > 0 && widens) {
      NN_CHECK(stage < 3, "more than 4 stages (unit ", unit, " widens again)");
      s.start[++stage] = unit;
    }
  }
  NN_CHECK(stage == 3, "found ", stage + 1, " stages instead of 4 (a stage starts where a unit widens)");
  s.start[4] = static_cast<int>(conv.size());
  return s;
}

std::string unit(int n) { return "body." + std::to_string(n) + "."; }

}  // namespace

nn::StateDict evolve_ir_to_dlas(SourceDict& source, const nn::StateDict& target) {
  const Stages st = find_stages(source);
  nn::StateDict out;
  for (const std::string& stream : stream_prefixes(target)) {
    copy_tree(source, "input_layer.", stream + "input_layer.", out, true);
    for (int s = 1; s <= 3; ++s)
      for (int u = st.start[s - 1]; u < st.start[s]; ++u)
        copy_tree(source, unit(u), stream + "layer" + std::to_string(s) + "." + std::to_string(u - st.start[s - 1]) + ".",
                  out, true);
  }
  // agg_layer{1,2,3} have the structure of stages 2, 3, 4 on one level's channels: the same shapes.
  for (int level = 1; level <= 3; ++level) {
    const std::string agg = "agg_layer" + std::to_string(level) + ".agg_layer.";
    if (!has_prefix(target, agg)) continue;
    for (int u = st.start[level]; u < st.start[level + 1]; ++u)
      copy_tree(source, unit(u), agg + std::to_string(u - st.start[level]) + ".", out, true);
  }
  if (has_prefix(target, "layer4.")) {
    const std::size_t streams = stream_prefixes(target).size();
    for (int u = st.start[3]; u < st.start[4]; ++u) {
      const std::string from = unit(u), to = "layer4." + std::to_string(u - st.start[3]) + ".";
      nn::StateDict unit_out;
      copy_tree(source, from, to, unit_out, false);
      for (auto& [key, t] : unit_out) {
        const std::string rest = key.substr(to.size());
        if (u == st.start[3] && (rest == "shortcut_layer.0.weight" || rest == "res_layer.1.weight"))
          t = tile(t, 1, streams);
        if (u == st.start[3] && rest.starts_with("res_layer.0.")) t = tile(t, 0, streams);  // BN over the inputs
        out.emplace_back(std::move(key), std::move(t));
      }
    }
  }
  for (const auto& [key, t] : source.entries())
    if (key.starts_with("output_layer.")) source.ignore(key);
  return out;
}

bool evolve_ir_leaves_to_init(const std::string& key) {
  return (key.starts_with("agg_layer") && key.find(".conv1.") != std::string::npos) ||
         key.starts_with("classifier.") || (key.starts_with("layer4.") && key.ends_with("num_batches_tracked"));
}

}  // namespace weights_import::maps
