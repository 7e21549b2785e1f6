// PyTorch checkpoints: every tensor of the real files tests/reference/make_checkpoints.py wrote (both
// formats) bit-exact against its expected safetensors, wrappers and metadata, the real attack files that
// plain torch.load executes, random mutations (only nn::Error may come out), and load_weights' detection.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "libnn/io/safetensors.h"
#include "tests/support/torch_files.h"
#include "weights_import/load_weights.h"
#include "weights_import/torch_checkpoint.h"
#include "weights_import/zip_reader.h"

using namespace nn;
using namespace nn::testing;
using namespace weights_import;
namespace fs = std::filesystem;

namespace {

// Reports the whole message when the part is missing.
void check_contains(const std::string& message, const std::string& part) {
  INFO("message: ", message);
  INFO("expected to contain: ", part);
  CHECK(message.find(part) != std::string::npos);
}

const std::string kDir = std::string(NN_REFERENCE_DIR) + "/checkpoints/";
const char* const kCases[] = {"convbn", "ir50_evolve",   "resnet_caffe34", "dataparallel",
                              "model_wrapper", "views", "dtypes", "convbn_protocol4"};
// make_checkpoints.py: the command its attack files run under plain torch.load.
const char* const kPwned = "/tmp/hardtune_checkpoint_pwned";

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw_data(), b.raw_data(), static_cast<std::size_t>(a.numel()) * dtype_size(a.dtype())) == 0;
}

void check_against_expected(const TorchCheckpoint& ck, const io::Safetensors& expected) {
  REQUIRE(ck.tensors.size() == expected.tensors.size());
  for (std::size_t i = 0; i < ck.tensors.size(); ++i) {
    const auto& [name, t] = ck.tensors[i];
    CAPTURE(name);
    CHECK(name == expected.tensors[i].first);  // the pickle's order
    CHECK(t.is_contiguous());
    CHECK(same_bytes(t, expected.tensors[i].second));
  }
  CHECK(ck.wrapper == expected.metadata.at("wrapper"));
  CHECK(ck.stripped_prefix == expected.metadata.at("stripped_prefix"));
  CHECK(nlohmann::json(ck.metadata) == nlohmann::json::parse(expected.metadata.at("metadata")));
  auto skipped = ck.skipped;
  std::sort(skipped.begin(), skipped.end());
  CHECK(nlohmann::json(skipped) == nlohmann::json::parse(expected.metadata.at("skipped")));
}

