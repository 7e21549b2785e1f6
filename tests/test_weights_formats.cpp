// The layers under the torch checkpoint reader, on inputs built in memory (tests/support/torch_files.h): the
// zip reader (zip64, data descriptors, every kind of broken archive), the unpickler (opcodes, allow-list,
// limits) and crafted checkpoints whose tensors or storages are wrong in one specific way.
#include <doctest/doctest.h>

#include <cstring>

#include "tests/support/torch_files.h"
#include "weights_import/pickle.h"
#include "weights_import/torch_checkpoint.h"
#include "weights_import/zip_reader.h"

using namespace nn;
using namespace nn::testing;
using namespace weights_import;

namespace {

// Reports the whole message when the part is missing.
void check_contains(const std::string& message, const std::string& part) {
  INFO("message: ", message);
  INFO("expected to contain: ", part);
  CHECK(message.find(part) != std::string::npos);
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

std::string zip_error(const Bytes& b) {
  return error_of([&] { ZipReader(b, "t.zip"); });
}

std::string pickle_error(const Bytes& b, const pickle::Limits& limits = {}) {
  return error_of([&] { pickle::unpickle(b, "t.pkl", {}, limits); });
}

std::string checkpoint_error(const Bytes& b) {
  return error_of([&] { parse_torch_checkpoint(b, "t.pth"); });
}

void set_le(Bytes& b, std::size_t at, std::uint64_t v, int width) {
  for (int i = 0; i < width; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * i));
}

std::size_t find(const Bytes& b, std::initializer_list<std::uint8_t> pattern, std::size_t from = 0) {
  const auto it = std::search(b.begin() + static_cast<std::ptrdiff_t>(from), b.end(), pattern.begin(), pattern.end());
  REQUIRE(it != b.end());
  return static_cast<std::size_t>(it - b.begin());
}

const std::vector<std::pair<std::string, Bytes>> kTwoEntries{{"a/x", to_bytes("hello")}, {"a/y", to_bytes("world!")}};

// {'w': tensor(storage '0' of n floats; offset, size, stride)} as a zip checkpoint.
Bytes one_tensor(std::int64_t numel, std::int64_t offset, std::initializer_list<std::int64_t> size,
                 std::initializer_list<std::int64_t> stride, const Bytes& data) {
  PickleWriter p;
  p.proto().ordered_dict().mark().str("w").tensor("FloatStorage", "0", numel, offset, size, stride).op('u').stop();
  return make_torch_zip(p.out, {{"0", data}});
}

}  // namespace

// ---- zip ------------------------------------------------------------------------------------------------

