// Both checkpoint formats end in the same place: an unpickled object whose tensors are inert
// _rebuild_tensor_v2 records pointing at storages (persistent ids) with known bytes. This file locates those
// bytes (zip entries, or the legacy format's raw records), turns each record into a contiguous nn::Tensor
// after checking (offset, size, stride) against its storage, and finds the state dict inside wrappers.
#include "weights_import/torch_checkpoint.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstring>
#include <map>
#include <optional>
#include <unordered_set>

#include "libnn/autograd/grad_mode.h"
#include "weights_import/mapped_file.h"
#include "weights_import/pickle.h"
#include "weights_import/zip_reader.h"

static_assert(std::endian::native == std::endian::little, "storages are copied as little-endian bytes");

namespace weights_import {

namespace {

using nn::str;
using pickle::Kind;
using pickle::Value;

// One storage as a persistent id names it: the element type, the element count and, once located, the bytes.
struct StorageRef {
  const pickle::StorageClass* cls = nullptr;
  std::uint64_t numel = 0;
  std::string key;               // legacy: the root storage the bytes come from
  std::uint64_t view_offset = 0;  // legacy views: first element inside the root storage
  std::span<const std::uint8_t> bytes;
};

struct Storages {
  std::vector<StorageRef> refs;  // persistent-load handles are indices
  std::uint64_t distinct_bytes = 0;
};

constexpr std::uint8_t kLegacyMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr std::int64_t kLegacyProtocol = 1001;
// Tensors may view one storage several times, but only a hostile file makes them need much more memory
// than the storages themselves (stride-0 or absurd shapes): output beyond this is refused before allocating.
constexpr std::uint64_t kViewFactor = 4, kViewSlack = 64u << 20;
constexpr std::uint64_t kMaxDimSize = std::uint64_t{1} << 62;
constexpr std::size_t kListedKeys = 20;  // in a message about a wrapper's keys
// Keys that hold the state dict in training checkpoints, in order of preference.
constexpr const char* kWrapperKeys[] = {"state_dict", "model_state_dict", "model", "net", "network",
                                        "state_dict_ema", "model_ema", "ema", "params"};

const std::string& expect_string(const Value& v, const std::string& where, const char* what) {
  NN_CHECK(v.is(Kind::string), where, ": ", what, " is ", pickle::describe(v), ", expected a string");
  return v.text;
}

std::int64_t expect_int(const Value& v, const std::string& where, const char* what) {
  NN_CHECK(v.is(Kind::integer), where, ": ", what, " is ", pickle::describe(v), ", expected an int");
  return v.integer;
}

std::uint64_t expect_count(const Value& v, const std::string& where, const char* what) {
  const std::int64_t i = expect_int(v, where, what);
  NN_CHECK(i >= 0, where, ": ", what, " is negative (", i, ")");
  return static_cast<std::uint64_t>(i);
}

// The storage class and element count of a persistent id ('storage', torch.XStorage, key, location, numel, ...).
StorageRef parse_storage_id(const Value& pid, std::size_t arity, const std::string& where) {
  NN_CHECK(pid.is(Kind::tuple) && !pid.items.empty(), where, ": persistent id is ", pickle::describe(pid));
  const std::string& tag = expect_string(*pid.items[0], where, "persistent id tag");
  NN_CHECK(tag == "storage", where, ": persistent id '", tag,
           "' is not a storage (a pickled module or object: only state dicts are supported)");
  NN_CHECK(pid.items.size() == arity, where, ": storage id has ", pid.items.size(), " fields, expected ", arity);
  const Value& type = *pid.items[1];
  NN_CHECK(type.is(Kind::global), where, ": storage type is ", pickle::describe(type));
  StorageRef ref;
  ref.cls = pickle::find_storage_class(type.text);
  NN_CHECK(ref.cls != nullptr, where, ": storage type '", type.text, "' is not supported");
  ref.key = expect_string(*pid.items[2], where, "storage key");
  expect_string(*pid.items[3], where, "storage location");  // "cpu", "cuda:0": everything loads to the CPU
  ref.numel = expect_count(*pid.items[4], where, "storage size");
  NN_CHECK(ref.numel <= UINT64_MAX / ref.cls->element_size, where, ": storage '", ref.key, "' of ", ref.numel,
           " elements is absurdly large");
  return ref;
}

std::uint64_t storage_bytes(const StorageRef& s) { return s.numel * s.cls->element_size; }

// ---- tensors ----------------------------------------------------------------------------------------------

nn::DType output_dtype(pickle::Element e) {
  using pickle::Element;
  switch (e) {
    case Element::f32: return nn::DType::f32;
    case Element::f64: return nn::DType::f64;
    case Element::f16: return nn::DType::f16;
    case Element::bf16: return nn::DType::bf16;
    case Element::i64:
    case Element::i32:
    case Element::i16:
    case Element::i8: return nn::DType::i64;
    case Element::u8:
    case Element::boolean: return nn::DType::u8;
  }
  return nn::DType::u8;
}

// Copies the elements (offset, size, stride) of a storage into a row-major buffer, converting Src to Dst.
// Rows along the last dimension are the inner loop; the other dimensions advance like an odometer.
template <typename Src, typename Dst>
void gather(const std::uint8_t* storage, std::int64_t offset, const nn::Shape& size, const nn::Shape& stride,
            std::uint8_t* out) {
  const int d = size.size();
  const std::int64_t row = d == 0 ? 1 : size[d - 1];
  const std::int64_t step = d == 0 ? 1 : stride[d - 1];
  std::int64_t index[nn::Shape::kMaxDims] = {};
  std::int64_t base = offset;
  for (;;) {
    const std::uint8_t* p = storage + base * static_cast<std::int64_t>(sizeof(Src));
    if (std::is_same_v<Src, Dst> && step == 1) {
      std::memcpy(out, p, static_cast<std::size_t>(row) * sizeof(Src));
    } else {
      for (std::int64_t j = 0; j < row; ++j) {
        Src s;
        std::memcpy(&s, p + j * step * static_cast<std::int64_t>(sizeof(Src)), sizeof(Src));
        const Dst v = static_cast<Dst>(s);
        std::memcpy(out + j * static_cast<std::int64_t>(sizeof(Dst)), &v, sizeof(Dst));
      }
    }
    out += row * static_cast<std::int64_t>(sizeof(Dst));
    int k = d - 2;
    for (; k >= 0; --k) {
      if (++index[k] < size[k]) {
        base += stride[k];
        break;
      }
      base -= (size[k] - 1) * stride[k];
      index[k] = 0;
    }
    if (k < 0) return;
  }
}

void copy_elements(const StorageRef& s, std::int64_t offset, const nn::Shape& size, const nn::Shape& stride,
                   std::uint8_t* out) {
  using pickle::Element;
  const std::uint8_t* p = s.bytes.data();
  switch (s.cls->element) {
    case Element::f64:
    case Element::i64: return gather<std::uint64_t, std::uint64_t>(p, offset, size, stride, out);
    case Element::f32: return gather<std::uint32_t, std::uint32_t>(p, offset, size, stride, out);
    case Element::f16:
    case Element::bf16: return gather<std::uint16_t, std::uint16_t>(p, offset, size, stride, out);
    case Element::u8:
    case Element::boolean: return gather<std::uint8_t, std::uint8_t>(p, offset, size, stride, out);
    case Element::i32: return gather<std::int32_t, std::int64_t>(p, offset, size, stride, out);
    case Element::i16: return gather<std::int16_t, std::int64_t>(p, offset, size, stride, out);
    case Element::i8: return gather<std::int8_t, std::int64_t>(p, offset, size, stride, out);
  }
}

nn::Shape expect_dims(const Value& v, const std::string& where, const char* what) {
  NN_CHECK((v.is(Kind::tuple) || v.is(Kind::list)) && v.items.size() <= static_cast<std::size_t>(nn::Shape::kMaxDims),
           where, ": ", what, " is ", pickle::describe(v), ", expected a tuple of at most ", nn::Shape::kMaxDims, " ints");
  nn::Shape dims;
  for (const Value* d : v.items) {
    const std::uint64_t n = expect_count(*d, where, what);
    NN_CHECK(n <= kMaxDimSize, where, ": ", what, " entry ", n, " is absurdly large");
    dims.push_back(static_cast<nn::index_t>(n));
  }
  return dims;
}

class TensorBuilder {
 public:
  explicit TensorBuilder(const Storages& storages)
      : storages_(storages),
        budget_(storages.distinct_bytes > (UINT64_MAX - kViewSlack) / kViewFactor
                    ? UINT64_MAX
                    : storages.distinct_bytes * kViewFactor + kViewSlack) {}

