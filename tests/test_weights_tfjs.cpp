// The TF.js weights reader on small hand-built manifests: every stored type (float32, int32, bool, uint8 /
// uint16 / float16 quantization), several shards and groups, unaligned offsets, empty and scalar shapes; every
// validation error names the manifest and the tensor; load_tfjs on real files; hwio_to_oihw.
// The real face-api manifest is checked in test_faceapi.cpp.
#include <doctest/doctest.h>
#include <unistd.h>

#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "weights_import/tfjs.h"

using weights_import::parse_tfjs;
using Bytes = std::vector<std::uint8_t>;
namespace fs = std::filesystem;

namespace {

template <typename T>
void put(Bytes& b, T v) {
  std::uint8_t raw[sizeof(T)];
  std::memcpy(raw, &v, sizeof(T));
  b.insert(b.end(), raw, raw + sizeof(T));
}

// parse_tfjs over in-memory shards; an unknown path is an error like a missing file.
nn::StateDict parse(const std::string& manifest, const std::map<std::string, Bytes>& shards) {
  return parse_tfjs(
      manifest,
      [&](const std::string& p) {
        const auto it = shards.find(p);
        if (it == shards.end()) throw nn::Error("no shard " + p);
        return it->second;
      },
      "test-manifest.json");
}

const nn::Tensor& get(const nn::StateDict& d, const std::string& name) {
  for (const auto& [k, t] : d)
    if (k == name) return t;
  FAIL("no tensor " << name);
  static nn::Tensor none;
  return none;
}

// tfjs's dequantization: q * scale in double, + min in double, one rounding to float32.
float dequantize(double q, double scale, double min) {
  volatile double scaled = q * scale;  // volatile: the expectation must not use a fused multiply-add either
  return static_cast<float>(scaled + min);
}

std::string one_tensor(const std::string& weight_json, const std::string& path = "w.bin") {
  return R"([{"paths": [")" + path + R"("], "weights": [)" + weight_json + "]}]";
}

}  // namespace

TEST_CASE("tfjs/float32_int32_bool_and_offsets") {
  Bytes bin;
  put<std::uint8_t>(bin, 1), put<std::uint8_t>(bin, 0),
      put<std::uint8_t>(bin, 1);  // bool [3]: float32 follows unaligned
  for (float v : {1.5f, -2.25f, 3e-7f, 4.0f, 0.0f, -0.0f}) put(bin, v);
  for (std::int32_t v : {-5, 7, 2147483647}) put(bin, v);
  put(bin, 9.5f);  // scalar
  const auto d = parse(R"([{"paths": ["w.bin"], "weights": [
      {"name": "flags", "shape": [3], "dtype": "bool"},
      {"name": "a/b", "shape": [2, 3], "dtype": "float32"},
      {"name": "ints", "shape": [3], "dtype": "int32"},
      {"name": "empty", "shape": [0, 4], "dtype": "float32"},
      {"name": "scalar", "shape": [], "dtype": "float32"}]}])",
                       {{"w.bin", bin}});
  REQUIRE(d.size() == 5);
  CHECK(d[0].first == "flags");  // manifest order
  CHECK(get(d, "flags").dtype() == nn::DType::u8);
  CHECK(get(d, "flags").to_vector() == std::vector<double>{1, 0, 1});
  CHECK(get(d, "a/b").shape() == nn::Shape{2, 3});
  CHECK(get(d, "a/b").to_vector() == std::vector<double>{1.5, -2.25, double(3e-7f), 4, 0, 0});
  CHECK(std::signbit(get(d, "a/b").to_vector()[5]));
  CHECK(get(d, "ints").dtype() == nn::DType::i64);
  CHECK(get(d, "ints").to_vector() == std::vector<double>{-5, 7, 2147483647});
  CHECK(get(d, "empty").shape() == nn::Shape{0, 4});
  CHECK(get(d, "scalar").shape() == nn::Shape{});
  CHECK(get(d, "scalar").item() == 9.5);
}

