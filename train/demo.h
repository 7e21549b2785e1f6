// `hardtune demo`: the whole HardTune pipeline on the built-in synthetic dataset, in minutes on a laptop:
// synth -> attack-type folds -> train (folds x seeds) -> predict with flip TTA -> ensemble (folds, then
// seeds, as ensemble.py) -> eval with the challenge metrics and a report. Each step skips what an earlier,
// interrupted demo already finished (training resumes from its checkpoints), so rerunning continues.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hardtune {

struct DemoOptions {
  std::string out = "runs/demo";
  std::string config = "configs/synth_tiny.toml";
  std::vector<int> folds{1, 2, 3};
  std::vector<std::uint64_t> seeds{1, 2};
  int epochs = 0;  // > 0: override the config's total
  // The dataset (hardtune synth).
  int subjects_train = 24, subjects_val = 8, subjects_test = 8, samples_per_subject = 3;
  double difficulty = 0.8;  // above synth's default 0.5, which the tiny net solves outright
  std::uint64_t data_seed = 1;
};

struct DemoResult {
  double ensemble_acer = 0, mean_single_acer = 0;
  std::string report;  // report.html
};

DemoResult run_demo(const DemoOptions& options);

}  // namespace hardtune
