// `hardtune train` and `predict` end to end on a tiny synthetic dataset: resuming is bit-identical to an
// uninterrupted run (across a stage boundary with a scheduler restart), the lr follows the stages, a
// changed config is refused, a NaN loss stops the run naming the epoch, and predict's scores are the
// model's P(real) per view.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "infer/scores.h"
#include "libnn/core/check.h"
#include "libnn/io/safetensors.h"
#include "libnn/nn/state_dict.h"
#include "models/registry.h"
#include "support/temp_dir.h"
#include "train/config.h"
#include "train/data/synth.h"
#include "train/predict.h"
#include "train/trainer.h"

using namespace hardtune;
namespace fs = std::filesystem;

namespace {

// 3 training subjects x 4 sessions, 2 val and 2 test subjects x 7 sessions, one 48 px frame each.
std::string make_data(const test_support::TempDir& dir) {
  data::SynthOptions o;
  o.out = (dir / "synth").string();
  o.subjects_train = 3, o.subjects_val = 2, o.subjects_test = 2;
  o.samples_per_subject = 1;
  o.look.size = 48;
  o.quiet = true;
  data::generate_synth_dataset(o);
  return o.out;
}

TrainConfig tiny_config(const std::string& data, const std::string& out, const std::string& extra = "") {
  const std::string text = R"(
seed = 3
batch_size = 4
workers = 2
)" + extra + R"(
[model]
name = "resnet34_dlas_a_tiny"
frozen_head = true
[data]
root = ")" + data + R"("
train_list = "{root}/train_list.txt"
val_list = "{root}/val_list.txt"
[optimizer]
type = "adam"
lr = 1e-3
[schedule]
type = "cosine_repeat"
T_max = 4
T_mult = 0.5
[[stage]]
epochs = 2
augmentation = "strong"
[[stage]]
epochs = 1
augmentation = "weak"
restart_scheduler = true
)";
  TrainConfig c = parse_train_config(text, "tiny.toml", "tiny");
  c.out = out;
  return c;
}

nn::StateDict model_of(const std::string& checkpoint) {
  return nn::strip_prefix(nn::load_state_dict_file(checkpoint), "model.");
}

}  // namespace

