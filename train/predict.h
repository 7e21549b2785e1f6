// `hardtune predict`: scores a list with a trained model in eval mode, one column per test-time view
// (inference.py's --tta tokens), written as our score CSV (infer/scores.h) and optionally the challenge's
// submission format.
#pragma once

#include <ostream>
#include <string>

#include "infer/data/lists.h"

namespace hardtune {

struct PredictOptions {
  std::string weights{};        // a model file from `hardtune train` (or any weights file with --model)
  std::string model{};          // registry name; "" = the file's "model" metadata
  std::string map = "identity";
  std::string list{}, root{};     // the list to score and its data root
  std::string tta = "hflip";  // tokens of inference.py: "" (crop0), hflip, 5crop, rotate, joined by '_'
  std::string normalization{};  // cifar | half; "" = the file's metadata, else by model family
  std::string out{};            // score CSV
  std::string submission{};     // optional: `<rgb> <depth> <ir> <score>` lines
  long batch = 64;
  int workers = 2;
  infer::OnBadSample on_bad = infer::OnBadSample::fail;
  bool allow_size_mismatch = false;
  bool quiet = false;
};

void run_predict(const PredictOptions& options, std::ostream& log);

}  // namespace hardtune
