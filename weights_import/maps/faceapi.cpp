// Key maps from face-api's TF.js FaceRecognitionNet weights: to models::FaceRecognitionNet ("faceapi") and
// to the DLAS net built from its trunk ("faceapi_dlas"). Layouts: TF filters HWIO -> OIHW; the fc matrix is
// stored [in 256, out 128] (desc = g x fc) and becomes nn::Linear's [out, in].
#include <array>
#include <optional>
#include <set>

#include "weights_import/maps/maps.h"
#include "weights_import/tfjs.h"

namespace weights_import::maps {

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
    if (!key.ends_with(tf_suffix)) continue;
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

// Every tensor of the net in our names and layouts; without the fc, it is ignored.
nn::StateDict converted(SourceDict& source, bool with_fc) {
  nn::StateDict out;
  for (const auto& [key, t] : source.entries()) {
    if (key == "fc" && !with_fc) {
      source.ignore(key);
    } else if (auto c = convert(key, t)) {
      source.take(key);
      out.push_back(std::move(*c));
    }
  }
  return out;
}

}  // namespace

nn::StateDict faceapi_to_net(SourceDict& source, const nn::StateDict&) { return converted(source, true); }

nn::StateDict faceapi_to_dlas(SourceDict& source, const nn::StateDict& target) {
  // Without the descriptor projection: DLAS has its own head.
  const nn::StateDict net = converted(source, false);
  const std::vector<std::string> streams = stream_prefixes(target);
  const std::set<std::string> conv128{"conv128_down", "conv128_1", "conv128_2"};
  const std::set<std::string> conv256{"conv256_down", "conv256_1", "conv256_2"};
  nn::StateDict out;
  for (const auto& [key, t] : net) {
    const std::string block = block_of(key);
    if (block == "conv256_down_out") {
      out.emplace_back("agg_layer3.agg_layer." + key, t);
      // layer4 reads the streams' L3 concatenated: each gets the pretrained filters unscaled.
      out.emplace_back("layer4." + key, key == "conv256_down_out.conv1.conv.weight" ? tile(t, 1, streams.size()) : t);
      continue;
    }
    if (conv128.contains(block)) out.emplace_back("agg_layer1.agg_layer." + key, t);
    if (conv256.contains(block)) out.emplace_back("agg_layer2.agg_layer." + key, t);
    for (const std::string& stream : streams) out.emplace_back(stream + key, t);
  }
  return out;
}

bool faceapi_dlas_leaves_to_init(const std::string& key) {
  for (const char* prefix : {"agg_layer1.conv1.", "agg_layer2.conv1.", "agg_layer3.conv1.", "classifier."})
    if (key.starts_with(prefix)) return true;
  return false;
}

}  // namespace weights_import::maps
