// TensorFlow.js weights manifests and shards: validation first (structure, names, shapes, dtypes, shard paths,
// sizes), then decoding with tfjs's own arithmetic (tfjs-core io_utils decodeWeights): quantized values are
// q * scale + min evaluated in double and stored as float32 (int32: Math.round of it).
#include "weights_import/tfjs.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace weights_import {

static_assert(std::endian::native == std::endian::little, "tfjs shards are little-endian; so must the host be");

namespace {

using nlohmann::json;

constexpr int kMaxRank = nn::Shape::kMaxDims;
constexpr std::int64_t kMaxDim = std::int64_t{1} << 31;
constexpr std::int64_t kMaxNumel = std::int64_t{1} << 32;

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// Shard paths are resolved against the manifest's folder and must stay in it.
void check_shard_path(const std::string& path, const std::string& source, std::size_t group) {
  const auto fail = [&](const char* why) {
    throw nn::Error(nn::str(source, ": group ", group, ": shard path ", quoted(path), " ", why));
  };
  if (path.empty()) fail("is empty");
  if (path.front() == '/') fail("is absolute (shards must lie in the manifest's folder)");
  if (path.find('\\') != std::string::npos) fail("contains a backslash");
  if (path.find(':') != std::string::npos) fail("contains ':' (a URL or drive letter)");
  for (unsigned char c : path)
    if (c < 0x20) fail("contains a control character");
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    if (path.compare(start, end - start, "..") == 0) fail("contains '..' (shards must lie in the manifest's folder)");
    start = end + 1;
  }
}

std::size_t element_size(const TfjsWeight& w) {
  if (w.quantization) return w.quantization->dtype == "uint8" ? 1 : 2;
  return w.dtype == "bool" ? 1 : 4;
}

TfjsWeight parse_weight(const json& j, std::size_t group, const std::string& source) {
  NN_CHECK(j.is_object(), source, ": group ", group, ": a weights entry is not an object: ", j.dump());
  NN_CHECK(j.contains("name") && j["name"].is_string() && !j["name"].get<std::string>().empty(), source, ": group ",
           group, ": a weights entry has no name: ", j.dump());
  TfjsWeight w;
  w.name = j["name"].get<std::string>();
  w.group = group;
  const std::string where = nn::str(source, ": tensor ", quoted(w.name), ": ");

  NN_CHECK(j.contains("shape") && j["shape"].is_array(), where, "no shape array");
  NN_CHECK(j["shape"].size() <= kMaxRank, where, "rank ", j["shape"].size(), " exceeds ", kMaxRank);
  std::int64_t numel = 1;
  for (const auto& d : j["shape"]) {
    NN_CHECK(d.is_number_integer(), where, "shape ", j["shape"].dump(), " has a non-integer extent");
    const std::int64_t v = d.get<std::int64_t>();
    NN_CHECK(v >= 0 && v < kMaxDim, where, "shape ", j["shape"].dump(), " has extent ", v, " (must be 0 ... 2^31 - 1)");
    w.shape.push_back(v);
    numel *= v;  // no overflow: checked against kMaxNumel after every factor
    NN_CHECK(numel <= kMaxNumel, where, "shape ", j["shape"].dump(), " has more than 2^32 elements");
  }

  NN_CHECK(j.contains("dtype") && j["dtype"].is_string(), where, "no dtype");
  w.dtype = j["dtype"].get<std::string>();
  NN_CHECK(w.dtype == "float32" || w.dtype == "int32" || w.dtype == "bool", where, "dtype ", quoted(w.dtype),
           " is not supported (float32, int32, bool)");

  if (j.contains("quantization") && !j["quantization"].is_null()) {
    const json& q = j["quantization"];
    NN_CHECK(q.is_object() && q.contains("dtype") && q["dtype"].is_string(), where, "quantization ", q.dump(),
             " has no dtype");
    TfjsQuantization quant;
    quant.dtype = q["dtype"].get<std::string>();
    if (quant.dtype == "uint8" || quant.dtype == "uint16") {
      NN_CHECK(q.contains("scale") && q["scale"].is_number() && q.contains("min") && q["min"].is_number(), where,
               quant.dtype, " quantization needs numeric scale and min, got ", q.dump());
      quant.scale = q["scale"].get<double>();
      quant.min = q["min"].get<double>();
      NN_CHECK(std::isfinite(quant.scale) && std::isfinite(quant.min), where, "quantization scale / min not finite");
      NN_CHECK(w.dtype != "bool", where, "a bool tensor cannot be quantized");
    } else if (quant.dtype == "float16") {
      NN_CHECK(w.dtype == "float32", where, "float16 quantization needs dtype float32, got ", quoted(w.dtype));
    } else {
      throw nn::Error(
          nn::str(where, "quantization dtype ", quoted(quant.dtype), " is not supported (uint8, uint16, float16)"));
    }
    w.quantization = quant;
  }
  w.bytes = static_cast<std::size_t>(numel) * element_size(w);
  return w;
}

