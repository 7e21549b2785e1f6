#include "weights_import/pickle.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <unordered_map>

#include "libnn/core/check.h"

namespace weights_import::pickle {

namespace {

using nn::str;

// What an allowed global means when it is called (REDUCE / NEWOBJ) or used as a plain name.
enum class Role : std::uint8_t { ordered_dict, size, rebuild, storage };

struct Allowed {
  std::string_view name;
  Role role;
};

// Tensor rebuilds stay inert Object records: torch_checkpoint.cpp checks their arguments and builds tensors.
constexpr Allowed kAllowed[] = {
    {"collections.OrderedDict", Role::ordered_dict},
    {"torch.Size", Role::size},
    {"torch._utils._rebuild_tensor", Role::rebuild},
    {"torch._utils._rebuild_tensor_v2", Role::rebuild},
    {"torch._utils._rebuild_parameter", Role::rebuild},
    {"torch._utils._rebuild_parameter_with_state", Role::rebuild},
};

constexpr StorageClass kStorageClasses[] = {
    {"torch.FloatStorage", Element::f32, 4},  {"torch.DoubleStorage", Element::f64, 8},
    {"torch.HalfStorage", Element::f16, 2},   {"torch.BFloat16Storage", Element::bf16, 2},
    {"torch.LongStorage", Element::i64, 8},   {"torch.IntStorage", Element::i32, 4},
    {"torch.ShortStorage", Element::i16, 2},  {"torch.CharStorage", Element::i8, 1},
    {"torch.ByteStorage", Element::u8, 1},    {"torch.BoolStorage", Element::boolean, 1},
};

const Allowed* find_allowed(std::string_view qualified) {
  for (const Allowed& a : kAllowed)
    if (a.name == qualified) return &a;
  static constexpr Allowed kStorage{"", Role::storage};
  return find_storage_class(qualified) ? &kStorage : nullptr;
}

// Opcodes (CPython Lib/pickle.py names). Everything else is refused.
enum Op : std::uint8_t {
  MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', NONE = 'N', BININT = 'J', BININT1 = 'K',
  BININT2 = 'M', BINFLOAT = 'G', BINSTRING = 'T', SHORT_BINSTRING = 'U', BINUNICODE = 'X', BINBYTES = 'B',
  SHORT_BINBYTES = 'C', EMPTY_DICT = '}', EMPTY_LIST = ']', EMPTY_TUPLE = ')', TUPLE = 't', LIST = 'l',
  DICT = 'd', APPEND = 'a', APPENDS = 'e', SETITEM = 's', SETITEMS = 'u', BINPUT = 'q', LONG_BINPUT = 'r',
  BINGET = 'h', LONG_BINGET = 'j', GLOBAL = 'c', REDUCE = 'R', BUILD = 'b', BINPERSID = 'Q',
  PROTO = 0x80, NEWOBJ = 0x81, TUPLE1 = 0x85, TUPLE2 = 0x86, TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89,
  LONG1 = 0x8a, LONG4 = 0x8b, SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d, BINBYTES8 = 0x8e, NEWOBJ_EX = 0x92,
  STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95,
};

constexpr std::size_t kMaxGlobalLine = 256;

class Machine {
 public:
  Machine(std::span<const std::uint8_t> in, const std::string& source, const PersistentLoad& persistent_load,
          const Limits& limits, std::deque<Value>& arena)
      : in_(in), src_(source), persistent_load_(persistent_load), limits_(limits), arena_(arena) {}

  std::pair<const Value*, std::size_t> run();

 private:
  template <typename... A>
  [[noreturn]] void fail(const A&... parts) const {
    throw nn::Error(str(src_, ": pickle: ", parts..., " at offset ", op_at_));
  }

  Value* make(Kind kind) {
    if (arena_.size() >= limits_.max_values) fail("more than ", limits_.max_values, " values");
    Value& v = arena_.emplace_back();
    v.kind = kind;
    return &v;
  }
  Value* make_int(std::int64_t i) {
    Value* v = make(Kind::integer);
    v->integer = i;
    return v;
  }

  const std::uint8_t* take(std::uint64_t n) {
    if (n > in_.size() - pos_) fail("truncated: needs ", n, " more bytes, ", in_.size() - pos_, " left");
    const std::uint8_t* p = in_.data() + pos_;
    pos_ += n;
    return p;
  }
  std::uint64_t read_le(int n) {
    const std::uint8_t* p = take(static_cast<std::uint64_t>(n));
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
  }
  std::string read_text(std::uint64_t n) {
    const std::uint8_t* p = take(n);  // checked before the string is allocated
    return std::string(reinterpret_cast<const char*>(p), n);
  }
  std::string read_line() {
    std::string line;
    for (;;) {
      const char c = static_cast<char>(*take(1));
      if (c == '\n') return line;
      if (line.size() >= kMaxGlobalLine) fail("GLOBAL name longer than ", kMaxGlobalLine, " bytes");
      line += c;
    }
  }