  nn::Tensor build(const Value& v, const std::string& where) {
    const auto& args = v.items;
    if (v.text == "torch._utils._rebuild_parameter" || v.text == "torch._utils._rebuild_parameter_with_state") {
      NN_CHECK(args.size() == 3 || args.size() == 4, where, ": ", v.text, " with ", args.size(), " arguments");
      const Value& data = *args[0];
      NN_CHECK(data.is(Kind::object) && data.text.starts_with("torch._utils._rebuild_tensor"), where,
               ": parameter data is ", pickle::describe(data), ", expected a tensor");
      return build(data, where);
    }
    const bool v2 = v.text == "torch._utils._rebuild_tensor_v2";
    NN_CHECK(v2 ? args.size() == 6 || args.size() == 7 : args.size() == 4, where, ": ", v.text, " with ",
             args.size(), " arguments");
    NN_CHECK(args[0]->is(Kind::external), where, ": tensor storage is ", pickle::describe(*args[0]));
    const auto handle = static_cast<std::size_t>(args[0]->integer);  // made by our persistent_load
    NN_CHECK(handle < storages_.refs.size(), where, ": unknown storage handle ", handle);
    const StorageRef& s = storages_.refs[handle];
    const std::uint64_t offset = expect_count(*args[1], where, "storage offset");
    const nn::Shape size = expect_dims(*args[2], where, "size");
    const nn::Shape stride = expect_dims(*args[3], where, "stride");
    NN_CHECK(size.size() == stride.size(), where, ": size ", size, " and stride ", stride, " differ in length");

    // Every index fits: offset + sum((size - 1) * stride) < numel, computed without overflow.
    std::uint64_t numel = 1, last = offset;
    bool overflow = false;
    for (int i = 0; i < size.size(); ++i) overflow |= __builtin_mul_overflow(numel, std::uint64_t(size[i]), &numel);
    for (int i = 0; i < size.size() && numel > 0; ++i) {
      std::uint64_t span = 0;
      overflow |= __builtin_mul_overflow(std::uint64_t(size[i] - 1), std::uint64_t(stride[i]), &span);
      overflow |= __builtin_add_overflow(last, span, &last);
    }
    NN_CHECK(!overflow && (numel == 0 ? offset <= s.numel : last < s.numel), where, ": size ", size, " stride ",
             stride, " at offset ", offset, " does not fit its storage '", s.key, "' of ", s.numel, " elements");
    const nn::DType dtype = output_dtype(s.cls->element);
    const std::uint64_t element = nn::dtype_size(dtype);
    NN_CHECK(numel <= (budget_ - used_) / element, where, ": size ", size, " needs ", numel, " elements of ",
             element, " bytes, more than the file's storages can describe (", storages_.distinct_bytes, " bytes)");
    used_ += numel * element;

    nn::Tensor t = nn::Tensor::empty(size, dtype);
    if (numel > 0) {
      const bool dense = stride == nn::contiguous_strides(size);
      copy_elements(s, static_cast<std::int64_t>(offset), dense ? nn::Shape{nn::index_t(numel)} : size,
                    dense ? nn::Shape{1} : stride, static_cast<std::uint8_t*>(t.raw_data()));
    }
    return t;
  }

