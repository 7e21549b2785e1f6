// TensorFlow.js weights: a `*-weights_manifest.json` (groups of {paths, weights: [{name, shape, dtype,
// quantization?}]}) and its `.bin` shards, the group's paths concatenated, tensors back to back in manifest
// order. Quantized tensors (uint8 / uint16) decode as float32(q * scale + min), computed in double as tfjs does;
// float16-quantized ones are IEEE half floats widened to float32.
//
// Nothing in the files is trusted: every name must be unique, every shape small and non-negative, every
// shard path relative and inside the manifest's folder (no absolute path, no '..'), and a group's tensors
// must fill its shards exactly, byte for byte. Errors name the manifest and the tensor.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "libnn/nn/state_dict.h"

namespace weights_import {

// Names and shapes exactly as in the manifest (conv filters stay HWIO). float32 -> f32; int32 -> i64 (libnn
// has no i32); bool -> u8.
nn::StateDict load_tfjs(const std::string& manifest_path);
// The same from a manifest text and a shard reader (tests, fuzzing). read_shard(path) returns the bytes of
// one shard named in the manifest, relative to it.
nn::StateDict parse_tfjs(const std::string& manifest_json,
                         const std::function<std::vector<std::uint8_t>(const std::string&)>& read_shard,
                         const std::string& source);

// ---- the manifest alone, validated (what load_tfjs reads before touching a shard)
struct TfjsQuantization {
  std::string dtype;          // "uint8", "uint16" or "float16"
  double scale = 0, min = 0;  // uint8 / uint16 only
};

struct TfjsWeight {
  std::string name;
  std::vector<std::int64_t> shape;
  std::string dtype;  // "float32", "int32" or "bool"
  std::optional<TfjsQuantization> quantization;
  std::size_t group = 0;   // index of its group
  std::size_t offset = 0;  // byte offset in the group's concatenated shards
  std::size_t bytes = 0;   // stored size: numel x (1, 2 or 4)
};

struct TfjsGroup {
  std::vector<std::string> paths;  // relative to the manifest, in concatenation order
  std::size_t bytes = 0;           // sum of its weights' sizes: what its shards must hold exactly
};

struct TfjsManifest {
  std::vector<TfjsGroup> groups;
  std::vector<TfjsWeight> weights;  // in manifest order, all groups
};

TfjsManifest parse_tfjs_manifest(const std::string& manifest_json, const std::string& source);

// TF's conv filter layout [kh, kw, cin, cout] to PyTorch's [cout, cin, kh, kw] (a contiguous copy).
nn::Tensor hwio_to_oihw(const nn::Tensor& filters);

}  // namespace weights_import