std::string parse_error(const Bytes& bytes) {
  try {
    parse_torch_checkpoint(bytes, "mem.pth");
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

std::string read_error(const std::string& path) {
  try {
    read_torch_checkpoint(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// Random edits of a valid file; each result must parse or throw nn::Error (anything else fails the test).
void mutate_and_parse(const Bytes& valid, std::uint64_t seed, int rounds, const std::function<Bytes(Bytes)>& wrap) {
  std::mt19937_64 rng(seed);
  int parsed = 0, rejected = 0;
  for (int r = 0; r < rounds; ++r) {
    Bytes b = valid;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !b.empty(); ++e) {
      const std::size_t at = rng() % b.size();
      switch (rng() % 6) {
        case 0: b[at] = static_cast<std::uint8_t>(rng()); break;
        case 1: b[at] ^= static_cast<std::uint8_t>(1u << (rng() % 8)); break;
        case 2: b.resize(at); break;
        case 3: b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), static_cast<std::uint8_t>(rng())); break;
        case 4: b.erase(b.begin() + static_cast<std::ptrdiff_t>(at)); break;
        default: b[at] = static_cast<std::uint8_t>(b[at] == 0 ? 0xff : b[at] - 1); break;  // lengths and counts
      }
    }
    const Bytes input = wrap(std::move(b));
    try {
      parse_torch_checkpoint(input, "mutant.pth");
      ++parsed;
    } catch (const Error&) {
      ++rejected;
    } catch (const std::exception& e) {
      FAIL("round ", r, ": ", typeid(e).name(), " escaped: ", e.what());
    }
  }
  MESSAGE(rounds, " mutants: ", parsed, " parsed, ", rejected, " rejected with nn::Error");
}

}  // namespace

TEST_CASE("weights_torch/reference_checkpoints_bit_exact") {
  for (const char* name : kCases) {
    CAPTURE(name);
    const auto expected = io::load_safetensors(kDir + name + ".expected.safetensors");
    const auto zip = read_torch_checkpoint(kDir + name + ".pth");
    CHECK(zip.format == TorchFormat::zip);
    check_against_expected(zip, expected);
    const auto legacy = read_torch_checkpoint(kDir + name + ".legacy.pth");
    CHECK(legacy.format == TorchFormat::legacy);
    check_against_expected(legacy, expected);
  }
}

TEST_CASE("weights_torch/real_key_names") {
  const auto ir = read_torch_checkpoint(kDir + "ir50_evolve.pth");
  auto has = [](const TorchCheckpoint& ck, const std::string& key) {
    return std::any_of(ck.tensors.begin(), ck.tensors.end(), [&](const auto& kv) { return kv.first == key; });
  };
  CHECK(has(ir, "input_layer.0.weight"));
  CHECK(has(ir, "input_layer.2.weight"));  // PReLU
  CHECK(has(ir, "body.23.res_layer.4.running_var"));
  CHECK(has(ir, "body.21.shortcut_layer.0.weight"));  // first unit of stage 4: conv shortcut
  CHECK_FALSE(has(ir, "body.22.shortcut_layer.0.weight"));  // later units: MaxPool(1, 1), no weights
  CHECK(has(ir, "output_layer.3.weight"));
  CHECK(has(ir, "output_layer.4.num_batches_tracked"));
  const auto caffe = read_torch_checkpoint(kDir + "resnet_caffe34.legacy.pth");
  CHECK(has(caffe, "layer4.0.weight"));
  CHECK(has(caffe, "layer3.8.relu2.weight"));  // five BasicBlocks after the four stage-entry modules
  CHECK(has(caffe, "fc.bias"));
  const auto dp = read_torch_checkpoint(kDir + "dataparallel.legacy.pth");
  CHECK(dp.tensors.front().first == "conv1.weight");
  CHECK(dp.metadata.at("epoch") == "7");
  CHECK(dp.tensors.back().second.dtype() == DType::f32);
  const auto bn = read_torch_checkpoint(kDir + "convbn.pth");
  bool saw_counter = false;
  for (const auto& [k, t] : bn.tensors)
    if (k == "bn1.num_batches_tracked") {
      saw_counter = true;
      CHECK(t.dtype() == DType::i64);
      CHECK(t.item() == 1007);
    }
  CHECK(saw_counter);
}

TEST_CASE("weights_torch/attack_files_run_nothing") {
  fs::remove(kPwned);
  struct Attack {
    const char* file;
    const char* message;
  };
  // Protocol 2 pickles name globals as Python 2 would: os.system is posix.system, builtins is __builtin__.
  for (const Attack& a : {Attack{"evil_os_system.pth", "global 'posix.system' is not allowed"},
                          Attack{"evil_os_system.legacy.pth", "global 'posix.system' is not allowed"},
                          Attack{"evil_eval.pth", "global '__builtin__.eval' is not allowed"},
                          Attack{"evil_stack_global.pth", "global 'posix.system' is not allowed"},
                          Attack{"zip_bomb.pth", "compressed with method 8 (deflate)"}}) {
    CAPTURE(a.file);
    const std::string err = read_error(kDir + a.file);
    check_contains(err, a.message);
    CHECK(err.find(a.file) != std::string::npos);
    CHECK_THROWS_AS(load_weights(kDir + a.file), Error);
  }
  CHECK_FALSE(fs::exists(kPwned));
}

TEST_CASE("weights_torch/mutations_only_throw_nn_error") {
  const Bytes zip = read_file_bytes(kDir + "dataparallel.pth");
  const Bytes legacy = read_file_bytes(kDir + "views.legacy.pth");
  const auto identity = [](Bytes b) { return b; };
  mutate_and_parse(zip, 2000, 2000, identity);
  mutate_and_parse(legacy, 2001, 2000, identity);
  // The zip's CRCs stop most edits of data.pkl at the archive layer; re-archiving the mutated pickle with
  // fresh CRCs sends the edits through the unpickler and the tensor checks instead.
  const Bytes views = read_file_bytes(kDir + "views.pth");
  const ZipReader reader(views, "views.pth");
  std::vector<std::pair<std::string, Bytes>> storages;
  for (const auto& e : reader.entries())
    if (e.name.starts_with("views/data/")) {
      const auto d = reader.read(e);
      storages.emplace_back(e.name.substr(11), Bytes(d.begin(), d.end()));
    }
  const auto data_pkl = reader.read("views/data.pkl");
  mutate_and_parse(Bytes(data_pkl.begin(), data_pkl.end()), 2002, 2000,
                   [&](Bytes p) { return make_torch_zip(p, storages); });
  CHECK(parse_torch_checkpoint(make_torch_zip(Bytes(data_pkl.begin(), data_pkl.end()), storages), "x").tensors.size() ==
        10);
}

TEST_CASE("weights_torch/files") {
  CHECK(read_error("/nonexistent/x.pth").find("/nonexistent/x.pth: cannot open: No such file") == 0);
  check_contains(read_error(kDir), "is a directory");
  const std::string empty = (fs::temp_directory_path() / "nn_test_empty.pth").string();
  std::ofstream(empty).close();
  CHECK(read_error(empty) == empty + ": not a PyTorch checkpoint (neither a zip archive nor a legacy pickle; 0 bytes)");
  fs::remove(empty);
  check_contains(parse_error(to_bytes("hello")), "not a PyTorch checkpoint");

  CHECK(is_torch_checkpoint(read_file_bytes(kDir + "convbn.pth")));
  CHECK(is_torch_checkpoint(read_file_bytes(kDir + "convbn.legacy.pth")));
  CHECK(is_torch_checkpoint(read_file_bytes(kDir + "convbn_protocol4.legacy.pth")));  // FRAME before the magic
  CHECK_FALSE(is_torch_checkpoint(read_file_bytes(kDir + "convbn.expected.safetensors")));
}

TEST_CASE("weights_torch/load_weights_detects_the_format") {
  const auto expected = io::load_safetensors(kDir + "dataparallel.expected.safetensors").tensors;
  for (const char* file : {"dataparallel.pth", "dataparallel.legacy.pth", "dataparallel.expected.safetensors"}) {
    CAPTURE(file);
    const StateDict sd = load_weights(kDir + file);
    REQUIRE(sd.size() == expected.size());
    for (std::size_t i = 0; i < sd.size(); ++i) {
      CHECK(sd[i].first == expected[i].first);
      CHECK(same_bytes(sd[i].second, expected[i].second));
    }
  }
  const std::string text = (fs::temp_directory_path() / "nn_test_weights.txt").string();
  std::ofstream(text) << "just some text, not weights";
  CHECK_THROWS_WITH_AS(load_weights(text), doctest::Contains((text + ": unknown weights format").c_str()), Error);
  fs::remove(text);
  CHECK_THROWS_WITH_AS(load_weights("/nonexistent.pth"), doctest::Contains("/nonexistent.pth: cannot open"), Error);
}
