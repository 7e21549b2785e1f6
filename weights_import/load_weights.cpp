#include "weights_import/load_weights.h"

#include <array>
#include <fstream>

#include "weights_import/torch_checkpoint.h"

namespace weights_import {

namespace {

// safetensors: u64 little-endian header length, then a JSON object.
bool is_safetensors(std::span<const std::uint8_t> head) { return head.size() >= 9 && head[8] == '{'; }

}  // namespace

WeightsFile read_weights_file(const std::string& path) {
  std::array<std::uint8_t, 64> buf{};
  std::ifstream in(path, std::ios::binary);
  NN_CHECK(in, path, ": cannot open file");
  in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
  const std::span<const std::uint8_t> head(buf.data(), static_cast<std::size_t>(in.gcount()));

  if (is_torch_checkpoint(head)) {
    TorchCheckpoint c = read_torch_checkpoint(path);
    WeightsFile out{c.format == TorchFormat::zip ? "pth (zip)" : "pth (legacy)", std::move(c.tensors),
                    std::move(c.metadata)};
    if (!c.wrapper.empty()) out.metadata["wrapper"] = c.wrapper;
    if (!c.stripped_prefix.empty()) out.metadata["stripped_prefix"] = c.stripped_prefix;
    return out;
  }
  if (is_safetensors(head)) {
    nn::io::Safetensors s = nn::io::load_safetensors(path);
    return {"safetensors", std::move(s.tensors), std::move(s.metadata)};
  }
  // TF.js: a "*weights_manifest.json" (a JSON array) goes to load_tfjs (tfjs.h) here, once it exists.
  throw nn::Error(nn::str(path, ": unknown weights format (", head.size(),
                          "-byte head matches neither safetensors nor a PyTorch checkpoint)"));
}

nn::StateDict load_weights(const std::string& path) { return read_weights_file(path).tensors; }

}  // namespace weights_import
