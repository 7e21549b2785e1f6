// Key maps from face-api's TF.js FaceRecognitionNet weights: to models::FaceRecognitionNet ("faceapi") and
// to the DLAS net built from its trunk ("faceapi_dlas"). Layouts: TF filters HWIO -> OIHW; the fc matrix is
// stored [in 256, out 128] (desc = g x fc) and becomes nn::Linear's [out, in].
#include <array>
#include <optional>
#include <set>

#include "libnn/ops/tensor_ops.h"
#include "weights_import/maps/maps.h"
#include "weights_import/tfjs.h"

namespace weights_import {

namespace {

// The 29 conv units of the net, as TF.js name prefixes: conv32_down and <block>/conv{1,2} of its 14 blocks.
const std::set<std::string>& faceapi_units() {
  static const std::set<std::string> units = [] {
    std::set<std::string> u{"conv32_down"};
    for (const char* block :
         {"conv32_1", "conv32_2", "conv32_3", "conv64_down", "conv64_1", "conv64_2", "conv64_3", "conv128_down",
          "conv128_1", "conv128_2", "conv256_down", "conv256_1", "conv256_2", "conv256_down_out"})
      for (const char* conv : {"/conv1", "/conv2"}) u.insert(std::string(block) + conv);
    return u;
  }();
  return units;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string dotted(std::string s) {
  for (char& c : s)
    if (c == '/') c = '.';
  return s;
}

// One source tensor in our name and layout, or nothing when the key is not one of the net's.
std::optional<std::pair<std::string, nn::Tensor>> convert(const std::string& key, const nn::Tensor& t) {
  if (key == "fc") {
    NN_CHECK(t.dim() == 2, "map faceapi: fc must be 2-d [in, out], got ", t.describe());
    return std::pair{std::string("fc.weight"), t.transpose(0, 1).contiguous()};
  }
  static const std::array<std::pair<const char*, const char*>, 4> suffixes{{{"/conv/filters", ".conv.weight"},
                                                                            {"/conv/bias", ".conv.bias"},
                                                                            {"/scale/weights", ".scale.weight"},
                                                                            {"/scale/biases", ".scale.bias"}}};
  for (const auto& [tf_suffix, our_suffix] : suffixes) {
    if (!ends_with(key, tf_suffix)) continue;
    const std::string unit = key.substr(0, key.size() - std::string(tf_suffix).size());
    if (!faceapi_units().contains(unit)) return std::nullopt;
    const std::string target = dotted(unit) + our_suffix;
    if (std::string(tf_suffix) == "/conv/filters") {
      NN_CHECK(t.dim() == 4, "map faceapi: ", key, " must be 4-d HWIO filters, got ", t.describe());
      return std::pair{target, hwio_to_oihw(t)};
    }
    NN_CHECK(t.dim() == 1, "map faceapi: ", key, " must be a vector, got ", t.describe());
    return std::pair{target, t};
  }
  return std::nullopt;
}

// The first dotted component: the block ("conv64_1") or layer ("conv32_down", "fc") a key belongs to.
std::string block_of(const std::string& key) { return key.substr(0, key.find('.')); }

}  // namespace

nn::StateDict map_faceapi(const nn::StateDict& source, MapReport& report) {
  nn::StateDict out;
  for (const auto& [key, t] : source) {
    if (auto converted = convert(key, t)) {
      out.push_back(std::move(*converted));
      ++report.mapped;
    } else {
      report.unused.push_back(key);
    }
  }
  return out;
}

nn::StateDict map_faceapi_dlas(const nn::StateDict& source, MapReport& report) {
  MapReport single;
  const nn::StateDict net = map_faceapi(source, single);
  report.unused.insert(report.unused.end(), single.unused.begin(), single.unused.end());

  const std::set<std::string> conv128{"conv128_down", "conv128_1", "conv128_2"};
  const std::set<std::string> conv256{"conv256_down", "conv256_1", "conv256_2"};
  // In DlasNet's registration order: layer4, agg_layer1..3, then the streams.
  nn::StateDict layer4, agg1, agg2, agg3, trunk;
  for (const auto& [key, t] : net) {
    const std::string block = block_of(key);
    if (block == "fc") continue;  // the descriptor projection: DLAS has its own head
    if (block == "conv256_down_out") {
      agg3.emplace_back("agg_layer3.agg_layer." + key, t);
      // The 768 inputs of layer4 are the three streams' L3: each gets the pretrained filters unscaled.
      layer4.emplace_back("layer4." + key,
                          key == "conv256_down_out.conv1.conv.weight" ? nn::ops::cat({t, t, t}, 1) : t);
      continue;
    }
    if (conv128.contains(block)) agg1.emplace_back("agg_layer1.agg_layer." + key, t);
    if (conv256.contains(block)) agg2.emplace_back("agg_layer2.agg_layer." + key, t);
    trunk.emplace_back(key, t);
  }
  nn::StateDict out;
  for (const auto* part : {&layer4, &agg1, &agg2, &agg3}) out.insert(out.end(), part->begin(), part->end());
  for (const char* stream : {"rgb_backbone.", "depth_backbone.", "ir_backbone."})
    for (const auto& [key, t] : trunk) out.emplace_back(stream + key, t);
  report.mapped += out.size();
  return out;
}

bool faceapi_dlas_left_to_init(const std::string& key) {
  for (const char* prefix : {"agg_layer1.conv1.", "agg_layer2.conv1.", "agg_layer3.conv1.", "classifier."})
    if (key.starts_with(prefix)) return true;
  return false;
}

}  // namespace weights_import