template <typename T>
T load_le(const std::uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// One tensor from its stored bytes (exactly w.bytes of them).
nn::Tensor decode(const TfjsWeight& w, const std::uint8_t* data) {
  const nn::Shape shape(w.shape);
  const nn::index_t n = shape.numel();
  if (w.dtype == "bool") {
    nn::Tensor t = nn::Tensor::empty(shape, nn::DType::u8);
    if (n) std::memcpy(t.raw_data(), data, static_cast<std::size_t>(n));
    return t;
  }
  // The stored integer q (or float16 / raw value) of element i.
  const auto quantized = [&](nn::index_t i) -> double {
    return w.quantization->dtype == "uint8" ? double(data[i]) : double(load_le<std::uint16_t>(data + 2 * i));
  };
  if (w.dtype == "int32") {
    nn::Tensor t = nn::Tensor::empty(shape, nn::DType::i64);
    auto* out = t.data<std::int64_t>();
    for (nn::index_t i = 0; i < n; ++i)
      out[i] = w.quantization ? static_cast<std::int64_t>(std::floor(quantized(i) * w.quantization->scale +
                                                                     w.quantization->min + 0.5))  // JS Math.round
                              : std::int64_t{load_le<std::int32_t>(data + 4 * i)};
    return t;
  }
  nn::Tensor t = nn::Tensor::empty(shape, nn::DType::f32);
  float* out = t.data<float>();
  if (!w.quantization) {
    if (n) std::memcpy(out, data, static_cast<std::size_t>(n) * 4);  // the offset need not be 4-aligned
  } else if (w.quantization->dtype == "float16") {
    for (nn::index_t i = 0; i < n; ++i) out[i] = nn::f16{load_le<std::uint16_t>(data + 2 * i)}.to_float();
  } else {
    const double scale = w.quantization->scale, min = w.quantization->min;
    for (nn::index_t i = 0; i < n; ++i) {
      const double scaled = quantized(i) * scale;  // double, rounded once to float32 below, as tfjs
      out[i] = static_cast<float>(scaled + min);
    }
  }
  return t;
}

using ShardReader = std::function<std::vector<std::uint8_t>(const std::string&)>;

nn::StateDict decode_all(const TfjsManifest& m, const ShardReader& read_shard, const std::string& source) {
  nn::StateDict out;
  out.reserve(m.weights.size());
  std::size_t next = 0;
  for (std::size_t g = 0; g < m.groups.size(); ++g) {
    const TfjsGroup& group = m.groups[g];
    std::vector<std::uint8_t> bytes;
    for (const auto& path : group.paths) {
      std::vector<std::uint8_t> shard = read_shard(path);
      NN_CHECK(shard.size() <= group.bytes - bytes.size(), source, ": group ", g, ": shard ", quoted(path),
               " makes the group's shards longer than its tensors (", group.bytes, " bytes)");
      bytes.insert(bytes.end(), shard.begin(), shard.end());
    }
    NN_CHECK(bytes.size() == group.bytes, source, ": group ", g, ": the shards hold ", bytes.size(),
             " bytes, its tensors need exactly ", group.bytes);
    for (; next < m.weights.size() && m.weights[next].group == g; ++next) {
      const TfjsWeight& w = m.weights[next];
      out.emplace_back(w.name, decode(w, bytes.data() + w.offset));
    }
  }
  return out;
}

std::vector<std::uint8_t> read_file(const std::filesystem::path& path, std::size_t max_bytes,
                                    const std::string& source) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  NN_CHECK(!ec, source, ": cannot read shard ", path.string(), ": ", ec.message());
  NN_CHECK(size <= max_bytes, source, ": shard ", path.string(), " has ", size,
           " bytes, more than its group's tensors (", max_bytes, ")");
  std::ifstream in(path, std::ios::binary);
  NN_CHECK(in, source, ": cannot open shard ", path.string());
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  NN_CHECK(in.gcount() == static_cast<std::streamsize>(bytes.size()), source, ": short read of shard ", path.string());
  return bytes;
}

}  // namespace

