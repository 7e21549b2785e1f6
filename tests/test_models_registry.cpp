// The registry: every reduced model builds and runs at its input size, names and configs give clear
// errors, and the summary's totals agree with the model.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "libnn/autograd/grad_mode.h"
#include "models/registry.h"
#include "models/summary.h"

using namespace models;
namespace fs = std::filesystem;

namespace {
bool is_reduced(const std::string& name) {
  return name.find("_tiny") != std::string::npos || name.find("_w4") != std::string::npos;
}

std::string write_temp(const std::string& name, const std::string& text) {
  const fs::path p = fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()) + ".toml");
  std::ofstream(p) << text;
  return p.string();
}
}  // namespace

TEST_CASE("registry/every_reduced_model_runs") {
  int built = 0;
  for (const auto& info : list_models()) {
    if (!is_reduced(info.name) || info.name.find("_w4") != std::string::npos) continue;
    CAPTURE(info.name);
    auto net = build_model(info.name);
    net->eval();
    nn::NoGradGuard no_grad;
    const nn::Tensor x = nn::Tensor::zeros({1, 3, info.input_size, info.input_size});
    const nn::Tensor logits = net->logits(x, x, x);
    CHECK(logits.shape() == nn::Shape{1, 2});
    ++built;
  }
  CHECK(built >= 12);
}

TEST_CASE("registry/single_modality_nets_ignore_other_inputs") {
  auto net = build_model("resnet34_dlas_a_tiny_ir");
  CHECK(net->type_name() == "ResNet34DLAS_A_ir");
  for (const auto& [name, t] : net->named_parameters()) {
    CHECK(name.find("rgb_backbone") == std::string::npos);
    CHECK(name.find("depth_backbone") == std::string::npos);
  }
  CHECK(net->tensor("agg_layer1.conv1.weight").shape() == nn::Shape{8, 8, 1, 1});  // fuses one stream
  net->eval();
  nn::NoGradGuard no_grad;
  const nn::Tensor x = nn::Tensor::zeros({2, 3, 112, 112});
  CHECK(net->logits({}, {}, x).shape() == nn::Shape{2, 2});
  CHECK_THROWS_WITH_AS(net->logits(x, x, {}), doctest::Contains("the ir input is undefined"), nn::Error);
}

TEST_CASE("registry/errors_name_the_problem") {
  CHECK_THROWS_WITH_AS(build_model("resnet35"), doctest::Contains("unknown model \"resnet35\"; known models: "),
                       nn::Error);
  CHECK_THROWS_WITH_AS(build_model("resnet34_dlas_a_tiny", {.head = "svm"}), doctest::Contains("svm"), nn::Error);

  const auto bad_key = write_temp("bad_key", "[model]\nname = \"resnet34_dlas_a_tiny\"\nwidth = 3\n");
  CHECK_THROWS_WITH_AS(build_model_from_config(bad_key), doctest::Contains("unknown key [model].width"), nn::Error);
  const auto no_name = write_temp("no_name", "[model]\nhead = \"linear\"\n");
  CHECK_THROWS_WITH_AS(build_model_from_config(no_name), doctest::Contains("needs name"), nn::Error);
  const auto broken = write_temp("broken", "[model\nname = 1\n");
  CHECK_THROWS_WITH_AS(build_model_from_config(broken), doctest::Contains(broken.c_str()), nn::Error);
  CHECK_THROWS_AS(build_model_from_config("/nonexistent/model.toml"), nn::Error);
  for (const auto& p : {bad_key, no_name, broken}) fs::remove(p);
}

TEST_CASE("registry/config_file_sets_the_head") {
  const auto path = write_temp("config", R"([model]
name = "ir50_dlas_a_tiny"
head = "arc_margin"
frozen_head = true
)");
  auto net = build_model_from_config(path);
  fs::remove(path);
  CHECK(net->type_name() == "IR_12DLAS_A");  // named by its depth: 1+1+2+1 units
  CHECK(net->head()->type_name() == "ArcMarginHead");
  const nn::Tensor w = net->tensor("classifier.weight");
  CHECK(w.shape() == nn::Shape{2, net->feature_dim()});
  CHECK_FALSE(w.requires_grad());
}

TEST_CASE("summary/totals_agree_with_the_model") {
  auto net = build_model("resnet34_dlas_a_tiny");
  const Summary s = summarize(*net, 112, 2);
  CHECK(s.total_params == net->num_parameters());
  CHECK(s.feature_shape == nn::Shape{2, net->feature_dim()});
  CHECK(s.logits_shape == nn::Shape{2, 2});
  index_t row_params = 0;
  double row_flops = 0;
  for (const auto& r : s.rows) row_params += r.params, row_flops += r.flops;
  CHECK(row_params == s.total_params);  // every parameter is read by some op, counted once
  CHECK(row_flops == doctest::Approx(s.total_flops));
  // The first op is rgb_backbone.conv1 (3 -> 4 channels, 3x3, pad 0): 2 * 2 * 4 * 110 * 110 * 27 FLOPs.
  REQUIRE_FALSE(s.rows.empty());
  CHECK(s.rows[0].module == "rgb_backbone.conv1");
  CHECK(s.rows[0].flops == doctest::Approx(2.0 * 2 * 4 * 110 * 110 * 27));
}
