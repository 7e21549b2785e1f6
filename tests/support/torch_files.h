// Builders for the byte formats weights_import reads: stored zip archives (optionally zip64), pickles written
// opcode by opcode, and whole torch checkpoints in both formats. Tests craft valid and hostile inputs with
// them in memory instead of committing binary files; the same inputs make good fuzzing seeds.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace nn::testing {

using Bytes = std::vector<std::uint8_t>;

Bytes to_bytes(const std::string& s);
Bytes read_file_bytes(const std::string& path);

struct ZipOptions {
  bool zip64 = false;             // zip64 extra fields (sizes, offsets) and zip64 end records
  bool data_descriptor = false;   // flag bit 3, zeros in the local headers, as torch writes
};

// A stored (method 0) archive of the entries in order, with correct CRCs.
Bytes make_zip(const std::vector<std::pair<std::string, Bytes>>& entries, const ZipOptions& options = {});

// Appends pickle opcodes. Methods return *this so a pickle reads as one expression.
class PickleWriter {
 public:
  PickleWriter& op(std::uint8_t opcode) { out.push_back(opcode); return *this; }
  PickleWriter& raw(std::initializer_list<std::uint8_t> bytes) { out.insert(out.end(), bytes); return *this; }
  PickleWriter& le(std::uint64_t value, int width);
  PickleWriter& proto(int version = 2) { return op(0x80).op(static_cast<std::uint8_t>(version)); }
  PickleWriter& mark() { return op('('); }
  PickleWriter& stop() { return op('.'); }
  PickleWriter& none() { return op('N'); }
  PickleWriter& boolean(bool b) { return op(b ? 0x88 : 0x89); }
  PickleWriter& integer(std::int64_t v);  // the smallest of BININT1, BININT2, BININT, LONG1
  PickleWriter& str(const std::string& s);  // BINUNICODE
  PickleWriter& global(const std::string& module, const std::string& name);  // GLOBAL
  PickleWriter& tuple(std::initializer_list<std::int64_t> ints);  // MARK ints TUPLE
  PickleWriter& ordered_dict() { return global("collections", "OrderedDict").op(')').op('R'); }
  // torch._utils._rebuild_tensor_v2 of the persistent id ('storage', torch.<type>, key, 'cpu', numel[, None]).
  PickleWriter& tensor(const std::string& storage_type, const std::string& key, std::int64_t numel,
                       std::int64_t offset, std::initializer_list<std::int64_t> size,
                       std::initializer_list<std::int64_t> stride, bool legacy = false);

  Bytes out;
};

// A zip checkpoint: <archive>/data.pkl, <archive>/data/<key> for each storage, <archive>/version.
Bytes make_torch_zip(const Bytes& data_pkl, const std::vector<std::pair<std::string, Bytes>>& storages,
                     const ZipOptions& options = {}, const std::string& archive = "archive");
// A legacy checkpoint: magic, protocol 1001, sys_info, the object pickle, the key list, then each storage as
// int64 element count + bytes (element_size gives the count).
Bytes make_torch_legacy(const Bytes& object_pickle, const std::vector<std::pair<std::string, Bytes>>& storages,
                        std::size_t element_size, bool little_endian = true);

// The bytes of floats, little-endian.
Bytes float_bytes(std::initializer_list<float> values);

}  // namespace nn::testing