TEST_CASE("tfjs/quantized_uint8_uint16_float16_int32") {
  Bytes bin;
  for (std::uint8_t q : {0, 1, 128, 255}) put(bin, q);
  for (std::uint16_t q : {0, 1, 40000, 65535}) put(bin, q);
  for (std::uint16_t h : {0x3C00, 0xC100, 0x7BFF, 0x0001}) put(bin, h);  // 1, -2.5, 65504, smallest subnormal
  for (std::uint8_t q : {0, 3, 10}) put(bin, q);
  const double s8 = 0.0005260649557207145, m8 = -0.07101876902229645;  // conv32_down/conv/filters of face-api
  const double s16 = 3.1e-5, m16 = -1.0;
  const auto d = parse(R"([{"paths": ["w.bin"], "weights": [
      {"name": "u8", "shape": [2, 2], "dtype": "float32",
       "quantization": {"dtype": "uint8", "scale": 0.0005260649557207145, "min": -0.07101876902229645}},
      {"name": "u16", "shape": [4], "dtype": "float32", "quantization": {"dtype": "uint16", "scale": 3.1e-5, "min": -1.0}},
      {"name": "f16", "shape": [4], "dtype": "float32", "quantization": {"dtype": "float16"}},
      {"name": "i32", "shape": [3], "dtype": "int32", "quantization": {"dtype": "uint8", "scale": 0.25, "min": -1.2}}]}])",
                       {{"w.bin", bin}});
  const auto u8 = get(d, "u8").to_vector();
  const double q8[] = {0, 1, 128, 255};
  for (int i = 0; i < 4; ++i) CHECK(u8[static_cast<std::size_t>(i)] == double(dequantize(q8[i], s8, m8)));
  const auto u16 = get(d, "u16").to_vector();
  const double q16[] = {0, 1, 40000, 65535};
  for (int i = 0; i < 4; ++i) CHECK(u16[static_cast<std::size_t>(i)] == double(dequantize(q16[i], s16, m16)));
  CHECK(get(d, "f16").to_vector() == std::vector<double>{1.0, -2.5, 65504.0, std::ldexp(1.0, -24)});
  // int32: Math.round(q * scale + min): -1.2 -> -1, -0.45 -> 0, 1.3 -> 1.
  CHECK(get(d, "i32").to_vector() == std::vector<double>{-1, 0, 1});
}

TEST_CASE("tfjs/shards_concatenate_and_groups_are_separate") {
  Bytes all;
  for (float v : {1.f, 2.f, 3.f, 4.f, 5.f}) put(all, v);
  // Group 0: two shards that split the second tensor mid-float; group 1: its own shard.
  const Bytes shard0(all.begin(), all.begin() + 6), shard1(all.begin() + 6, all.end());
  Bytes g1;
  put<std::uint16_t>(g1, 2);
  const auto d =
      parse(R"([
      {"paths": ["group1-shard1of2.bin", "sub/group1-shard2of2.bin"], "weights": [
        {"name": "x", "shape": [1], "dtype": "float32"}, {"name": "y", "shape": [2, 2], "dtype": "float32"}]},
      {"paths": ["./group2-shard1of1.bin"], "weights": [
        {"name": "z", "shape": [1], "dtype": "float32", "quantization": {"dtype": "uint16", "scale": 0.5, "min": 1}}]}])",
            {{"group1-shard1of2.bin", shard0}, {"sub/group1-shard2of2.bin", shard1}, {"./group2-shard1of1.bin", g1}});
  CHECK(get(d, "x").to_vector() == std::vector<double>{1});
  CHECK(get(d, "y").to_vector() == std::vector<double>{2, 3, 4, 5});
  CHECK(get(d, "z").to_vector() == std::vector<double>{2});

  const auto m = weights_import::parse_tfjs_manifest(R"([
      {"paths": ["a.bin"], "weights": [{"name": "x", "shape": [3], "dtype": "float32"},
                                       {"name": "y", "shape": [5], "dtype": "float32", "quantization": {"dtype": "uint8", "scale": 1, "min": 0}}]},
      {"paths": ["b.bin"], "weights": [{"name": "z", "shape": [2], "dtype": "bool"}]}])",
                                                     "m.json");
  REQUIRE(m.weights.size() == 3);
  CHECK(m.weights[1].offset == 12);
  CHECK(m.weights[1].bytes == 5);
  CHECK(m.weights[2].group == 1);
  CHECK(m.weights[2].offset == 0);
  CHECK(m.groups[0].bytes == 17);
  CHECK(m.groups[1].bytes == 2);
}