TEST_CASE("weights_zip/crc32") {
  CHECK(crc32(to_bytes("123456789")) == 0xcbf43926u);
  auto bitwise = [](std::span<const std::uint8_t> b) {
    std::uint32_t c = ~0u;
    for (std::uint8_t byte : b) {
      c ^= byte;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
    return ~c;
  };
  Bytes data(1 << 16);
  std::uint32_t x = 1;
  for (auto& v : data) v = static_cast<std::uint8_t>((x = x * 1664525u + 1013904223u) >> 24);
  // Every length around the 16- and 64-byte blocks of the folding path, at every alignment.
  for (std::size_t offset = 0; offset < 16; ++offset)
    for (std::size_t n = 0; n < 300; ++n) {
      const std::span<const std::uint8_t> part(data.data() + offset, n);
      if (crc32(part) != bitwise(part)) FAIL_CHECK("crc32 differs at offset ", offset, ", length ", n);
    }
  CHECK(crc32(data) == bitwise(data));
  const std::span<const std::uint8_t> all(data);
  CHECK(crc32(all.subspan(1000), crc32(all.first(1000))) == crc32(all));  // continues a running CRC
}

TEST_CASE("weights_zip/reads_entries") {
  for (const ZipOptions o : {ZipOptions{}, ZipOptions{true, false}, ZipOptions{false, true}, ZipOptions{true, true}}) {
    CAPTURE(o.zip64);
    CAPTURE(o.data_descriptor);
    const Bytes b = make_zip(kTwoEntries, o);
    const ZipReader z(b, "t.zip");
    REQUIRE(z.entries().size() == 2);
    const auto y = z.read("a/y");
    CHECK(std::string(y.begin(), y.end()) == "world!");
    CHECK(z.find("a/x")->size == 5);
    CHECK(z.find("a/z") == nullptr);
    CHECK_THROWS_WITH_AS(z.read("a/z"), "t.zip: zip: no entry \"a/z\"", Error);
    CHECK(is_zip(b));
  }
  const Bytes empty = make_zip({});
  CHECK(ZipReader(empty, "e.zip").entries().empty());
}

TEST_CASE("weights_zip/every_truncation_fails_cleanly") {
  for (const ZipOptions o : {ZipOptions{}, ZipOptions{true, true}}) {
    const Bytes b = make_zip(kTwoEntries, o);
    for (std::size_t n = 0; n < b.size(); ++n) {
      CAPTURE(n);
      const Bytes cut(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
      CHECK(zip_error(cut).starts_with("t.zip: zip"));
    }
  }
  const Bytes b = make_zip(kTwoEntries);
  check_contains(zip_error(Bytes(b.begin(), b.end() - 1)), "no end-of-central-directory record");
}

TEST_CASE("weights_zip/hostile_archives") {
  const Bytes good = make_zip(kTwoEntries);
  const std::size_t cd = find(good, {0x50, 0x4b, 0x01, 0x02});  // first central directory entry
  const std::size_t cd2 = find(good, {0x50, 0x4b, 0x01, 0x02}, cd + 4);
  const std::size_t eocd = good.size() - 22;

  Bytes b = good;
  set_le(b, cd + 42, 1u << 30, 4);  // local header offset far outside
  CHECK(zip_error(b) == "t.zip: zip entry \"a/x\": local header offset 1073741824 is out of range");
  b = good;
  set_le(b, cd2 + 42, 3, 4);  // points into the middle of the first entry
  CHECK(zip_error(b) == "t.zip: zip entry \"a/y\": bad local header signature at offset 3");
  b = good;
  set_le(b, eocd + 16, good.size(), 4);  // central directory offset past the end
  check_contains(zip_error(b), "central directory [");
  b = good;
  set_le(b, eocd + 10, 0xfff0, 2);
  set_le(b, eocd + 8, 0xfff0, 2);
  CHECK(zip_error(b) == "t.zip: zip: 65520 entries cannot fit a central directory of 98 bytes");
  b = good;
  set_le(b, cd + 10, 8, 2);  // deflate
  set_le(b, 8, 8, 2);
  check_contains(zip_error(b), "entry \"a/x\": compressed with method 8 (deflate); only stored");
  b = good;
  set_le(b, cd + 8, 1, 2);
  CHECK(zip_error(b) == "t.zip: zip entry \"a/x\": encrypted entries are not supported");
  b = good;
  b[30] = 'b';  // local name "b/x"
  CHECK(zip_error(b) == "t.zip: zip entry \"a/x\": local header names \"b/x\"");
  b = good;
  set_le(b, cd + 24, 4, 4);  // central size 4, local 5
  set_le(b, cd + 20, 4, 4);
  check_contains(zip_error(b), "disagrees with the central directory");
  b = good;
  b[35] ^= 1;  // a data byte: the CRC catches it when read
  const ZipReader z(b, "t.zip");
  CHECK(error_of([&] { z.read("a/x"); }).find("t.zip: zip entry \"a/x\": CRC-32 mismatch") == 0);

  CHECK(zip_error(make_zip({{"a/x", to_bytes("1")}, {"a/x", to_bytes("2")}})) == "t.zip: zip: duplicate entry \"a/x\"");
  // With data descriptors the local sizes are not checked: a central size that runs into the next entry.
  b = make_zip(kTwoEntries, {false, true});
  const std::size_t dcd = find(b, {0x50, 0x4b, 0x01, 0x02});
  set_le(b, dcd + 20, 40, 4);
  set_le(b, dcd + 24, 40, 4);
  CHECK(zip_error(b) == "t.zip: zip: entries \"a/x\" and \"a/y\" overlap");
  set_le(b, dcd + 20, 4000, 4);
  set_le(b, dcd + 24, 4000, 4);
  check_contains(zip_error(b), "runs past the end of the entries");
  // Control bytes in names are escaped in messages.
  CHECK(zip_error(make_zip({{std::string("a\n\x01", 3), {}}, {std::string("a\n\x01", 3), {}}})) ==
        "t.zip: zip: duplicate entry \"a\\x0a\\x01\"");
}

TEST_CASE("weights_zip/zip64_records") {
  Bytes b = make_zip(kTwoEntries, {true, false});
  const std::size_t cd = find(b, {0x50, 0x4b, 0x01, 0x02});
  set_le(b, cd + 46 + 3 + 2, 16, 2);  // zip64 field of 16 bytes: sizes only, the offset is missing
  check_contains(zip_error(b), "zip64 extra field is too short");
  b = make_zip(kTwoEntries, {true, false});
  const std::size_t locator = find(b, {0x50, 0x4b, 0x06, 0x07});
  set_le(b, locator + 8, 1u << 20, 8);
  check_contains(zip_error(b), "zip64 end record offset 1048576 is out of range");
  b = make_zip(kTwoEntries, {true, false});
  b[locator] = 0;  // without the locator, the 0xffffffff markers of the end record cannot be resolved
  check_contains(zip_error(b), "no zip64 end record");
}

// ---- pickle ---------------------------------------------------------------------------------------------

TEST_CASE("weights_pickle/values") {
  PickleWriter w;
  w.proto(4).op(0x95).le(0, 8);  // FRAME
  w.mark().none().boolean(true).boolean(false).integer(-5).integer(300).integer(70000).integer(-(1ll << 40));
  w.op(0x8a).op(10).raw({0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19});  // LONG1, 80 bits
  w.op(0x8a).op(9).raw({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});        // -1 in 9 bytes
  w.op(0x8a).op(0);                                                                      // 0
  w.op('G').raw({0x3f, 0xf8, 0, 0, 0, 0, 0, 0});                                         // 1.5
  w.op(0x8c).op(2).raw({'h', 'i'}).op(0x94);                                             // SHORT_BINUNICODE, MEMOIZE
  w.op('C').op(2).raw({0, 1});                                                           // SHORT_BINBYTES
  w.op('h').op(0);                                                                       // BINGET 0: "hi" again
  w.op(']').op('q').op(1).integer(1).op('a').integer(2).integer(3).op(0x86).op('a');     // [1, (2, 3)]
  w.op('}').str("k").op('2').op('s');                                                    // {'k': 'k'} via DUP
  w.str("pkg").str("x").op('0');                                                         // POP
  w.op('t').stop();
  const auto r = pickle::unpickle(w.out, "t.pkl");
  CHECK(r.end == w.out.size());
  const auto& items = r.root->items;
  REQUIRE(items.size() == 17);
  CHECK(items[0]->is(pickle::Kind::none));
  CHECK((items[1]->boolean && !items[2]->boolean));
  CHECK(items[3]->integer == -5);
  CHECK(items[4]->integer == 300);
  CHECK(items[5]->integer == 70000);
  CHECK(items[6]->integer == -(1ll << 40));
  CHECK(items[7]->is(pickle::Kind::big_integer));
  CHECK(items[7]->text.size() == 10);
  CHECK((items[8]->is(pickle::Kind::integer) && items[8]->integer == -1));
  CHECK(items[9]->integer == 0);
  CHECK(items[10]->floating == 1.5);
  CHECK(items[11]->text == "hi");
  CHECK((items[12]->is(pickle::Kind::bytes) && items[12]->text == std::string("\0\1", 2)));
  CHECK(items[13] == items[11]);  // memo references share the value
  CHECK(items[14]->items.size() == 2);
  CHECK(items[14]->items[1]->items[1]->integer == 3);
  CHECK(items[15]->dict_size() == 1);
  CHECK(items[15]->dict_value(0).text == "k");
  CHECK(pickle::describe(*items[15]) == "dict of 1");
  CHECK(items[16]->text == "pkg");
}

TEST_CASE("weights_pickle/allowed_globals_are_interpreted") {
  PickleWriter w;
  w.proto().mark();
  w.ordered_dict().op('}').mark().str("_metadata").op('}').op('u').op('b');  // BUILD: attributes, not items
  w.global("torch", "Size").tuple({2, 3}).op(0x85).op('R');
  w.global("collections", "OrderedDict").op(']').mark().mark().str("a").integer(1).op('l').op('e').op(0x85).op('R');
  w.str("collections").str("OrderedDict").op(0x93).op(')').op(0x81);  // STACK_GLOBAL + NEWOBJ
  w.op('t').stop();
  const auto r = pickle::unpickle(w.out, "t.pkl");
  const auto& v = r.root->items;
  CHECK((v[0]->is(pickle::Kind::dict) && v[0]->dict_size() == 0 && v[0]->state != nullptr));
  CHECK((v[1]->is(pickle::Kind::tuple) && v[1]->items.size() == 2));
  CHECK((v[2]->dict_size() == 1 && v[2]->dict_key(0).text == "a"));
  CHECK(v[3]->is(pickle::Kind::dict));
  CHECK(pickle::is_allowed_global("torch._utils", "_rebuild_tensor_v2"));
  CHECK_FALSE(pickle::is_allowed_global("torch", "load"));
}

TEST_CASE("weights_pickle/rejects") {
  auto with = [](std::initializer_list<std::uint8_t> body) {
    PickleWriter w;
    w.proto().raw(body);
    return w.out;
  };
  auto global = [](const std::string& m, const std::string& n) {
    PickleWriter w;
    w.proto().global(m, n).str("touch /tmp/x").op(0x85).op('R').stop();
    return w.out;
  };
  CHECK(pickle_error(global("os", "system")) == "t.pkl: pickle: global 'os.system' is not allowed at offset 2");
  check_contains(pickle_error(global("posix", "system")), "global 'posix.system' is not allowed");
  check_contains(pickle_error(global("subprocess", "Popen")), "global 'subprocess.Popen' is not allowed");
  check_contains(pickle_error(global("torch", "load")), "global 'torch.load' is not allowed");
  // torch.load's unpickler would call this on pickled bytes: it is itself an unpickling entry point.
  check_contains(pickle_error(global("torch.storage", "_load_from_bytes")),
                 "global 'torch.storage._load_from_bytes' is not allowed");
  check_contains(pickle_error(global("torch", "FloatStorage")), "storage classes cannot be called");
  PickleWriter sg;
  sg.proto(4).str("builtins").str("eval").op(0x93).stop();
  check_contains(pickle_error(sg.out), "global 'builtins.eval' is not allowed at offset 24");
  PickleWriter bad_args;
  bad_args.proto().global("torch", "Size").integer(3).op(0x85).op('R').stop();
  check_contains(pickle_error(bad_args.out), "REDUCE 'torch.Size' with arguments tuple of 1 is not supported");
  PickleWriter call_int;
  call_int.proto().integer(3).op(')').op('R').stop();
  check_contains(pickle_error(call_int.out), "REDUCE on int 3: only allowed globals can be called");

  CHECK(pickle_error(with({0xff})) == "t.pkl: pickle: opcode 0xff is not supported at offset 2");
  CHECK(pickle_error(with({'P', '1', '\n'})) == "t.pkl: pickle: opcode 0x50 ('P') is not supported at offset 2");
  check_contains(pickle_error(with({0x96})), "opcode 0x96 is not supported");  // BYTEARRAY8
  check_contains(pickle_error({0x80, 9}), "protocol 9 is not supported");
  check_contains(pickle_error(with({'X', 0xff, 0xff, 0xff, 0x7f, 'a'})), "truncated: needs 2147483647 more bytes");
  check_contains(pickle_error(with({0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})), "truncated");
  check_contains(pickle_error(with({0x8b, 0, 0, 0, 1})), "integer of 16777216 bytes");
  check_contains(pickle_error(with({0x8b, 0xff, 0xff, 0xff, 0xff})), "LONG4 with negative length");
  check_contains(pickle_error(with({'h', 7})), "memo entry 7 is not defined");
  check_contains(pickle_error(with({'.'})), "stack underflow at offset 2");
  check_contains(pickle_error(with({'N', '(', 'a'})), "stack underflow");  // not across a MARK
  check_contains(pickle_error(with({'N', 'N', 'u'})), "no MARK to pop to");
  check_contains(pickle_error(with({'N', '(', 'N', 'u'})), "SETITEMS needs a dict, got None");
  check_contains(pickle_error(with({'}', '(', 'N', 'u'})), "SETITEMS with an odd number (1)");
  check_contains(pickle_error(with({'N', 'N', 'b'})), "BUILD on None is not supported");
  check_contains(pickle_error(with({'N', 'Q'})), "persistent id None but this pickle may not reference storages");
  CHECK(pickle_error(with({'N'})) == "t.pkl: pickle: truncated: no STOP opcode at offset 3");
  check_contains(pickle_error(with({0x95, 100, 0, 0, 0, 0, 0, 0, 0})), "FRAME of 100 bytes runs past the end");
  check_contains(pickle_error(with({'c', 'o', 's'})), "truncated");
  Bytes long_line = with({'c'});
  long_line.insert(long_line.end(), 300, 'a');
  check_contains(pickle_error(long_line), "GLOBAL name longer than 256 bytes");
}

TEST_CASE("weights_pickle/limits_and_shapes_that_could_hurt") {
  // 200k nested tuples: the machine is a loop and the arena frees without recursion.
  PickleWriter deep;
  deep.proto().op(']');
  for (int i = 0; i < 200000; ++i) deep.op(0x85);
  deep.stop();
  CHECK_NOTHROW(pickle::unpickle(deep.out, "deep.pkl"));
  // A list that contains itself.
  PickleWriter cycle;
  cycle.proto().op(']').op('q').op(0).op('h').op(0).op('a').stop();
  const auto c = pickle::unpickle(cycle.out, "cycle.pkl");
  CHECK(c.root->items.at(0) == c.root);

  pickle::Limits small;
  small.max_values = 100;
  small.max_stack = 50;
  small.max_memo = 10;
  Bytes many(202, 'N');  // PROTO 2, then 200 x NONE
  many[0] = 0x80;
  many[1] = 2;
  check_contains(pickle_error(many, small), "stack deeper than 50");
  small.max_stack = 1000;
  check_contains(pickle_error(many, small), "more than 100 values");
  Bytes memo = {0x80, 2, 'N'};
  for (int i = 0; i < 20; ++i) memo.insert(memo.end(), {'q', static_cast<std::uint8_t>(i)});
  check_contains(pickle_error(memo, small), "memo larger than 10");
  Bytes marks(2002, '(');
  marks[0] = 0x80;
  marks[1] = 2;
  check_contains(pickle_error(marks, small), "open MARKs");
}

// ---- crafted checkpoints --------------------------------------------------------------------------------

TEST_CASE("weights_checkpoint/tensor_geometry") {
  const Bytes data = float_bytes({0, 1, 2, 3, 4, 5, 6, 7});
  // A transposed view at an offset: (2, 3) with strides (1, 2) starting at element 1.
  const auto ck = parse_torch_checkpoint(one_tensor(8, 1, {2, 3}, {1, 2}, data), "t.pth");
  REQUIRE(ck.tensors.size() == 1);
  CHECK(ck.tensors[0].second.to_vector() == std::vector<double>{1, 3, 5, 2, 4, 6});
  CHECK(parse_torch_checkpoint(one_tensor(8, 8, {0, 5}, {5, 1}, data), "t.pth").tensors[0].second.numel() == 0);
  CHECK(parse_torch_checkpoint(one_tensor(8, 7, {}, {}, data), "t.pth").tensors[0].second.item() == 7);

  CHECK(checkpoint_error(one_tensor(8, 0, {3, 3}, {3, 1}, data)) ==
        "t.pth: tensor 'w': size (3, 3) stride (3, 1) at offset 0 does not fit its storage '0' of 8 elements");
  check_contains(checkpoint_error(one_tensor(8, 9, {0}, {1}, data)), "does not fit its storage");
  check_contains(checkpoint_error(one_tensor(8, 0, {2, 2}, {1ll << 62, 1}, data)), "does not fit");
  check_contains(checkpoint_error(one_tensor(8, 0, {1 << 20, 1 << 20}, {0, 0}, data)), "more than the file's storages can describe (32 bytes)");
  check_contains(checkpoint_error(one_tensor(8, 0, {1ll << 62, 1ll << 62, 16}, {0, 0, 0}, data)), "does not fit");
  check_contains(checkpoint_error(one_tensor(8, -1, {1}, {1}, data)), "storage offset is negative (-1)");
  check_contains(checkpoint_error(one_tensor(8, 0, {1, 1, 1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1, 1, 1, 1}, data)), "expected a tuple of at most 8 ints");
  check_contains(checkpoint_error(one_tensor(8, 0, {2}, {1, 1}, data)), "differ in length");
  CHECK(checkpoint_error(one_tensor(9, 0, {2}, {1}, data)) ==
        "t.pth: entry 'archive/data/0' has 32 bytes, but its torch.FloatStorage of 9 elements needs 36");
}

TEST_CASE("weights_checkpoint/storages_and_structure") {
  const Bytes data = float_bytes({1, 2});
  auto state_dict = [](const std::vector<std::string>& keys, const std::string& type = "FloatStorage") {
    PickleWriter p;
    p.proto().ordered_dict().mark();
    for (const auto& k : keys) p.str(k).tensor(type, "0", 2, 0, {2}, {1});
    return p.op('u').stop().out;
  };
  CHECK(checkpoint_error(make_torch_zip(state_dict({"w", "b", "w"}), {{"0", data}})) ==
        "t.pth: duplicate key 'w' in the state dict");
  CHECK(checkpoint_error(make_torch_zip(state_dict({"w"}), {})) ==
        "t.pth: storage '0' has no entry 'archive/data/0'");
  check_contains(checkpoint_error(make_torch_zip(state_dict({"w"}, "ComplexFloatStorage"), {{"0", data}})), "global 'torch.ComplexFloatStorage' is not allowed");
  check_contains(checkpoint_error(make_torch_zip(state_dict({"w"}), {{"0", data}}, {}, "")), "not inside an archive folder");
  // zip64 and data descriptors, as torch writes files over 4 GB.
  CHECK(parse_torch_checkpoint(make_torch_zip(state_dict({"w"}), {{"0", data}}, {true, true}), "t.pth").tensors.size() == 1);

  // "module." is stripped only when every key has it.
  auto prefixed = parse_torch_checkpoint(make_torch_zip(state_dict({"module.a", "module.b"}), {{"0", data}}), "t.pth");
  CHECK(prefixed.stripped_prefix == "module.");
  CHECK(prefixed.tensors[1].first == "b");
  auto mixed = parse_torch_checkpoint(make_torch_zip(state_dict({"module.a", "b"}), {{"0", data}}), "t.pth");
  CHECK(mixed.stripped_prefix.empty());
  CHECK(mixed.tensors[0].first == "module.a");

  auto with_entry = [&](const std::string& archive_entry, const std::string& text) {
    std::vector<std::pair<std::string, Bytes>> entries{{"archive/data.pkl", state_dict({"w"})},
                                                       {"archive/data/0", data}, {archive_entry, to_bytes(text)}};
    return make_zip(entries);
  };
  CHECK(parse_torch_checkpoint(with_entry("archive/byteorder", "little"), "t.pth").tensors.size() == 1);
  CHECK(checkpoint_error(with_entry("archive/byteorder", "big")) ==
        "t.pth: big-endian checkpoint (byteorder 'big') is not supported");

  PickleWriter list;
  list.proto().op(']').stop();
  CHECK(checkpoint_error(make_torch_zip(list.out, {})) == "t.pth: the checkpoint holds a list of 0, not a dict of tensors");
  PickleWriter two;
  two.proto().op('}').mark().str("a").op('}').str("w").tensor("FloatStorage", "0", 2, 0, {2}, {1}).op('s');
  two.str("b").op('}').str("w").tensor("FloatStorage", "0", 2, 0, {2}, {1}).op('s').op('u').stop();
  CHECK(checkpoint_error(make_torch_zip(two.out, {{"0", data}})) ==
        "t.pth: several entries hold tensors ('a', 'b'); cannot tell which is the state dict");
  PickleWriter none;
  none.proto().op('}').mark().str("epoch").integer(3).str("arch").str("x").op('u').stop();
  CHECK(checkpoint_error(make_torch_zip(none.out, {})) == "t.pth: no dict of tensors found (keys: 'epoch', 'arch')");
  PickleWriter int_key;
  int_key.proto().op('}').integer(3).tensor("FloatStorage", "0", 2, 0, {2}, {1}).op('s').stop();
  CHECK(checkpoint_error(make_torch_zip(int_key.out, {{"0", data}})) ==
        "t.pth: the state dict has a key that is int 3, not a string");
}

TEST_CASE("weights_checkpoint/legacy_format") {
  // Storage '0' holds 6 floats; tensor 'v' uses the view (key 'v0', offset 2, size 3) of it, as torch < 0.4 did.
  PickleWriter p;
  p.proto().op('}').mark().str("w").tensor("FloatStorage", "0", 6, 0, {2, 3}, {3, 1}, true);
  p.str("v").global("torch._utils", "_rebuild_tensor").mark();
  p.mark().str("storage").global("torch", "FloatStorage").str("0").str("cpu").integer(6);
  p.mark().str("v0").integer(2).integer(3).op('t').op('t').op('Q');
  p.integer(1).tuple({2}).tuple({1}).op('t').op('R').op('u').stop();
  const Bytes data = float_bytes({0, 1, 2, 3, 4, 5});
  const Bytes good = make_torch_legacy(p.out, {{"0", data}}, 4);
  const auto ck = parse_torch_checkpoint(good, "t.pth");
  CHECK(ck.format == TorchFormat::legacy);
  CHECK(ck.tensors.at(0).second.to_vector() == std::vector<double>{0, 1, 2, 3, 4, 5});
  CHECK(ck.tensors.at(1).second.to_vector() == std::vector<double>{3, 4});  // view elements 2..4, offset 1

  Bytes b = good;
  b.push_back(0);
  CHECK(checkpoint_error(b) == "t.pth: 1 unexpected bytes after the last storage");
  b = Bytes(good.begin(), good.end() - 1);
  check_contains(checkpoint_error(b), "storage '0' needs 24 bytes");
  CHECK(checkpoint_error(make_torch_legacy(p.out, {{"0", data}}, 4, false)) ==
        "t.pth: big-endian checkpoint (sys_info little_endian=False) is not supported");
  check_contains(checkpoint_error(make_torch_legacy(p.out, {{"0", float_bytes({1, 2})}}, 4)), "storage '0' at byte");
  CHECK(checkpoint_error(make_torch_legacy(p.out, {{"0", data}, {"1", data}}, 4)) ==
        "t.pth: storage '1' is listed but the object pickle never names it");
  CHECK(checkpoint_error(make_torch_legacy(p.out, {}, 4)) == "t.pth: storage '0' is used but not stored in the file");
  b = good;
  b[5] ^= 1;  // the magic number
  check_contains(checkpoint_error(b), "not a PyTorch checkpoint");
}