  void push(Value* v) {
    if (stack_.size() >= limits_.max_stack) fail("stack deeper than ", limits_.max_stack);
    stack_.push_back(v);
  }
  std::size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  Value* pop() {
    if (stack_.size() <= floor()) fail("stack underflow");
    Value* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value* top() {
    if (stack_.size() <= floor()) fail("stack underflow");
    return stack_.back();
  }
  // The items pushed since the last MARK, which is removed.
  std::vector<Value*> pop_mark() {
    if (marks_.empty()) fail("no MARK to pop to");
    const std::size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Value*> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  Value* expect(Value* v, Kind kind, const char* op) {
    if (!v->is(kind)) fail(op, " needs a ", kind_name(kind), ", got ", describe(*v));
    return v;
  }

  void memo_put(std::uint64_t index) {
    if (memo_.size() >= limits_.max_memo && !memo_.contains(index)) fail("memo larger than ", limits_.max_memo);
    memo_[index] = top();
  }
  void memo_get(std::uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) fail("memo entry ", index, " is not defined");
    push(it->second);
  }

  Value* make_long(std::uint64_t n);
  Value* global(std::string module, std::string name);
  Value* call(Value* callable, Value* args, const char* op);
  void set_items(Value* dict, const std::vector<Value*>& kv, const char* op);

  std::span<const std::uint8_t> in_;
  const std::string& src_;
  const PersistentLoad& persistent_load_;
  const Limits& limits_;
  std::deque<Value>& arena_;
  std::size_t pos_ = 0, op_at_ = 0;
  std::vector<Value*> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, Value*> memo_;
};

Value* Machine::make_long(std::uint64_t n) {
  if (n > static_cast<std::uint64_t>(kMaxIntBytes)) fail("integer of ", n, " bytes (at most ", kMaxIntBytes, ")");
  const std::uint8_t* p = take(n);
  if (n == 0) return make_int(0);
  const bool negative = p[n - 1] & 0x80;
  const std::uint8_t sign = negative ? 0xff : 0x00;
  // Minimal two's complement: drop top bytes that only repeat the sign.
  std::uint64_t len = n;
  while (len > 1 && p[len - 1] == sign && ((p[len - 2] & 0x80) != 0) == negative) --len;
  if (len <= 8) {
    std::uint64_t v = negative ? ~std::uint64_t{0} : 0;
    for (std::uint64_t i = len; i-- > 0;) v = (v << 8) | p[i];
    return make_int(static_cast<std::int64_t>(v));
  }
  Value* v = make(Kind::big_integer);
  v->text.assign(reinterpret_cast<const char*>(p), len);
  return v;
}

Value* Machine::global(std::string module, std::string name) {
  const std::string qualified = module + "." + name;
  if (!find_allowed(qualified)) fail("global '", qualified, "' is not allowed");
  Value* v = make(Kind::global);
  v->text = qualified;
  return v;
}

Value* Machine::call(Value* callable, Value* args, const char* op) {
  if (!callable->is(Kind::global)) fail(op, " on ", describe(*callable), ": only allowed globals can be called");
  expect(args, Kind::tuple, op);
  const Allowed* a = find_allowed(callable->text);
  const auto& xs = args->items;
  switch (a->role) {
    case Role::ordered_dict: {
      Value* d = make(Kind::dict);
      if (xs.empty()) return d;
      // Python 2 pickles an OrderedDict as OrderedDict([[key, value], ...]).
      if (xs.size() == 1 && (xs[0]->is(Kind::list) || xs[0]->is(Kind::tuple))) {
        std::vector<Value*> kv;
        for (Value* pair : xs[0]->items) {
          if (!(pair->is(Kind::list) || pair->is(Kind::tuple)) || pair->items.size() != 2)
            fail(op, " collections.OrderedDict: items must be (key, value) pairs");
          kv.push_back(pair->items[0]);
          kv.push_back(pair->items[1]);
        }
        set_items(d, kv, op);
        return d;
      }
      break;
    }
    case Role::size:
      if (xs.size() == 1 && (xs[0]->is(Kind::tuple) || xs[0]->is(Kind::list))) {
        Value* t = make(Kind::tuple);
        t->items = xs[0]->items;
        return t;
      }
      break;
    case Role::rebuild: {
      Value* o = make(Kind::object);
      o->text = callable->text;
      o->items = xs;
      return o;
    }
    case Role::storage: fail(op, " on '", callable->text, "': storage classes cannot be called");
  }
  fail(op, " '", callable->text, "' with arguments ", describe(*args), " is not supported");
}

void Machine::set_items(Value* dict, const std::vector<Value*>& kv, const char* op) {
  expect(dict, Kind::dict, op);
  if (kv.size() % 2 != 0) fail(op, " with an odd number (", kv.size(), ") of keys and values");
  dict->items.insert(dict->items.end(), kv.begin(), kv.end());
}

std::pair<const Value*, std::size_t> Machine::run() {
  while (pos_ < in_.size()) {
    op_at_ = pos_;
    const std::uint8_t op = *take(1);
    switch (op) {
      case PROTO: {
        const std::uint8_t proto = *take(1);
        if (proto < 2 || proto > 5) fail("protocol ", int(proto), " is not supported (2 to 5)");
        break;
      }
      case FRAME: {
        const std::uint64_t n = read_le(8);  // a hint for buffered readers; only checked
        if (n > in_.size() - pos_) fail("FRAME of ", n, " bytes runs past the end (", in_.size() - pos_, " left)");
        break;
      }
      case STOP: return {pop(), pos_};
      case MARK:
        if (marks_.size() >= limits_.max_stack) fail("more than ", limits_.max_stack, " open MARKs");
        marks_.push_back(stack_.size());
        break;
      case POP: pop(); break;
      case POP_MARK: pop_mark(); break;
      case DUP: push(top()); break;
      case NONE: push(make(Kind::none)); break;
      case NEWTRUE:
      case NEWFALSE: {
        Value* v = make(Kind::boolean);
        v->boolean = op == NEWTRUE;
        push(v);
        break;
      }
      case BININT: push(make_int(static_cast<std::int32_t>(read_le(4)))); break;
      case BININT1: push(make_int(static_cast<std::int64_t>(read_le(1)))); break;
      case BININT2: push(make_int(static_cast<std::int64_t>(read_le(2)))); break;
      case LONG1: push(make_long(read_le(1))); break;
      case LONG4: {
        const auto n = static_cast<std::int32_t>(read_le(4));
        if (n < 0) fail("LONG4 with negative length ", n);
        push(make_long(static_cast<std::uint64_t>(n)));
        break;
      }
      case BINFLOAT: {
        const std::uint8_t* p = take(8);
        std::uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];  // big-endian, unlike everything else
        Value* v = make(Kind::floating);
        v->floating = std::bit_cast<double>(bits);
        push(v);
        break;
      }
      case SHORT_BINUNICODE:
      case BINUNICODE:
      case BINUNICODE8:
      case SHORT_BINSTRING:
      case BINSTRING: {
        const int width = op == SHORT_BINUNICODE || op == SHORT_BINSTRING ? 1 : op == BINUNICODE8 ? 8 : 4;
        std::uint64_t n = read_le(width);
        if (op == BINSTRING && static_cast<std::int32_t>(n) < 0) fail("BINSTRING with negative length");
        Value* v = make(Kind::string);
        v->text = read_text(n);
        push(v);
        break;
      }
      case SHORT_BINBYTES:
      case BINBYTES:
      case BINBYTES8: {
        const std::uint64_t n = read_le(op == SHORT_BINBYTES ? 1 : op == BINBYTES ? 4 : 8);
        Value* v = make(Kind::bytes);
        v->text = read_text(n);
        push(v);
        break;
      }
      case EMPTY_DICT: push(make(Kind::dict)); break;
      case EMPTY_LIST: push(make(Kind::list)); break;
      case EMPTY_TUPLE: push(make(Kind::tuple)); break;
      case TUPLE1:
      case TUPLE2:
      case TUPLE3: {
        const int n = op - TUPLE1 + 1;
        Value* t = make(Kind::tuple);
        t->items.resize(static_cast<std::size_t>(n));
        for (int i = n - 1; i >= 0; --i) t->items[static_cast<std::size_t>(i)] = pop();
        push(t);
        break;
      }
      case TUPLE:
      case LIST: {
        Value* t = make(op == TUPLE ? Kind::tuple : Kind::list);
        t->items = pop_mark();
        push(t);
        break;
      }
      case DICT: {
        Value* d = make(Kind::dict);
        set_items(d, pop_mark(), "DICT");
        push(d);
        break;
      }
      case APPEND: {
        Value* item = pop();
        expect(top(), Kind::list, "APPEND")->items.push_back(item);
        break;
      }
      case APPENDS: {
        const auto items = pop_mark();
        auto& list = expect(top(), Kind::list, "APPENDS")->items;
        list.insert(list.end(), items.begin(), items.end());
        break;
      }
      case SETITEM: {
        Value* value = pop();
        Value* key = pop();
        set_items(top(), {key, value}, "SETITEM");
        break;
      }
      case SETITEMS: {
        const auto kv = pop_mark();
        set_items(top(), kv, "SETITEMS");
        break;
      }
      case BINPUT: memo_put(read_le(1)); break;
      case LONG_BINPUT: memo_put(read_le(4)); break;
      case MEMOIZE: memo_put(memo_.size()); break;
      case BINGET: memo_get(read_le(1)); break;
      case LONG_BINGET: memo_get(read_le(4)); break;
      case GLOBAL: {
        std::string module = read_line();
        push(global(std::move(module), read_line()));
        break;
      }
      case STACK_GLOBAL: {
        Value* name = expect(pop(), Kind::string, "STACK_GLOBAL");
        Value* module = expect(pop(), Kind::string, "STACK_GLOBAL");
        push(global(module->text, name->text));
        break;
      }
      case REDUCE:
      case NEWOBJ: {
        Value* args = pop();
        Value* callable = pop();
        push(call(callable, args, op == REDUCE ? "REDUCE" : "NEWOBJ"));
        break;
      }
      case NEWOBJ_EX: {
        Value* kwargs = expect(pop(), Kind::dict, "NEWOBJ_EX");
        if (kwargs->dict_size() != 0) fail("NEWOBJ_EX with keyword arguments is not supported");
        Value* args = pop();
        Value* cls = pop();
        push(call(cls, args, "NEWOBJ_EX"));
        break;
      }
      case BUILD: {
        Value* state = pop();
        Value* target = top();
        if (!target->is(Kind::dict) && !target->is(Kind::object)) fail("BUILD on ", describe(*target), " is not supported");
        target->state = state;
        break;
      }
      case BINPERSID: {
        Value* pid = pop();
        if (!persistent_load_) fail("persistent id ", describe(*pid), " but this pickle may not reference storages");
        Value* v = make(Kind::external);
        v->integer = persistent_load_(*pid);
        push(v);
        break;
      }
      default: {
        constexpr char hex[] = "0123456789abcdef";
        const char c = static_cast<char>(op);
        fail("opcode 0x", hex[op >> 4], hex[op & 15], op >= 0x20 && op < 0x7f ? str(" ('", c, "')") : std::string(),
             " is not supported");
      }
    }
  }
  op_at_ = pos_;
  fail("truncated: no STOP opcode");
}

}  // namespace

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::none: return "None";
    case Kind::boolean: return "bool";
    case Kind::integer:
    case Kind::big_integer: return "int";
    case Kind::floating: return "float";
    case Kind::string: return "str";
    case Kind::bytes: return "bytes";
    case Kind::tuple: return "tuple";
    case Kind::list: return "list";
    case Kind::dict: return "dict";
    case Kind::global: return "global";
    case Kind::object: return "object";
    case Kind::external: return "persistent object";
  }
  return "?";
}

