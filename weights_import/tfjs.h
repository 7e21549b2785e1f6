// TensorFlow.js weights: a `*-weights_manifest.json` (groups of {paths, weights: [{name, shape, dtype,
// quantization?}]}) and its `.bin` shards, the group's paths concatenated, tensors back to back in manifest
// order. Quantized tensors (uint8 / uint16) decode as float32(q * scale + min), computed in double as tfjs does.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "libnn/nn/state_dict.h"

namespace weights_import {

// Names and shapes exactly as in the manifest (conv filters stay HWIO); float32 except int32 tensors.
nn::StateDict load_tfjs(const std::string& manifest_path);
// The same from a manifest text and a shard reader (tests, fuzzing). read_shard(path) returns the bytes of
// one shard named in the manifest, relative to it.
nn::StateDict parse_tfjs(const std::string& manifest_json,
                         const std::function<std::vector<std::uint8_t>(const std::string&)>& read_shard,
                         const std::string& source);

// TF's conv filter layout [kh, kw, cin, cout] to PyTorch's [cout, cin, kh, kw].
nn::Tensor hwio_to_oihw(const nn::Tensor& filters);

}  // namespace weights_import
