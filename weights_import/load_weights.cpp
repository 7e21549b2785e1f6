#include "weights_import/load_weights.h"

#include <array>
#include <filesystem>
#include <fstream>

#include "weights_import/tfjs.h"
#include "weights_import/torch_checkpoint.h"

namespace weights_import {

namespace {

// safetensors: u64 little-endian header length, then a JSON object.
bool is_safetensors(std::span<const std::uint8_t> head) { return head.size() >= 9 && head[8] == '{'; }

// A TF.js weights manifest: a JSON array (of weight groups).
bool is_tfjs_manifest(std::span<const std::uint8_t> head) {
  for (std::uint8_t c : head)
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return c == '[';
  return false;
}

}  // namespace

WeightsFile read_weights_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    std::string manifests;
    for (const auto& entry : std::filesystem::directory_iterator(path, ec))
      if (entry.path().filename().string().ends_with("weights_manifest.json"))
        manifests += (manifests.empty() ? "" : ", ") + entry.path().filename().string();
    throw nn::Error(nn::str(path, ": is a folder; give a weights file",
                            manifests.empty() ? std::string() : " (its TF.js manifests: " + manifests + ")"));
  }
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
  if (is_tfjs_manifest(head)) return {"tfjs", load_tfjs(path), {}};
  throw nn::Error(nn::str(path, ": unknown weights format (", head.size(),
                          "-byte head matches none of safetensors, a PyTorch checkpoint, a TF.js manifest)"));
}

nn::StateDict load_weights(const std::string& path) { return read_weights_file(path).tensors; }

}  // namespace weights_import