std::string describe(const Value& v) {
  constexpr std::size_t kShown = 40;
  switch (v.kind) {
    case Kind::boolean: return v.boolean ? "True" : "False";
    case Kind::integer: return str("int ", v.integer);
    case Kind::big_integer: return str("int of ", v.text.size(), " bytes");
    case Kind::floating: return str("float ", v.floating);
    case Kind::string:
      return str("str '", v.text.substr(0, kShown), v.text.size() > kShown ? "...'" : "'");
    case Kind::tuple:
    case Kind::list: return str(kind_name(v.kind), " of ", v.items.size());
    case Kind::dict: return str("dict of ", v.dict_size());
    case Kind::global: return str("global '", v.text, "'");
    case Kind::object: return str("call of '", v.text, "'");
    default: return kind_name(v.kind);
  }
}

bool is_allowed_global(std::string_view module, std::string_view name) {
  return find_allowed(str(module, ".", name)) != nullptr;
}

const StorageClass* find_storage_class(std::string_view qualified_name) {
  for (const StorageClass& s : kStorageClasses)
    if (s.name == qualified_name) return &s;
  return nullptr;
}

Unpickled unpickle(std::span<const std::uint8_t> bytes, const std::string& source,
                   const PersistentLoad& persistent_load, const Limits& limits) {
  Unpickled out;
  out.arena = std::make_unique<std::deque<Value>>();
  Machine m(bytes, source, persistent_load, limits, *out.arena);
  std::tie(out.root, out.end) = m.run();
  return out;
}

}  // namespace weights_import::pickle
