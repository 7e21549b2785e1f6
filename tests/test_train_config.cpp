// The training config (train/config.h): every file in configs/ loads (so none can rot), the reference
// experiments say what REFERENCE.md §3 says, the canonical form round-trips, overrides apply, and mistakes
// (unknown keys, wrong types, bad values) are errors naming the file and the key.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "libnn/core/check.h"
#include "libnn/optim/lr_scheduler.h"
#include "libnn/optim/optimizer.h"
#include "train/config.h"

namespace fs = std::filesystem;
using hardtune::parse_train_config;
using hardtune::TrainConfig;

namespace {

const std::string kMinimal = R"(
[model]
name = "resnet34_dlas_a_tiny"
[data]
train_list = "train.txt"
[[stage]]
epochs = 2
)";

TrainConfig parse(const std::string& text) { return parse_train_config(text, "test.toml"); }

}  // namespace

TEST_CASE("train_config/every_config_in_configs_loads") {
  int count = 0;
  for (const auto& entry : fs::directory_iterator(NN_CONFIGS_DIR)) {
    if (entry.path().extension() != ".toml") continue;
    CAPTURE(entry.path().string());
    const TrainConfig c = hardtune::load_train_config(entry.path().string());
    CHECK(c.name == entry.path().stem().string());
    CHECK(c.total_epochs() > 0);
    CHECK_FALSE(c.describe().empty());
    // The canonical form parses back to itself.
    CHECK(parse_train_config(c.canonical(), "canonical").canonical() == c.canonical());
    hardtune::ConfigOverrides o;
    o.fold = 2;
    TrainConfig folded = c;
    hardtune::apply_overrides(folded, o);
    CHECK(folded.data.train_list_path().find("{") == std::string::npos);
    CHECK(folded.out_dir().find("{") == std::string::npos);
    ++count;
  }
  CHECK(count >= 6);
}

TEST_CASE("train_config/reference_experiments") {
  const auto exp1 = hardtune::load_train_config(std::string(NN_CONFIGS_DIR) + "/exp1_2stage.toml");
  CHECK(exp1.model.name == "resnet34_dlas_a");
  CHECK(exp1.model.options.frozen_head);
  CHECK(exp1.optimizer.type == "adam");
  CHECK(exp1.optimizer.lr == 2e-5);
  CHECK(exp1.optimizer.beta1 == 0.5);
  CHECK(exp1.optimizer.beta2 == 0.999);
  CHECK(exp1.schedule.type == "cosine_repeat");
  CHECK(exp1.schedule.T_max == 50);
  CHECK(exp1.schedule.T_mult == 0.5);
  CHECK(exp1.batch_size == 128);
  REQUIRE(exp1.stages.size() == 2);
  CHECK(exp1.total_epochs() == 50);
  CHECK(exp1.stages[0].augmentation == hardtune::Augmentation::strong);
  CHECK(exp1.stages[1].augmentation == hardtune::Augmentation::weak);
  CHECK(exp1.stage_of(29) == 0);
  CHECK(exp1.stage_of(30) == 1);
  CHECK(exp1.schedule_start(29) == 0);
  CHECK(exp1.schedule_start(30) == 30);  // the fresh stage-2 scheduler (§3.3)
  CHECK(exp1.schedule_start(49) == 30);
  CHECK_THROWS_AS(exp1.stage_of(50), nn::Error);

  for (const char* name : {"exp3b", "exp3c"}) {
    const auto c = hardtune::load_train_config(std::string(NN_CONFIGS_DIR) + "/" + name + ".toml");
    CHECK(c.model.name == "ir50_dlas_a");
    CHECK(c.pretrained.map == "evolve_ir");
    REQUIRE(c.stages.size() == 1);
    CHECK(c.stages[0].normalization == hardtune::NormalizationKind::half);
    CHECK(c.schedule_start(49) == 0);
  }
}