TEST_CASE("tfjs/invalid_manifests_name_the_file_and_tensor") {
  const std::map<std::string, Bytes> four{{"w.bin", Bytes(4, 0)}};
  const auto fails = [&](const std::string& manifest, const std::string& message,
                         const std::map<std::string, Bytes>& shards) {
    CAPTURE(manifest);
    CHECK_THROWS_WITH_AS(parse(manifest, shards), doctest::Contains(message.c_str()), nn::Error);
  };
  const auto fails4 = [&](const std::string& m, const std::string& msg) { fails(m, msg, four); };
  fails4("[{", "test-manifest.json: not valid JSON");
  fails4("{}", "test-manifest.json: a weights manifest is a non-empty JSON array of groups");
  fails4("[]", "non-empty JSON array");
  fails4(R"([{"weights": []}])", "test-manifest.json: group 0 has no paths");
  fails4(R"([{"paths": ["w.bin"]}])", "group 0 has no weights array");
  fails4(one_tensor(R"({"shape": [1], "dtype": "float32"})"), "a weights entry has no name");
  fails4(
      one_tensor(R"({"name": "t", "shape": [1], "dtype": "float32"}, {"name": "t", "shape": [0], "dtype": "float32"})"),
      "test-manifest.json: tensor \"t\" appears more than once");
  fails4(one_tensor(R"({"name": "neg", "shape": [2, -1], "dtype": "float32"})"),
         "test-manifest.json: tensor \"neg\": shape [2,-1] has extent -1");
  fails4(one_tensor(R"({"name": "frac", "shape": [2.5], "dtype": "float32"})"),
         "tensor \"frac\": shape [2.5] has a non-integer");
  fails4(one_tensor(R"({"name": "big", "shape": [4294967296], "dtype": "float32"})"),
         "tensor \"big\": shape [4294967296] has extent");
  fails4(one_tensor(R"({"name": "huge", "shape": [65536, 65536, 65536], "dtype": "float32"})"),
         "tensor \"huge\": shape [65536,65536,65536] has more than 2^32 elements");
  fails4(one_tensor(R"({"name": "rank", "shape": [1,1,1,1,1,1,1,1,1], "dtype": "float32"})"),
         "tensor \"rank\": rank 9");
  fails4(one_tensor(R"({"name": "s", "shape": [1], "dtype": "string"})"),
         "tensor \"s\": dtype \"string\" is not supported");
  fails4(one_tensor(R"({"name": "n", "shape": [1]})"), "tensor \"n\": no dtype");
  fails4(one_tensor(R"({"name": "q", "shape": [4], "dtype": "float32", "quantization": {"dtype": "int4"}})"),
         "tensor \"q\": quantization dtype \"int4\" is not supported");
  fails4(one_tensor(R"({"name": "q", "shape": [4], "dtype": "float32", "quantization": {"dtype": "uint8", "min": 0}})"),
         "tensor \"q\": uint8 quantization needs numeric scale and min");
  fails4(one_tensor(R"({"name": "q", "shape": [2], "dtype": "int32", "quantization": {"dtype": "float16"}})"),
         "tensor \"q\": float16 quantization needs dtype float32");
  fails4(one_tensor(R"({"name": "short", "shape": [2], "dtype": "float32"})"),
         "test-manifest.json: group 0: the shards hold 4 bytes, its tensors need exactly 8");
  fails4(one_tensor(R"({"name": "long", "shape": [3], "dtype": "bool"})"),
         "group 0: shard \"w.bin\" makes the group's shards longer than its tensors (3 bytes)");
  const std::pair<const char*, const char*> bad_paths[] = {
      {"/etc/passwd", "is absolute"},       {"../w.bin", "contains '..'"},
      {"a/../../w.bin", "contains '..'"},   {"..", "contains '..'"},
      {"a\\b.bin", "contains a backslash"}, {"C:w.bin", "contains ':'"},
      {"https://x/w.bin", "contains ':'"},  {"", "is empty"}};
  for (const auto& [path, why] : bad_paths) {
    const std::string manifest = R"([{"paths": [)" + nlohmann::json(path).dump() +
                                 R"(], "weights": [{"name": "t", "shape": [1], "dtype": "float32"}]}])";
    fails4(manifest, nn::str("test-manifest.json: group 0: shard path \"", path, "\" ", why));
  }
}