 private:
  const Storages& storages_;
  std::uint64_t budget_;
  std::uint64_t used_ = 0;  // bytes of the tensors built so far
};

// ---- unwrapping -------------------------------------------------------------------------------------------

bool is_tensor(const Value& v) { return v.is(Kind::object); }

bool holds_tensors(const Value& v) {
  if (!v.is(Kind::dict)) return false;
  for (std::size_t i = 0; i < v.dict_size(); ++i)
    if (is_tensor(v.dict_value(i))) return true;
  return false;
}

// A plain value as text, for metadata; nullopt for containers, tensors and bytes.
std::optional<std::string> plain_text(const Value& v) {
  switch (v.kind) {
    case Kind::none: return "None";
    case Kind::boolean: return v.boolean ? "True" : "False";
    case Kind::integer: return std::to_string(v.integer);
    case Kind::string: return v.text;
    case Kind::floating: {
      char buf[64];
      const auto r = std::to_chars(buf, buf + sizeof(buf), v.floating);  // shortest round trip, like repr()
      std::string s(buf, r.ptr);
      if (s.find_first_of(".eni") == std::string::npos) s += ".0";
      return s;
    }
    default: return std::nullopt;
  }
}

std::string key_of(const Value& key, const std::string& source, const std::string& in) {
  NN_CHECK(key.is(Kind::string), source, ": ", in, " has a key that is ", pickle::describe(key), ", not a string");
  return key.text;
}

TorchCheckpoint assemble(const Value& root, const Storages& storages, TorchFormat format, const std::string& source) {
  NN_CHECK(root.is(Kind::dict), source, ": the checkpoint holds a ", pickle::describe(root),
           ", not a dict of tensors");
  TorchCheckpoint out;
  out.source = source;
  out.format = format;

  const Value* state = &root;
  if (!holds_tensors(root)) {
    state = nullptr;
    std::map<std::string, const Value*> entries;
    std::string keys;
    for (std::size_t i = 0; i < root.dict_size(); ++i) {
      const std::string k = key_of(root.dict_key(i), source, "the checkpoint");
      NN_CHECK(entries.emplace(k, &root.dict_value(i)).second, source, ": duplicate key '", k, "'");
      if (i < kListedKeys) keys += (keys.empty() ? "'" : ", '") + k + "'";
      if (i == kListedKeys) keys += ", ...";
    }
    for (const char* w : kWrapperKeys) {
      auto it = entries.find(w);
      if (it != entries.end() && holds_tensors(*it->second)) {
        out.wrapper = w;
        break;
      }
    }
    if (out.wrapper.empty()) {  // an unknown wrapper key is fine when exactly one entry holds tensors
      for (const auto& [k, v] : entries) {
        if (!holds_tensors(*v)) continue;
        NN_CHECK(out.wrapper.empty(), source, ": several entries hold tensors ('", out.wrapper, "', '", k,
                 "'); cannot tell which is the state dict");
        out.wrapper = k;
      }
    }
    NN_CHECK(!out.wrapper.empty(), source, ": no dict of tensors found (keys: ", keys.empty() ? "none" : keys, ")");
    for (std::size_t i = 0; i < root.dict_size(); ++i) {
      const std::string& k = root.dict_key(i).text;
      if (k == out.wrapper) {
        state = &root.dict_value(i);
      } else if (auto text = plain_text(root.dict_value(i))) {
        out.metadata[k] = *text;
      } else {
        out.skipped.push_back(k);
      }
    }
  }

  const std::string in = out.wrapper.empty() ? std::string("the state dict") : "'" + out.wrapper + "'";
  std::unordered_set<std::string> seen;
  std::vector<std::pair<std::string, const Value*>> tensors;
  for (std::size_t i = 0; i < state->dict_size(); ++i) {
    std::string k = key_of(state->dict_key(i), source, in);
    NN_CHECK(seen.insert(k).second, source, ": duplicate key '", k, "' in ", in);
    if (is_tensor(state->dict_value(i)))
      tensors.emplace_back(std::move(k), &state->dict_value(i));
    else
      out.skipped.push_back(out.wrapper.empty() ? k : out.wrapper + "." + k);
  }
  const std::string prefix = "module.";
  if (!tensors.empty() &&
      std::all_of(tensors.begin(), tensors.end(), [&](const auto& kv) { return kv.first.starts_with(prefix); }))
    out.stripped_prefix = prefix;

  nn::NoGradGuard no_grad;
  TensorBuilder builder(storages);
  for (auto& [k, v] : tensors) {
    nn::Tensor t = builder.build(*v, str(source, ": tensor '", k, "'"));
    out.tensors.emplace_back(k.substr(out.stripped_prefix.size()), std::move(t));
  }
  return out;
}

// ---- the two formats --------------------------------------------------------------------------------------

TorchCheckpoint parse_zip(std::span<const std::uint8_t> bytes, const std::string& source) {
  const ZipReader zip(bytes, source);
  NN_CHECK(!zip.entries().empty(), source, ": empty zip archive, not a torch checkpoint");
  // torch names the archive folder after the file it was first saved as: the first entry's folder.
  const std::string& first = zip.entries().front().name;
  const auto slash = first.find('/');
  NN_CHECK(slash != std::string::npos && slash > 0, source, ": zip entry '", first,
           "' is not inside an archive folder; not a torch checkpoint");
  const std::string prefix = first.substr(0, slash + 1);
  NN_CHECK(zip.find(prefix + "data.pkl") != nullptr, source, ": zip has no '", prefix,
           "data.pkl' entry; not a torch checkpoint");
  if (const ZipEntry* order = zip.find(prefix + "byteorder")) {
    const auto b = zip.read(*order);
    const std::string_view text(reinterpret_cast<const char*>(b.data()), b.size());
    NN_CHECK(text != "big", source, ": big-endian checkpoint (byteorder 'big') is not supported");
    NN_CHECK(text == "little", source, ": unknown byteorder entry (", b.size(), " bytes)");
  }

  Storages storages;
  std::map<std::string, std::span<const std::uint8_t>> located;  // key -> bytes, each entry read (CRC) once
  const std::string pkl = prefix + "data.pkl";
  const pickle::PersistentLoad load = [&](const Value& pid) {
    StorageRef ref = parse_storage_id(pid, 5, source + ": " + pkl);
    auto it = located.find(ref.key);
    if (it == located.end()) {
      const std::string name = prefix + "data/" + ref.key;
      const ZipEntry* e = zip.find(name);
      NN_CHECK(e != nullptr, source, ": storage '", ref.key, "' has no entry '", name, "'");
      it = located.emplace(ref.key, zip.read(*e)).first;
      storages.distinct_bytes += e->size;
    }
    NN_CHECK(it->second.size() == storage_bytes(ref), source, ": entry '", prefix, "data/", ref.key, "' has ",
             it->second.size(), " bytes, but its ", ref.cls->name, " of ", ref.numel, " elements needs ",
             storage_bytes(ref));
    ref.bytes = it->second;
    storages.refs.push_back(std::move(ref));
    return static_cast<std::int64_t>(storages.refs.size() - 1);
  };
  const pickle::Unpickled obj = pickle::unpickle(zip.read(pkl), source + ": " + pkl, load);
  return assemble(*obj.root, storages, TorchFormat::zip, source);
}

TorchCheckpoint parse_legacy(std::span<const std::uint8_t> bytes, const std::string& source) {
  std::size_t pos = 0;
  auto next = [&](const char* what, const pickle::PersistentLoad& load = {}) {
    pickle::Unpickled p = pickle::unpickle(bytes.subspan(pos), str(source, ": ", what, " (at byte ", pos, ")"), load);
    pos += p.end;
    return p;
  };
  const auto magic = next("magic number");
  const std::string_view magic_bytes(reinterpret_cast<const char*>(kLegacyMagic), sizeof(kLegacyMagic));
  NN_CHECK(magic.root->is(Kind::big_integer) && magic.root->text == magic_bytes,
           source, ": legacy magic number missing (", pickle::describe(*magic.root), "); not a torch checkpoint");
  const auto protocol = next("protocol version");
  NN_CHECK(protocol.root->is(Kind::integer) && protocol.root->integer == kLegacyProtocol, source,
           ": legacy protocol version is ", pickle::describe(*protocol.root), ", expected ", kLegacyProtocol);
  const auto sys_info = next("sys_info");
  const Value* little = nullptr;
  if (sys_info.root->is(Kind::dict))
    for (std::size_t i = 0; i < sys_info.root->dict_size(); ++i)
      if (sys_info.root->dict_key(i).is(Kind::string) && sys_info.root->dict_key(i).text == "little_endian")
        little = &sys_info.root->dict_value(i);
  NN_CHECK(little != nullptr && little->is(Kind::boolean), source, ": sys_info has no little_endian flag");
  NN_CHECK(little->boolean, source, ": big-endian checkpoint (sys_info little_endian=False) is not supported");

  // Persistent ids name root storages (key, type, numel) and optionally a view (key, offset, size) of one.
  Storages storages;
  std::map<std::string, StorageRef> roots;  // root key -> its type and size, as the first id gave them
  const pickle::PersistentLoad load = [&](const Value& pid) {
    const std::string where = source + ": object pickle";
    StorageRef ref = parse_storage_id(pid, 6, where);
    const auto [it, fresh] = roots.emplace(ref.key, ref);
    NN_CHECK(fresh || (it->second.cls == ref.cls && it->second.numel == ref.numel), where, ": storage '", ref.key,
             "' is both ", it->second.cls->name, " of ", it->second.numel, " and ", ref.cls->name, " of ", ref.numel);
    const Value& view = *pid.items[5];
    if (!view.is(Kind::none)) {
      NN_CHECK(view.is(Kind::tuple) && view.items.size() == 3, where, ": view metadata is ", pickle::describe(view));
      expect_string(*view.items[0], where, "view key");
      const std::uint64_t offset = expect_count(*view.items[1], where, "view offset");
      const std::uint64_t size = expect_count(*view.items[2], where, "view size");
      NN_CHECK(offset <= ref.numel && size <= ref.numel - offset, where, ": view [", offset, ", +", size,
               ") of storage '", ref.key, "' is outside its ", ref.numel, " elements");
      ref.view_offset = offset;
      ref.numel = size;
    }
    storages.refs.push_back(std::move(ref));
    return static_cast<std::int64_t>(storages.refs.size() - 1);
  };
  const auto obj = next("object pickle", load);
  const auto keys = next("storage keys");
  NN_CHECK(keys.root->is(Kind::list), source, ": storage keys pickle is ", pickle::describe(*keys.root),
           ", expected a list");

  // Then each listed storage: int64 element count, raw little-endian elements.
  std::map<std::string, std::span<const std::uint8_t>> located;
  for (const Value* k : keys.root->items) {
    const std::string& key = expect_string(*k, source, "storage key");
    auto root = roots.find(key);
    NN_CHECK(root != roots.end(), source, ": storage '", key, "' is listed but the object pickle never names it");
    const StorageRef& ref = root->second;
    NN_CHECK(bytes.size() - pos >= 8, source, ": truncated before storage '", key, "' (at byte ", pos, ")");
    std::int64_t numel = 0;
    std::memcpy(&numel, bytes.data() + pos, 8);
    NN_CHECK(numel >= 0 && static_cast<std::uint64_t>(numel) == ref.numel, source, ": storage '", key, "' at byte ",
             pos, " has ", numel, " elements, its id says ", ref.numel);
    pos += 8;
    const std::uint64_t n = storage_bytes(ref);
    NN_CHECK(n <= bytes.size() - pos, source, ": storage '", key, "' needs ", n, " bytes at byte ", pos, ", only ",
             bytes.size() - pos, " left (truncated file?)");
    NN_CHECK(located.emplace(key, bytes.subspan(pos, n)).second, source, ": storage '", key, "' is listed twice");
    storages.distinct_bytes += n;
    pos += n;
  }
  NN_CHECK(pos == bytes.size(), source, ": ", bytes.size() - pos, " unexpected bytes after the last storage");
  for (StorageRef& ref : storages.refs) {
    auto it = located.find(ref.key);
    NN_CHECK(it != located.end(), source, ": storage '", ref.key, "' is used but not stored in the file");
    ref.bytes = it->second.subspan(ref.view_offset * ref.cls->element_size, storage_bytes(ref));
  }
  return assemble(*obj.root, storages, TorchFormat::legacy, source);
}

// A legacy checkpoint opens with PROTO, maybe FRAME (protocol 4+), then LONG1 of the 10-byte magic number.
bool has_legacy_magic(std::span<const std::uint8_t> head) {
  std::size_t at = 0;
  if (head.size() < 2 || head[0] != 0x80) return false;
  at = 2;
  if (head.size() > at && head[at] == 0x95) at += 9;
  if (head.size() < at + 2 + sizeof(kLegacyMagic) || head[at] != 0x8a || head[at + 1] != sizeof(kLegacyMagic))
    return false;
  return std::equal(std::begin(kLegacyMagic), std::end(kLegacyMagic), head.begin() + static_cast<std::ptrdiff_t>(at + 2));
}

bool is_tar(std::span<const std::uint8_t> head) {
  return head.size() >= 262 && std::memcmp(head.data() + 257, "ustar", 5) == 0;
}

}  // namespace

bool is_torch_checkpoint(std::span<const std::uint8_t> head) { return is_zip(head) || has_legacy_magic(head); }

TorchCheckpoint parse_torch_checkpoint(std::span<const std::uint8_t> bytes, const std::string& source) {
  if (is_zip(bytes)) return parse_zip(bytes, source);
  if (has_legacy_magic(bytes)) return parse_legacy(bytes, source);
  NN_CHECK(!is_tar(bytes), source, ": tar-format checkpoints (torch < 0.4) are not supported");
  throw nn::Error(str(source, ": not a PyTorch checkpoint (neither a zip archive nor a legacy pickle; ",
                      bytes.size(), " bytes)"));
}

TorchCheckpoint read_torch_checkpoint(const std::string& path) {
  const MappedFile file(path);
  return parse_torch_checkpoint(file.bytes(), path);
}

}  // namespace weights_import