TEST_CASE("train_config/defaults_and_paths") {
  TrainConfig c = parse(kMinimal + "[checkpoint]\nkeep_last = 2\n");
  CHECK(c.name == "config");
  CHECK(c.optimizer.lr == 2e-5);
  CHECK(c.schedule.type == "cosine_repeat");
  CHECK(c.checkpoint.keep_last == 2);
  CHECK(c.data.train_list_path() == "train.txt");

  c = parse(R"(
name = "run"
seed = 3
out = "runs/{name}/s{seed}/f{fold}"
[model]
name = "ir50_dlas_a_tiny"
[data]
root = "/data/x/"
train_list = "{root}/fold{fold}/train.txt"
val_list = "lists/val.txt"
[[stage]]
epochs = 1
)");
  CHECK_THROWS_WITH_AS(c.data.train_list_path(), doctest::Contains("no fold is set"), nn::Error);
  hardtune::ConfigOverrides o;
  o.fold = 3;
  o.seed = 704;
  hardtune::apply_overrides(c, o);
  CHECK(c.data.train_list_path() == "/data/x/fold3/train.txt");
  CHECK(c.data.val_list_path() == "lists/val.txt");
  CHECK(c.out_dir() == "runs/run/s704/f3");
}

TEST_CASE("train_config/epochs_override_cuts_or_extends_stages") {
  const std::string two = R"(
[model]
name = "resnet34_dlas_a_tiny"
[data]
train_list = "t.txt"
[[stage]]
epochs = 3
[[stage]]
epochs = 2
augmentation = "weak"
restart_scheduler = true
)";
  for (const auto& [epochs, stages, last] : {std::tuple{1, 1u, 1}, std::tuple{3, 1u, 3}, std::tuple{4, 2u, 1},
                                            std::tuple{9, 2u, 6}}) {
    CAPTURE(epochs);
    TrainConfig c = parse(two);
    hardtune::ConfigOverrides o;
    o.epochs = epochs;
    hardtune::apply_overrides(c, o);
    CHECK(c.total_epochs() == epochs);
    REQUIRE(c.stages.size() == stages);
    CHECK(c.stages.back().epochs == last);
  }
}

TEST_CASE("train_config/errors_name_the_file_and_key") {
  auto fails_with = [](const std::string& text, const std::string& message) {
    CAPTURE(text);
    CHECK_THROWS_WITH_AS(parse(text), doctest::Contains(message.c_str()), nn::Error);
  };
  // Unknown keys, at every level, with the file and the line.
  fails_with("bach_size = 4\n" + kMinimal, "test.toml: unknown key bach_size (line 1;");
  fails_with(kMinimal + "[optimizer]\nlearning_rate = 1e-3\n", "test.toml: unknown key [optimizer].learning_rate");
  fails_with(kMinimal + "[optimizer]\ntype = \"sgd\"\nbetas = [0.9, 0.99]\n", "unknown key [optimizer].betas");
  fails_with(kMinimal + "[[stage]]\nepochs = 1\naugment = \"weak\"\n", "unknown key [[stage]][1].augment");
  fails_with(kMinimal + "bach_size = 4\n", "unknown key [[stage]][0].bach_size");  // TOML: it is the stage's
  fails_with(kMinimal + "[model]\n", "test.toml");  // a table defined twice: a TOML syntax error
  fails_with(R"([model]
name = "resnet34_dlas_a_tiny"
widht = 2
[data]
train_list = "t"
[[stage]]
epochs = 1
)", "unknown key [model].widht");
  // Types.
  fails_with("batch_size = \"32\"\n" + kMinimal, "test.toml: key batch_size: expected an integer, got a string");
  fails_with(kMinimal + "[optimizer]\nlr = \"1e-3\"\n", "key [optimizer].lr: expected a number, got a string");
  fails_with("drop_last = 1\n" + kMinimal, "key drop_last: expected a boolean (true or false), got an integer");
  fails_with("stage = 3\n" + kMinimal, "test.toml");  // stage defined twice: a TOML syntax error
  fails_with("checkpoint = 3\n" + kMinimal, "key checkpoint: expected a table, got an integer");
  fails_with("[stage]\nepochs = 3\n" + kMinimal.substr(0, kMinimal.find("[[stage]]")),
             "key stage: expected an array of tables ([[stage]] sections), got a table");
  // Values.
  fails_with(kMinimal + "[optimizer]\ntype = \"adamw\"\n", "\"adamw\" is not one of adam | sgd");
  fails_with(kMinimal + "[schedule]\ntype = \"cosine\"\nT_max = 2.5\n", "whole number of epochs");
  fails_with("batch_size = 0\n" + kMinimal, "key batch_size: 0 is out of range");
  fails_with("class_weights = [1.0]\n" + kMinimal, "expected 2 weights");
  fails_with(kMinimal + "[optimizer]\nbetas = [0.5]\n", "key [optimizer].betas: expected two numbers");
  fails_with(R"([model]
name = "resnet35"
[data]
train_list = "t"
[[stage]]
epochs = 1
)", "unknown model \"resnet35\"");
  fails_with("[data]\ntrain_list = \"t\"\n[[stage]]\nepochs = 1\n", "no [model] table");
  fails_with("[model]\nname = \"resnet34_dlas_a_tiny\"\n[data]\ntrain_list = \"t\"\n", "no [[stage]]");
  fails_with(kMinimal + "[[stage]]\naugmentation = \"weak\"\n", "key [[stage]][1].epochs: required");
  CHECK_THROWS_WITH_AS(hardtune::load_train_config("/nonexistent/x.toml"), doctest::Contains("/nonexistent/x.toml"),
                       nn::Error);
}

