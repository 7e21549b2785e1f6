#include "tests/support/torch_files.h"

#include <cstring>
#include <fstream>
#include <iterator>

#include "libnn/core/check.h"
#include "weights_import/zip_reader.h"

namespace nn::testing {

namespace {

void put(Bytes& out, std::uint64_t value, int width) {
  for (int i = 0; i < width; ++i) out.push_back(i < 8 ? static_cast<std::uint8_t>(value >> (8 * i)) : 0);
}

void append(Bytes& out, const std::string& s) { out.insert(out.end(), s.begin(), s.end()); }

}  // namespace

Bytes to_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

Bytes read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  NN_CHECK(in, path, ": cannot open");
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

Bytes make_zip(const std::vector<std::pair<std::string, Bytes>>& entries, const ZipOptions& o) {
  constexpr std::uint32_t k32 = 0xffffffffu;
  Bytes out, cd;
  const std::uint16_t version = o.zip64 ? 45 : 20, flags = o.data_descriptor ? 8 : 0;
  for (const auto& [name, data] : entries) {
    const std::uint64_t offset = out.size();
    const std::uint32_t crc = weights_import::crc32(data);
    const bool local_zip64 = o.zip64 && !o.data_descriptor;
    put(out, 0x04034b50, 4);
    put(out, version, 2);
    put(out, flags, 2);
    put(out, 0, 2 + 2 + 2);  // method, time, date
    put(out, o.data_descriptor ? 0 : crc, 4);
    const std::uint64_t local_size = o.data_descriptor ? 0 : local_zip64 ? k32 : data.size();
    put(out, local_size, 4);
    put(out, local_size, 4);
    put(out, name.size(), 2);
    put(out, local_zip64 ? 20 : 0, 2);
    append(out, name);
    if (local_zip64) {
      put(out, 1, 2);
      put(out, 16, 2);
      put(out, data.size(), 8);
      put(out, data.size(), 8);
    }
    out.insert(out.end(), data.begin(), data.end());
    if (o.data_descriptor) {
      put(out, 0x08074b50, 4);
      put(out, crc, 4);
      put(out, data.size(), o.zip64 ? 8 : 4);
      put(out, data.size(), o.zip64 ? 8 : 4);
    }

    put(cd, 0x02014b50, 4);
    put(cd, version, 2);
    put(cd, version, 2);
    put(cd, flags, 2);
    put(cd, 0, 2 + 2 + 2);
    put(cd, crc, 4);
    put(cd, o.zip64 ? k32 : data.size(), 4);
    put(cd, o.zip64 ? k32 : data.size(), 4);
    put(cd, name.size(), 2);
    put(cd, o.zip64 ? 28 : 0, 2);
    put(cd, 0, 2 + 2 + 2 + 4);  // comment length, disk, internal and external attributes
    put(cd, o.zip64 ? k32 : offset, 4);
    append(cd, name);
    if (o.zip64) {
      put(cd, 1, 2);
      put(cd, 24, 2);
      put(cd, data.size(), 8);
      put(cd, data.size(), 8);
      put(cd, offset, 8);
    }
  }
  const std::uint64_t cd_offset = out.size(), n = entries.size();
  out.insert(out.end(), cd.begin(), cd.end());
  if (o.zip64) {
    const std::uint64_t record = out.size();
    put(out, 0x06064b50, 4);
    put(out, 44, 8);
    put(out, 45, 2);
    put(out, 45, 2);
    put(out, 0, 4 + 4);
    put(out, n, 8);
    put(out, n, 8);
    put(out, cd.size(), 8);
    put(out, cd_offset, 8);
    put(out, 0x07064b50, 4);
    put(out, 0, 4);
    put(out, record, 8);
    put(out, 1, 4);
  }
  put(out, 0x06054b50, 4);
  put(out, 0, 2 + 2);
  put(out, o.zip64 ? 0xffff : n, 2);
  put(out, o.zip64 ? 0xffff : n, 2);
  put(out, o.zip64 ? k32 : cd.size(), 4);
  put(out, o.zip64 ? k32 : cd_offset, 4);
  put(out, 0, 2);
  return out;
}

PickleWriter& PickleWriter::le(std::uint64_t value, int width) {
  put(out, value, width);
  return *this;
}

PickleWriter& PickleWriter::integer(std::int64_t v) {
  if (v >= 0 && v < 256) return op('K').le(static_cast<std::uint64_t>(v), 1);
  if (v >= 0 && v < 65536) return op('M').le(static_cast<std::uint64_t>(v), 2);
  if (v >= INT32_MIN && v <= INT32_MAX) return op('J').le(static_cast<std::uint32_t>(v), 4);
  return op(0x8a).op(8).le(static_cast<std::uint64_t>(v), 8);
}

PickleWriter& PickleWriter::str(const std::string& s) {
  op('X').le(s.size(), 4);
  append(out, s);
  return *this;
}

PickleWriter& PickleWriter::global(const std::string& module, const std::string& name) {
  op('c');
  append(out, module + "\n" + name + "\n");
  return *this;
}

PickleWriter& PickleWriter::tuple(std::initializer_list<std::int64_t> ints) {
  mark();
  for (std::int64_t i : ints) integer(i);
  return op('t');
}

PickleWriter& PickleWriter::tensor(const std::string& storage_type, const std::string& key, std::int64_t numel,
                                   std::int64_t offset, std::initializer_list<std::int64_t> size,
                                   std::initializer_list<std::int64_t> stride, bool legacy) {
  global("torch._utils", "_rebuild_tensor_v2").mark();
  mark().str("storage").global("torch", storage_type).str(key).str("cpu").integer(numel);
  if (legacy) none();
  op('t').op('Q');
  integer(offset).tuple(size).tuple(stride).boolean(false).ordered_dict();
  return op('t').op('R');
}

Bytes make_torch_zip(const Bytes& data_pkl, const std::vector<std::pair<std::string, Bytes>>& storages,
                     const ZipOptions& options, const std::string& archive) {
  std::vector<std::pair<std::string, Bytes>> entries{{archive + "/data.pkl", data_pkl}};
  for (const auto& [key, bytes] : storages) entries.emplace_back(archive + "/data/" + key, bytes);
  entries.emplace_back(archive + "/version", to_bytes("3\n"));
  return make_zip(entries, options);
}

Bytes make_torch_legacy(const Bytes& object_pickle, const std::vector<std::pair<std::string, Bytes>>& storages,
                        std::size_t element_size, bool little_endian) {
  PickleWriter w;
  w.proto().op(0x8a).op(10).raw({0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}).stop();
  w.proto().integer(1001).stop();
  w.proto().op('}').mark().str("protocol_version").integer(1001).str("little_endian").boolean(little_endian);
  w.op('u').stop();
  w.out.insert(w.out.end(), object_pickle.begin(), object_pickle.end());
  w.proto().op(']').mark();
  for (const auto& s : storages) w.str(s.first);
  w.op('e').stop();
  for (const auto& [key, bytes] : storages) {
    w.le(bytes.size() / element_size, 8);
    w.out.insert(w.out.end(), bytes.begin(), bytes.end());
  }
  return w.out;
}

Bytes float_bytes(std::initializer_list<float> values) {
  Bytes out(values.size() * 4);
  std::memcpy(out.data(), values.begin(), out.size());
  return out;
}

}  // namespace nn::testing
