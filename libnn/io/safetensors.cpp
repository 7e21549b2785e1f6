#include "libnn/io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "libnn/autograd/grad_mode.h"
#include "libnn/io/atomic_file.h"

namespace nn::io {

namespace {

struct DTypeName {
  DType dtype;
  const char* name;
};
constexpr DTypeName kDTypes[] = {{DType::f32, "F32"}, {DType::f64, "F64"}, {DType::f16, "F16"},
                                 {DType::bf16, "BF16"}, {DType::i64, "I64"}, {DType::u8, "U8"}};

DType parse_dtype(const std::string& s, const std::string& where) {
  for (const auto& d : kDTypes)
    if (s == d.name) return d.dtype;
  throw Error(str(where, ": unsupported dtype \"", s, "\" (supported: F32 F64 F16 BF16 I64 U8)"));
}

const char* dtype_tag(DType t) {
  for (const auto& d : kDTypes)
    if (t == d.dtype) return d.name;
  return "?";
}

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  std::uint64_t begin, end;
};

Entry parse_entry(const std::string& name, const nlohmann::json& j, std::uint64_t data_size, const std::string& src) {
  const std::string where = str(src, ": tensor \"", name, "\"");
  NN_CHECK(j.is_object() && j.contains("dtype") && j.contains("shape") && j.contains("data_offsets"), where,
           ": entry needs dtype, shape and data_offsets");
  NN_CHECK(j["dtype"].is_string(), where, ": dtype is not a string");
  Entry e{name, parse_dtype(j["dtype"].get<std::string>(), where), {}, 0, 0};
  const auto& shape = j["shape"];
  NN_CHECK(shape.is_array() && shape.size() <= static_cast<std::size_t>(Shape::kMaxDims), where,
           ": shape must be an array of at most ", Shape::kMaxDims, " dims");
  std::uint64_t numel = 1;
  for (const auto& d : shape) {
    NN_CHECK(d.is_number_unsigned(), where, ": shape entries must be non-negative integers");
    const auto v = d.get<std::uint64_t>();
    NN_CHECK(v <= data_size && (v == 0 || numel <= data_size / v), where, ": shape is larger than the file");
    numel *= v;
    e.shape.push_back(static_cast<index_t>(v));
  }
  const auto& off = j["data_offsets"];
  NN_CHECK(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() && off[1].is_number_unsigned(), where,
           ": data_offsets must be [begin, end]");
  e.begin = off[0].get<std::uint64_t>();
  e.end = off[1].get<std::uint64_t>();
  NN_CHECK(e.begin <= e.end && e.end <= data_size, where, ": data_offsets [", e.begin, ", ", e.end,
           "] outside the data section of ", data_size, " bytes (truncated file?)");
  NN_CHECK(e.end - e.begin == numel * dtype_size(e.dtype), where, ": ", e.end - e.begin, " bytes for shape ",
           e.shape, " of ", dtype_tag(e.dtype), " (expected ", numel * dtype_size(e.dtype), ")");
  return e;
}

// Puts the entries in data order and rejects non-empty tensors that share bytes. Empty ones occupy none,
// wherever their offsets point: skipping them keeps the verdict independent of how ties sort.
void check_disjoint(std::vector<Entry>& entries, const std::string& path) {
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  const Entry* prev = nullptr;
  for (const Entry& e : entries) {
    if (e.begin == e.end) continue;
    NN_CHECK(prev == nullptr || e.begin >= prev->end, path, ": tensors \"", prev->name, "\" and \"", e.name,
             "\" overlap");
    prev = &e;
  }
}

// Copies n bytes at offset of the source into dst; false when the source cannot supply them. Both
// entry points read through one of these, so every check on the file lives in read_safetensors alone.
using ReadAt = std::function<bool(std::uint64_t offset, void* dst, std::size_t n)>;

Safetensors read_safetensors(const std::string& path, std::uint64_t file_size, const ReadAt& read_at) {
  NN_CHECK(file_size >= 8, path, ": not a safetensors file (", file_size, " bytes, need at least 8)");
  unsigned char len_bytes[8];
  NN_CHECK(read_at(0, len_bytes, 8), path, ": truncated header");
  std::uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | len_bytes[i];
  NN_CHECK(header_size <= kMaxSafetensorsHeader && header_size <= file_size - 8, path, ": header size ",
           header_size, " exceeds the file (", file_size, " bytes) or the ", kMaxSafetensorsHeader >> 20, " MB limit");
  std::string header(header_size, '\0');
  NN_CHECK(read_at(8, header.data(), header_size), path, ": truncated header");

  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header);
  } catch (const nlohmann::json::exception& e) {
    throw Error(str(path, ": malformed JSON header: ", e.what()));
  }
  NN_CHECK(j.is_object(), path, ": header is not a JSON object");

  const std::uint64_t data_start = 8 + header_size;
  const std::uint64_t data_size = file_size - data_start;
  Safetensors out;
  out.source = path;
  std::vector<Entry> entries;
  for (const auto& [key, value] : j.items()) {
    if (key == "__metadata__") {
      NN_CHECK(value.is_object(), path, ": __metadata__ must be an object of strings");
      for (const auto& [mk, mv] : value.items()) {
        NN_CHECK(mv.is_string(), path, ": __metadata__ value for \"", mk, "\" is not a string");
        out.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(key, value, data_size, path));
  }
  check_disjoint(entries, path);

  NoGradGuard no_grad;
  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    NN_CHECK(read_at(data_start + e.begin, t.raw_data(), e.end - e.begin), path, ": tensor \"", e.name,
             "\": read failed (truncated file?)");
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

}  // namespace

