// A safe unpickler for what torch.save writes (protocols 2-5). Nothing is ever imported or called: GLOBAL
// names go through a fixed allow-list, and REDUCE / NEWOBJ / BUILD on an allowed name are interpreted here
// (an OrderedDict becomes a dict, torch.Size a tuple, a tensor-rebuild call an inert Object record that
// torch_checkpoint.cpp turns into a tensor). Any other global is an error naming it ("global 'os.system' is
// not allowed"), as is any opcode outside the set state dicts use.
//
// Hostile input: every length is checked against the remaining bytes before anything is allocated, the
// stack, mark stack, memo, value count and integer width are bounded, and the machine is a loop (no
// recursion). Values live in an arena owned by the result and point at each other with raw pointers, so
// shared and even cyclic structures (which memo references allow) cost no reference counts and free
// without recursion; consumers must bound their own walks.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace weights_import::pickle {

enum class Kind : std::uint8_t {
  none,
  boolean,
  integer,      // fits int64
  big_integer,  // wider (up to kMaxIntBytes): the minimal two's-complement little-endian bytes in `text`
  floating,
  string,       // UTF-8 (or Python 2 str bytes) in `text`
  bytes,        // in `text`
  tuple,        // items
  list,         // items
  dict,         // items = key0, value0, key1, value1, ... in SETITEM order, duplicate keys kept
  global,       // an allowed "module.name" in `text`
  object,       // an allowed call, interpreted later: `text` = the callable's "module.name", items = args
  external,     // what persistent_load returned for a persistent id: `integer` = its handle
};

const char* kind_name(Kind kind);

struct Value {
  Kind kind = Kind::none;
  bool boolean = false;
  std::int64_t integer = 0;
  double floating = 0;
  std::string text;
  std::vector<Value*> items;
  // dict: the state BUILD set (an OrderedDict's attributes, e.g. a state dict's `_metadata`);
  // object: the state BUILD gave it. Kept for inspection, never acted on.
  Value* state = nullptr;

  bool is(Kind k) const { return kind == k; }
  std::size_t dict_size() const { return items.size() / 2; }
  const Value& dict_key(std::size_t i) const { return *items[2 * i]; }
  const Value& dict_value(std::size_t i) const { return *items[2 * i + 1]; }
};

// A persistent id (the value BINPERSID popped) -> a handle the caller understands (a storage index).
// Throws nn::Error for ids it does not accept.
using PersistentLoad = std::function<std::int64_t(const Value& pid)>;

// Far above what a state dict needs (a full-width IR-50 checkpoint makes ~6k values) while keeping the worst
// case of a hostile pickle (one value per input byte) near 200 MB.
struct Limits {
  std::size_t max_values = 2u << 20;  // Values created, the main memory bound (~90 bytes each)
  std::size_t max_stack = 1u << 20;   // stack entries (and the mark stack)
  std::size_t max_memo = 1u << 20;
};

// One unpickled object. Movable; the Values stay where they are.
struct Unpickled {
  std::unique_ptr<std::deque<Value>> arena;
  const Value* root = nullptr;
  std::size_t end = 0;  // the offset just past STOP: a legacy checkpoint is several pickles back to back
};

// Unpickles one pickle starting at bytes[0]. Errors are nn::Error "<source>: pickle: <problem> at offset N".
Unpickled unpickle(std::span<const std::uint8_t> bytes, const std::string& source,
                   const PersistentLoad& persistent_load = {}, const Limits& limits = {});

// The allow-list: true for the globals this unpickler knows how to interpret.
bool is_allowed_global(std::string_view module, std::string_view name);

// torch's typed storage classes (torch.FloatStorage, ...): allowed as names inside persistent ids, never
// callable. torch_checkpoint.cpp decides how each element type becomes an nn::DType.
enum class Element : std::uint8_t { f32, f64, f16, bf16, i64, i32, i16, i8, u8, boolean };
struct StorageClass {
  std::string_view name;  // "torch.FloatStorage"
  Element element;
  std::size_t element_size;
};
const StorageClass* find_storage_class(std::string_view qualified_name);  // nullptr when not one

// A short description of a value for messages ("dict of 3", "str 'epoch'", "int 7").
std::string describe(const Value& value);

constexpr int kMaxIntBytes = 32;  // LONG1/LONG4 wider than 256 bits are refused

}  // namespace weights_import::pickle
