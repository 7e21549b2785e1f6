// safetensors: round trips, and hostile or broken files that must fail with a clear message.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "libnn/core/rng.h"
#include "libnn/io/safetensors.h"

using namespace nn;
namespace fs = std::filesystem;

namespace {
std::string temp_path(const std::string& name) { return (fs::temp_directory_path() / ("nn_test_" + name)).string(); }

void write_raw(const std::string& path, const std::string& header, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>(n >> (8 * i)));
  out << header << data;
}

std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string parse_error(std::span<const std::uint8_t> bytes) {
  try {
    io::parse_safetensors(bytes, "member.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

std::string load_error(const std::string& path) {
  try {
    io::load_safetensors(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST_CASE("safetensors/round_trip_all_dtypes") {
  Generator gen(3);
  io::NamedTensors in{{"w", Tensor::normal({3, 4, 5}, 0, 1, gen)},
                      {"d", Tensor::normal({2, 2}, 0, 1, gen, DType::f64)},
                      {"labels", Tensor::from_vector({3}, {0, 1, 1}, DType::i64)},
                      {"h", Tensor::from_vector({2}, {0.5, -1}).to(DType::f16)},
                      {"b", Tensor::from_vector({2}, {0.5, -1}).to(DType::bf16)},
                      {"scalar", Tensor::full({}, 3.0)},
                      {"empty", Tensor::zeros({0, 3})},
                      {"strided", Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6}).transpose(0, 1)}};
  const std::string path = temp_path("roundtrip.safetensors");
  io::save_safetensors(path, in, {{"format", "pt"}, {"case", "{\"k\": 3}"}});
  const auto out = io::load_safetensors(path);
  CHECK(out.metadata.at("case") == "{\"k\": 3}");
  REQUIRE(out.tensors.size() == in.size());
  for (const auto& kv : in) {  // not a structured binding: clang 14 cannot capture one (CAPTURE)
    const auto& [name, t] = kv;
    CAPTURE(kv.first);
    CHECK(out.get(name).dtype() == t.dtype());
    CHECK(out.get(name).shape() == t.shape());
    CHECK(out.get(name).to_vector() == t.to_vector());
  }
  CHECK_THROWS_WITH_AS(out.get("missing"), doctest::Contains("no tensor named \"missing\""), Error);
  CHECK_FALSE(fs::exists(path + ".tmp." + std::to_string(::getpid())));
  fs::remove(path);
}

TEST_CASE("safetensors/hostile_files") {
  const std::string path = temp_path("bad.safetensors");
  SUBCASE("missing") { CHECK(load_error(temp_path("nope.safetensors")).find("cannot open") != std::string::npos); }
  SUBCASE("too short") {
    std::ofstream(path) << "abc";
    CHECK(load_error(path).find("not a safetensors file") != std::string::npos);
  }
  SUBCASE("header larger than file") {
    std::ofstream out(path, std::ios::binary);
    const std::uint64_t n = 1ull << 40;
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>(n >> (8 * i)));
    out.close();
    CHECK(load_error(path).find("exceeds the file") != std::string::npos);
  }
  SUBCASE("malformed json") {
    write_raw(path, "{\"a\": [", "");
    CHECK(load_error(path).find("malformed JSON") != std::string::npos);
  }
  SUBCASE("offsets past the end") {
    write_raw(path, R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", std::string(8, '\0'));
    CHECK(load_error(path).find("outside the data section") != std::string::npos);
  }
  SUBCASE("size mismatch") {
    write_raw(path, R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", std::string(16, '\0'));
    CHECK(load_error(path).find("expected 12") != std::string::npos);
  }
  SUBCASE("huge shape") {
    write_raw(path, R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}})",
              std::string(16, '\0'));
    CHECK(load_error(path).find("larger than the file") != std::string::npos);
  }
  SUBCASE("negative dim") {
    write_raw(path, R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", std::string(4, '\0'));
    CHECK(load_error(path).find("non-negative") != std::string::npos);
  }
  SUBCASE("unknown dtype") {
    write_raw(path, R"({"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}})", std::string(8, '\0'));
    CHECK(load_error(path).find("unsupported dtype \"C64\"") != std::string::npos);
  }
  SUBCASE("overlap") {
    write_raw(path,
              R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
              std::string(12, '\0'));
    CHECK(load_error(path).find("overlap") != std::string::npos);
  }
  SUBCASE("metadata not strings") {
    write_raw(path, R"({"__metadata__":{"a":1}})", "");
    CHECK(load_error(path).find("not a string") != std::string::npos);
  }
  fs::remove(path);
}

TEST_CASE("safetensors/parse_bytes") {
  const std::string path = temp_path("bytes.safetensors");
  io::save_safetensors(path, {{"w", Tensor::from_vector({2, 2}, {1, 2, 3, 4})}, {"n", Tensor::zeros({0})}},
                       {{"format", "pt"}});
  std::vector<std::uint8_t> bytes = read_bytes(path);
  fs::remove(path);
  auto st = io::parse_safetensors(bytes, "member.safetensors");
  bytes.assign(bytes.size(), 0);  // the tensors own their data
  CHECK(st.source == "member.safetensors");
  CHECK(st.metadata.at("format") == "pt");
  CHECK(st.get("w").to_vector() == std::vector<double>{1, 2, 3, 4});
  CHECK(st.get("n").numel() == 0);

  io::save_safetensors(path, {{"w", Tensor::ones({4})}});
  const auto good = read_bytes(path);
  fs::remove(path);
  CHECK(parse_error({good.data(), 5}).find("member.safetensors: not a safetensors file") != std::string::npos);
  CHECK(parse_error({good.data(), good.size() - 1}).find("outside the data section") != std::string::npos);
  CHECK(parse_error({good.data(), 12}).find("member.safetensors: header size") != std::string::npos);
}

// Empty tensors hold no bytes: one whose offsets coincide with or fall inside another tensor's range is
// not an overlap. (The old check compared neighbours after an unstable sort, so the verdict depended on
// key order.)
TEST_CASE("safetensors/empty_tensors_never_overlap") {
  const std::string path = temp_path("empty_offsets.safetensors");
  write_raw(path,
            R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
            R"("b":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},)"
            R"("c":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]},)"
            R"("d":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
            std::string(12, '\0'));
  const auto st = io::load_safetensors(path);
  CHECK(st.tensors.size() == 4);
  CHECK(st.get("d").numel() == 1);
  // An empty tensor between two overlapping ones does not hide the overlap.
  write_raw(path,
            R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
            R"("b":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
            R"("c":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
            std::string(8, '\0'));
  CHECK(load_error(path).find("tensors \"a\" and \"c\" overlap") != std::string::npos);
  fs::remove(path);
}