TfjsManifest parse_tfjs_manifest(const std::string& manifest_json, const std::string& source) {
  json root;
  try {
    root = json::parse(manifest_json);
  } catch (const json::exception& e) {
    throw nn::Error(nn::str(source, ": not valid JSON: ", e.what()));
  }
  NN_CHECK(root.is_array() && !root.empty(), source, ": a weights manifest is a non-empty JSON array of groups");
  TfjsManifest m;
  std::set<std::string> names;
  for (std::size_t g = 0; g < root.size(); ++g) {
    const json& group = root[g];
    NN_CHECK(group.is_object() && group.contains("paths") && group["paths"].is_array() && !group["paths"].empty(),
             source, ": group ", g, " has no paths");
    NN_CHECK(group.contains("weights") && group["weights"].is_array(), source, ": group ", g, " has no weights array");
    TfjsGroup out;
    for (const auto& p : group["paths"]) {
      NN_CHECK(p.is_string(), source, ": group ", g, ": a shard path is not a string: ", p.dump());
      check_shard_path(p.get<std::string>(), source, g);
      out.paths.push_back(p.get<std::string>());
    }
    for (const auto& entry : group["weights"]) {
      TfjsWeight w = parse_weight(entry, g, source);
      NN_CHECK(names.insert(w.name).second, source, ": tensor ", quoted(w.name), " appears more than once");
      w.offset = out.bytes;
      out.bytes += w.bytes;  // each tensor <= 2^34 bytes, so the sum cannot overflow for any real manifest
      m.weights.push_back(std::move(w));
    }
    m.groups.push_back(std::move(out));
  }
  return m;
}

nn::StateDict parse_tfjs(const std::string& manifest_json, const ShardReader& read_shard, const std::string& source) {
  return decode_all(parse_tfjs_manifest(manifest_json, source), read_shard, source);
}

nn::StateDict load_tfjs(const std::string& manifest_path) {
  std::ifstream in(manifest_path, std::ios::binary);
  NN_CHECK(in, manifest_path, ": cannot open the weights manifest");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  NN_CHECK(!in.bad(), manifest_path, ": read error");
  const TfjsManifest m = parse_tfjs_manifest(text, manifest_path);
  // Each shard may hold at most its group's bytes: a huge or wrong file is refused before it is read.
  std::map<std::string, std::size_t> limit;
  for (const auto& g : m.groups)
    for (const auto& p : g.paths) limit[p] = std::max(limit[p], g.bytes);
  const std::filesystem::path folder = std::filesystem::path(manifest_path).parent_path();
  return decode_all(
      m, [&](const std::string& p) { return read_file(folder / p, limit.at(p), manifest_path); }, manifest_path);
}

nn::Tensor hwio_to_oihw(const nn::Tensor& filters) {
  NN_CHECK(filters.dim() == 4, "hwio_to_oihw: filters must be 4-d [kh, kw, cin, cout], got ", filters.describe());
  return filters.detach().permute({3, 2, 0, 1}).contiguous();
}

}  // namespace weights_import
