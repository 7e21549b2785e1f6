#include "train/demo.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "infer/data/folds.h"
#include "infer/data/lists.h"
#include "infer/data/samples.h"
#include "infer/ensemble.h"
#include "infer/eval/eval.h"
#include "libnn/core/check.h"
#include "train/config.h"
#include "train/data/synth.h"
#include "train/predict.h"
#include "train/trainer.h"

namespace hardtune {

namespace fs = std::filesystem;

namespace {

void step(int n, const std::string& what) {
  std::printf("\n== demo %d/5: %s\n", n, what.c_str());
  std::fflush(stdout);
}

// Mean APCER over the attack types in `codes` that the evaluation saw.
double mean_apcer(const infer::eval::Metrics& m, const std::vector<std::string>& codes) {
  double sum = 0;
  int n = 0;
  for (const auto& s : m.species)
    if (std::ranges::find(codes, s.species) != codes.end()) sum += s.apcer, ++n;
  return n ? sum / n : 0.0;
}

// The attack type a fold holds out, as `lists folds` wrote it: the type of its held-out fakes.
std::string fold_held_out(const std::string& fold_dir) {
  for (const infer::ListRow& row : infer::read_list(fold_dir + "/val_list_orgl.txt").rows)
    if (row.label == 0) return std::string(infer::attack_code(infer::parse_sample_path(row.rgb).attack));
  return "none";
}

}  // namespace

DemoResult run_demo(const DemoOptions& o) {
  NN_CHECK(!o.folds.empty() && !o.seeds.empty(), "demo: needs at least one fold and one seed");
  const auto start = std::chrono::steady_clock::now();
  const std::string data = o.out + "/synth";

  step(1, "synthetic CASIA-SURF data (" + data + ")");
  if (fs::exists(data + "/test_list.txt")) {
    std::printf("demo: reusing %s\n", data.c_str());
  } else {
    data::SynthOptions s;
    s.out = data;
    s.seed = o.data_seed;
    s.subjects_train = o.subjects_train, s.subjects_val = o.subjects_val, s.subjects_test = o.subjects_test;
    s.samples_per_subject = o.samples_per_subject;
    s.look.difficulty = o.difficulty;
    fs::remove_all(data);  // a dataset without its test list was interrupted
    const auto summary = data::generate_synth_dataset(s);
    std::printf("demo: %ld train, %ld val, %ld test triplets\n", summary.train_rows, summary.val_rows, summary.test_rows);
  }
  if (!fs::exists(data + "/folds/fold" + std::to_string(o.folds.back()) + "/train_list.txt"))
    infer::run_lists_folds({.from = {data + "/train_list.txt"}, .out = data + "/folds", .seed = o.data_seed}, std::cout);

  step(2, "train " + std::to_string(o.folds.size()) + " folds x " + std::to_string(o.seeds.size()) + " seeds (" +
              o.config + ")");
  struct Member {
    std::string name, model, val_scores, test_scores;
  };
  std::vector<Member> members;  // seed-major: the groups of the ensemble are the seeds
  for (const std::uint64_t seed : o.seeds)
    for (const int fold : o.folds) {
      TrainConfig config = load_train_config(o.config);
      apply_overrides(config, {.fold = fold, .seed = seed, .out = nn::str(o.out, "/runs/seed", seed, "/fold", fold),
                               .root = data + "/", .epochs = o.epochs > 0 ? std::optional<int>(o.epochs) : std::nullopt,
                               .device = std::nullopt});
      std::printf("\n-- seed %llu, fold %d (held-out attack type: %s)\n", static_cast<unsigned long long>(seed), fold,
                  fold_held_out(nn::str(data, "/folds/fold", fold)).c_str());
      std::fflush(stdout);
      const TrainResult r = train(config, {.resume = true});
      members.push_back({nn::str("seed", seed, "_fold", fold), r.model_path, "", ""});
    }

  step(3, "predict val and test with flip TTA");
  const std::string scores = o.out + "/scores";
  fs::create_directories(scores);
  for (Member& m : members) {
    for (const char* split : {"val", "test"}) {
      const std::string out = nn::str(scores, "/", m.name, "_", split, ".csv");
      (std::string(split) == "val" ? m.val_scores : m.test_scores) = out;
      run_predict({.weights = m.model, .list = nn::str(data, "/", split, "_list.txt"), .root = data, .tta = "hflip",
                   .out = out, .quiet = true},
                  std::cout);
    }
  }

  step(4, "ensemble: mean over folds, then over seeds, calibrated on val (ensemble.py)");
  std::string groups;
  std::vector<std::string> test_files, val_files;
  for (std::size_t s = 0; s < o.seeds.size(); ++s) {
    groups += s ? ";" : "";
    for (std::size_t f = 0; f < o.folds.size(); ++f) {
      const std::size_t i = s * o.folds.size() + f;
      groups += nn::str(f ? "," : "", i + 1);
      test_files.push_back(members[i].test_scores);
      val_files.push_back(members[i].val_scores);
    }
  }
  const std::string raw = o.out + "/ensemble_test_uncalibrated.csv", ensemble = o.out + "/ensemble_test.csv";
  infer::run_ensemble({.out = raw, .scores = test_files, .groups = groups}, std::cout);
  // The reference's calibration: the lowest real score on validation becomes the 0.5 threshold.
  infer::run_ensemble({.out = ensemble, .scores = test_files, .groups = groups, .calibrate = "auto",
                       .val_list = data + "/val_list.txt", .val_scores = val_files,
                       .submission = o.out + "/submission.txt"},
                      std::cout);

  step(5, "evaluate on the test list (attack types 01-03 were never trained on)");
  std::vector<std::string> evaluated = test_files;
  evaluated.push_back(raw);
  evaluated.push_back(ensemble);
  const auto results = infer::eval::run_eval({.scores = evaluated, .list = data + "/test_list.txt",
                                              .meta = data + "/meta.csv", .bootstrap = 200, .out = o.out + "/report"},
                                             std::cout);
  DemoResult result;
  result.report = o.out + "/report/report.html";
  for (std::size_t i = 0; i < members.size(); ++i) result.mean_single_acer += results[i].metrics.at_threshold.acer;
  result.mean_single_acer /= static_cast<double>(members.size());
  const infer::eval::Metrics& e = results.back().metrics;
  result.ensemble_acer = e.at_threshold.acer;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("\ndemo: single models: mean ACER %.4f; ensemble of %zu: ACER %.4f, calibrated on val: ACER %.4f, "
              "TPR@FPR=1e-2 %.3f, AUC %.4f\n",
              result.mean_single_acer, members.size(), results[members.size()].metrics.at_threshold.acer,
              e.at_threshold.acer, e.tpr_1e2, e.auc);
  std::printf("demo: ensemble APCER on attack types seen in training (04-06) %.4f, unseen (01-03) %.4f; BPCER %.4f\n",
              mean_apcer(e, {"04_en_b", "05_enm_s", "06_enm_b"}), mean_apcer(e, {"01_e_s", "02_e_b", "03_en_s"}),
              e.at_threshold.bpcer);
  std::printf("demo: report %s; took %.0f s\n", result.report.c_str(), seconds);
  return result;
}

}  // namespace hardtune