TEST_CASE("train_config/differences_list_the_keys_that_matter") {
  const TrainConfig a = parse(kMinimal);
  TrainConfig b = a;
  b.out = "elsewhere";  // result-neutral
  b.workers = 7;
  b.checkpoint.keep_last = 4;
  CHECK(hardtune::config_differences(a.canonical(), b.canonical()).empty());
  b.optimizer.lr = 1e-3;
  b.stages.push_back(b.stages[0]);
  const auto diff = hardtune::config_differences(a.canonical(), b.canonical());
  REQUIRE(diff.size() == 5);  // optimizer.lr and the four keys of the new stage
  CHECK(diff[0].starts_with("optimizer.lr: "));
  CHECK(diff[1].starts_with("stage.1."));
  CHECK(diff[1].find("(absent)") != std::string::npos);
}

TEST_CASE("train_config/exp1_2stage_lr_per_epoch") {
  // The loop the trainer runs: a scheduler at epoch 0 and a fresh one where a stage restarts it; the lr of
  // epoch e is the optimizer's while training e; step() after each epoch. REFERENCE.md §3.3's values.
  const auto c = hardtune::load_train_config(std::string(NN_CONFIGS_DIR) + "/exp1_2stage.toml");
  nn::Tensor w = nn::Tensor::zeros({2});
  w.set_requires_grad(true);
  auto optimizer = hardtune::make_optimizer(c.optimizer, {w});
  std::unique_ptr<nn::optim::LRScheduler> scheduler;
  std::vector<double> lr;
  for (int e = 0; e < c.total_epochs(); ++e) {
    if (e == c.schedule_start(e)) scheduler = hardtune::make_scheduler(c.schedule, *optimizer);
    lr.push_back(optimizer->lr(0));
    scheduler->step();
  }
  CHECK(lr[0] == doctest::Approx(2e-5).epsilon(1e-12));
  CHECK(lr[10] == doctest::Approx(1.809e-5).epsilon(1e-3));
  CHECK(lr[29] == doctest::Approx(7.51e-6).epsilon(1e-3));
  CHECK(lr[30] == doctest::Approx(2e-5).epsilon(1e-12));  // stage 2 restarts at the full lr
  CHECK(lr[40] == doctest::Approx(1.809e-5).epsilon(1e-3));
  CHECK(lr[49] == doctest::Approx(lr[19]).epsilon(1e-12));

  // exp2 runs one cosine: epoch 30 at 6.91e-6, epoch 49 at 1.97e-8.
  const auto exp2 = hardtune::load_train_config(std::string(NN_CONFIGS_DIR) + "/exp2.toml");
  auto opt2 = hardtune::make_optimizer(exp2.optimizer, {w});
  auto sched2 = hardtune::make_scheduler(exp2.schedule, *opt2);
  for (int e = 0; e < 30; ++e) sched2->step();
  CHECK(opt2->lr(0) == doctest::Approx(6.91e-6).epsilon(1e-3));
  for (int e = 30; e < 49; ++e) sched2->step();
  CHECK(opt2->lr(0) == doctest::Approx(1.97e-8).epsilon(1e-2));

  hardtune::ScheduleConfig constant;
  constant.type = "constant";
  CHECK(hardtune::make_scheduler(constant, *opt2) == nullptr);
  hardtune::OptimizerConfig sgd;
  sgd.type = "sgd";
  sgd.momentum = 0.9;
  CHECK(hardtune::make_optimizer(sgd, {w})->name() == "SGD");
}