TEST_CASE("tfjs/load_from_files") {
  const fs::path dir = fs::temp_directory_path() / ("tfjs_test_" + std::to_string(::getpid()));
  fs::create_directories(dir / "shards");
  const auto write = [&](const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; };
  std::string bin;
  for (float v : {0.5f, -1.0f}) bin.append(reinterpret_cast<const char*>(&v), 4);
  write(dir / "shards" / "w.bin", bin);
  write(dir / "m.json", one_tensor(R"({"name": "v", "shape": [2], "dtype": "float32"})", "shards/w.bin"));
  const auto d = weights_import::load_tfjs((dir / "m.json").string());
  REQUIRE(d.size() == 1);
  CHECK(d[0].second.to_vector() == std::vector<double>{0.5, -1.0});

  // A shard larger than its group is refused before it is read; a missing one names itself.
  write(dir / "big.json", one_tensor(R"({"name": "v", "shape": [1], "dtype": "float32"})", "shards/w.bin"));
  CHECK_THROWS_WITH_AS(weights_import::load_tfjs((dir / "big.json").string()),
                       doctest::Contains("has 8 bytes, more than its group's tensors (4)"), nn::Error);
  write(dir / "missing.json", one_tensor(R"({"name": "v", "shape": [2], "dtype": "float32"})", "nope.bin"));
  CHECK_THROWS_WITH_AS(weights_import::load_tfjs((dir / "missing.json").string()),
                       doctest::Contains("missing.json: cannot read shard"), nn::Error);
  CHECK_THROWS_WITH_AS(weights_import::load_tfjs((dir / "absent.json").string()),
                       doctest::Contains("absent.json: cannot open the weights manifest"), nn::Error);
  fs::remove_all(dir);
}

TEST_CASE("tfjs/hwio_to_oihw") {
  std::vector<double> v(2 * 1 * 3 * 4);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = double(i);
  const nn::Tensor hwio = nn::Tensor::from_vector({2, 1, 3, 4}, v);  // [kh, kw, cin, cout]
  const nn::Tensor oihw = weights_import::hwio_to_oihw(hwio);
  REQUIRE(oihw.shape() == nn::Shape{4, 3, 2, 1});
  CHECK(oihw.is_contiguous());
  const auto out = oihw.to_vector();
  for (int o = 0; o < 4; ++o)
    for (int i = 0; i < 3; ++i)
      for (int h = 0; h < 2; ++h)
        CHECK(out[static_cast<std::size_t>((o * 3 + i) * 2 + h)] == v[static_cast<std::size_t>((h * 3 + i) * 4 + o)]);
  CHECK_THROWS_WITH_AS(weights_import::hwio_to_oihw(nn::Tensor::ones({3, 3})), doctest::Contains("must be 4-d"),
                       nn::Error);
}
