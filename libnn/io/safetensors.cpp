#include "libnn/io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
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

}  // namespace

bool Safetensors::contains(const std::string& name) const {
  return std::any_of(tensors.begin(), tensors.end(), [&](const auto& kv) { return kv.first == name; });
}

const Tensor& Safetensors::get(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return t;
  throw Error(str(source, ": no tensor named \"", name, "\""));
}

Safetensors load_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  NN_CHECK(in, path, ": cannot open file");
  std::error_code ec;
  const std::uint64_t file_size = std::filesystem::file_size(path, ec);
  NN_CHECK(!ec, path, ": cannot stat: ", ec.message());
  NN_CHECK(file_size >= 8, path, ": not a safetensors file (", file_size, " bytes, need at least 8)");

  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  std::uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | len_bytes[i];
  NN_CHECK(header_size <= kMaxSafetensorsHeader && header_size <= file_size - 8, path, ": header size ",
           header_size, " exceeds the file (", file_size, " bytes) or the 100 MB limit");
  std::string header(header_size, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_size));
  NN_CHECK(in, path, ": truncated header");

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
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  for (std::size_t i = 1; i < entries.size(); ++i)
    NN_CHECK(entries[i].begin >= entries[i - 1].end || entries[i - 1].begin == entries[i - 1].end, path,
             ": tensors \"", entries[i - 1].name, "\" and \"", entries[i].name, "\" overlap");

  NoGradGuard no_grad;
  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    in.seekg(static_cast<std::streamoff>(data_start + e.begin));
    in.read(static_cast<char*>(t.raw_data()), static_cast<std::streamsize>(e.end - e.begin));
    NN_CHECK(in, path, ": tensor \"", e.name, "\": read failed (truncated file?)");
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
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
