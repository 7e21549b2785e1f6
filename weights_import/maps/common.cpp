#include "libnn/ops/tensor_ops.h"
#include "weights_import/maps/maps.h"

namespace weights_import::maps {

std::vector<std::string> stream_prefixes(const nn::StateDict& target) {
  std::vector<std::string> out;
  for (const char* p : {"rgb_backbone.", "depth_backbone.", "ir_backbone."})
    if (has_prefix(target, p)) out.emplace_back(p);
  return out;
}

bool has_prefix(const nn::StateDict& dict, const std::string& prefix) {
  for (const auto& [key, t] : dict)
    if (key.starts_with(prefix)) return true;
  return false;
}

void copy_tree(SourceDict& source, const std::string& from, const std::string& to, nn::StateDict& out,
               bool with_num_batches_tracked) {
  for (const auto& [key, t] : source.entries()) {
    if (!key.starts_with(from)) continue;
    if (!with_num_batches_tracked && key.ends_with("num_batches_tracked")) continue;
    out.emplace_back(to + key.substr(from.size()), source.take(key));
  }
}

nn::Tensor tile(const nn::Tensor& t, int dim, std::size_t times) {
  return times == 1 ? t : nn::ops::cat(std::vector<nn::Tensor>(times, t), dim);
}

}  // namespace weights_import::maps