TEST_CASE("train/resume continues bit-identically across a scheduler restart") {
  const test_support::TempDir dir("train_resume");
  const std::string data = make_data(dir);
  const TrainConfig whole = tiny_config(data, (dir / "whole").string());
  const TrainResult a = train(whole, {.quiet = true});
  REQUIRE(a.finished);
  REQUIRE(a.epochs.size() == 3);
  // cosine_repeat T_max 4 from 1e-3: epoch 0 1e-3, epoch 1 8.54e-4; stage 2 restarts at the full lr.
  CHECK(a.epochs[0].lr == doctest::Approx(1e-3));
  CHECK(a.epochs[1].lr == doctest::Approx(1e-3 * (1 + std::cos(M_PI / 4)) / 2));
  CHECK(a.epochs[2].lr == doctest::Approx(1e-3));
  CHECK(a.epochs[2].stage == 1);
  CHECK(std::isfinite(a.epochs[2].val_loss));
  CHECK(a.epochs[0].train_loss != a.epochs[2].train_loss);

  const TrainConfig split = tiny_config(data, (dir / "split").string());
  const TrainResult first = train(split, {.stop_after = 2, .quiet = true});
  CHECK_FALSE(first.finished);
  const TrainResult b = train(split, {.resume = true, .quiet = true});
  REQUIRE(b.finished);
  REQUIRE(b.epochs.size() == 3);
  // Epochs before the resume come back from epochs.csv (9 digits); the one trained after it is exact.
  for (std::size_t e = 0; e < 2; ++e) {
    CHECK(b.epochs[e].train_loss == doctest::Approx(a.epochs[e].train_loss).epsilon(1e-8));
    CHECK(b.epochs[e].val_loss == doctest::Approx(a.epochs[e].val_loss).epsilon(1e-8));
    CHECK(b.epochs[e].lr == doctest::Approx(a.epochs[e].lr).epsilon(1e-8));
  }
  CHECK(b.epochs[2].train_loss == a.epochs[2].train_loss);
  CHECK(b.epochs[2].val_loss == a.epochs[2].val_loss);
  CHECK(b.epochs[2].lr == a.epochs[2].lr);
  // Resuming a finished run trains nothing and still names the model.
  const TrainResult again = train(split, {.resume = true, .quiet = true});
  CHECK(again.finished);
  CHECK(again.model_path == b.model_path);
  CHECK(again.epochs.size() == 3);

  const nn::StateDict wa = model_of(a.model_path), wb = model_of(b.model_path);
  REQUIRE(wa.size() == wb.size());
  for (std::size_t i = 0; i < wa.size(); ++i) {
    CHECK(wa[i].first == wb[i].first);
    CHECK(wa[i].second.to_vector() == wb[i].second.to_vector());
  }
  CHECK(fs::exists(dir / "whole/best.safetensors"));
  CHECK(fs::exists(dir / "whole/epochs.csv"));

  // Resuming with a config that would train differently is refused, naming the key.
  const TrainConfig other = tiny_config(data, (dir / "split").string(), "drop_last = false\n");
  CHECK_THROWS_WITH_AS(train(other, {.resume = true, .quiet = true}), doctest::Contains("drop_last"), nn::Error);

  // predict: P(real) per view, their mean as the score, rows in list order, and the submission format.
  const std::string scores = (dir / "scores.csv").string(), submission = (dir / "submission.txt").string();
  std::ostringstream log;
  run_predict({.weights = a.model_path, .list = data + "/test_list.txt", .root = data, .tta = "hflip", .out = scores,
               .submission = submission, .batch = 5, .quiet = true},
              log);
  const infer::ScoreTable table = infer::read_scores(scores);
  const infer::ListFile list = infer::read_list(data + "/test_list.txt");
  REQUIRE(table.rows.size() == list.rows.size());
  CHECK(table.views == std::vector<std::string>{"crop0", "crop0_hflip"});
  for (std::size_t i = 0; i < table.rows.size(); ++i) {
    CHECK(table.rows[i].rgb == list.rows[i].rgb);
    CHECK(table.rows[i].score == doctest::Approx((table.rows[i].view_scores[0] + table.rows[i].view_scores[1]) / 2));
    CHECK(table.rows[i].score > 0.0);
    CHECK(table.rows[i].score < 1.0);
  }
  CHECK(table.rows[0].view_scores[0] != table.rows[0].view_scores[1]);
  std::ifstream sub(submission);
  std::string line;
  long lines = 0;
  while (std::getline(sub, line)) ++lines;
  CHECK(lines == static_cast<long>(list.rows.size()));
  CHECK(log.str().find("resnet34_dlas_a_tiny") != std::string::npos);
}

TEST_CASE("train/a NaN loss stops the run naming the epoch, and saves nothing of it") {
  const test_support::TempDir dir("train_nan");
  const std::string data = make_data(dir);
  auto net = models::build_model("resnet34_dlas_a_tiny", {.frozen_head = true});
  nn::StateDict weights = net->state_dict();
  for (auto& [name, t] : weights)
    if (name.ends_with("conv1.weight")) t.data<float>()[0] = std::nanf("");
  const std::string poisoned = (dir / "poisoned.safetensors").string();
  nn::save_state_dict(weights, poisoned);
  TrainConfig c = tiny_config(data, (dir / "run").string());
  c.pretrained.path = poisoned;
  CHECK_THROWS_WITH_AS(train(c, {.quiet = true}), doctest::Contains("the loss became nan at epoch 0, batch 0"), nn::Error);
  CHECK_FALSE(fs::exists(dir / "run/last.safetensors"));
  CHECK_FALSE(fs::exists(dir / "run/epoch_0.safetensors"));
}