bool Safetensors::contains(const std::string& name) const {
  return std::any_of(tensors.begin(), tensors.end(), [&](const auto& kv) { return kv.first == name; });
}

const Tensor& Safetensors::get(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return t;
  throw Error(str(source, ": no tensor named \"", name, "\""));
}

Safetensors parse_safetensors(std::span<const std::uint8_t> bytes, const std::string& source) {
  return read_safetensors(source, bytes.size(), [&](std::uint64_t offset, void* dst, std::size_t n) {
    if (offset > bytes.size() || n > bytes.size() - offset) return false;
    if (n > 0) std::memcpy(dst, bytes.data() + offset, n);
    return true;
  });
}

// Streams each tensor from the file: a checkpoint is never held twice in memory.
Safetensors load_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  NN_CHECK(in, path, ": cannot open file");
  std::error_code ec;
  const std::uint64_t file_size = std::filesystem::file_size(path, ec);
  NN_CHECK(!ec, path, ": cannot stat: ", ec.message());
  return read_safetensors(path, file_size, [&](std::uint64_t offset, void* dst, std::size_t n) {
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
    return static_cast<bool>(in);
  });
}

void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<Tensor> host;
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    NN_CHECK(t.defined(), "save ", path, ": tensor \"", name, "\" is undefined");
    NN_CHECK(name != "__metadata__" && !header.contains(name), "save ", path, ": duplicate or reserved name \"",
             name, "\"");
    Tensor h = t.detach().to(Device::cpu()).contiguous();
    const std::uint64_t bytes = h.numel() * dtype_size(h.dtype());
    header[name] = {{"dtype", dtype_tag(h.dtype())}, {"shape", h.shape().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    host.push_back(std::move(h));
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');  // keeps the data section 8-byte aligned
  write_atomically(path, [&](std::ostream& out) {
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(static_cast<std::uint64_t>(json.size()) >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(json.data(), static_cast<std::streamsize>(json.size()));
    for (const Tensor& h : host)
      out.write(static_cast<const char*>(h.raw_data()), static_cast<std::streamsize>(h.numel() * dtype_size(h.dtype())));
  });
}

}  // namespace nn::io
