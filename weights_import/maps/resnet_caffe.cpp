// Single-stream ResNetCaffe-34 (MCS2018, attributes trainer) -> ResNet34 DLAS (REFERENCE.md §2.1): the stem
// and stages 1-3 into every stream, stages 2-4 into agg_layer1-3, stage 4 into layer4 with its first conv
// repeated once per stream along the inputs. num_batches_tracked is never copied (the reference skips it).
#include "weights_import/maps/maps.h"

namespace weights_import::maps {

nn::StateDict resnet_caffe_to_dlas(SourceDict& source, const nn::StateDict& target) {
  nn::StateDict out;
  for (const std::string& stream : stream_prefixes(target))
    for (const char* part : {"conv1.", "bn1.", "relu.", "layer1.", "layer2.", "layer3."})
      copy_tree(source, part, stream + part, out, false);
  for (int level = 1; level <= 3; ++level) {
    const std::string agg = "agg_layer" + std::to_string(level) + ".agg_layer.";
    if (has_prefix(target, agg)) copy_tree(source, "layer" + std::to_string(level + 1) + ".", agg, out, false);
  }
  if (has_prefix(target, "layer4.")) {
    nn::StateDict layer4;
    copy_tree(source, "layer4.", "layer4.", layer4, false);
    for (auto& [key, t] : layer4) {
      if (key == "layer4.0.weight") t = tile(t, 1, stream_prefixes(target).size());
      out.emplace_back(std::move(key), std::move(t));
    }
  }
  for (const auto& [key, t] : source.entries())
    if (key.starts_with("fc.") || key.starts_with("se_block.") || key.ends_with("num_batches_tracked") ||
        key.starts_with("ch_att"))
      source.ignore(key);
  return out;
}

bool resnet_caffe_leaves_to_init(const std::string& key) {
  return key.ends_with("num_batches_tracked") || key.starts_with("classifier.") ||
         key.find("ch_att") != std::string::npos || key.ends_with("_bottleneck.weight") ||
         key.ends_with("_bottleneck.bias") || (key.starts_with("agg_layer") && key.find(".conv1.") != std::string::npos);
}

}  // namespace weights_import::maps
