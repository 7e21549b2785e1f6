// `hardtune eval`: score files (ours or the original implementation's) against a labelled list: a metrics
// table on the terminal, and in the output directory metrics.json, metrics.csv, roc.svg/png, det.svg/png
// and report.html. The attack type of each fake comes from its path (training-style paths) or, for the
// anonymous Val/Test paths, from a meta file with columns rgb and type (the synthetic dataset's meta.csv).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <unordered_map>
#include <vector>

#include "infer/data/lists.h"
#include "infer/eval/report.h"

namespace infer::eval {

struct EvalOptions {
  std::vector<std::string> scores{};
  std::string list{};
  std::string meta{};  // optional: CSV with columns rgb and type (attack code), e.g. synth's meta.csv
  bool root_independent = false;
  double threshold = 0.5;
  int bootstrap = 1000;  // resamples; 0 = no intervals
  std::uint64_t seed = 0;
  std::string out{};  // "" = print only
};

// Evaluates each score file; prints the tables to `out` and writes the files when options.out is set.
std::vector<EvalResult> run_eval(const EvalOptions& options, std::ostream& out);

// rgb path key (path_key with root_independent) -> attack code, from a meta CSV with columns rgb and type.
std::unordered_map<std::string, std::string> read_attack_meta(const std::string& path, bool root_independent);
// Per sample, the fake's attack code ("" for reals); all "" when no fake's type is known.
std::vector<std::string> species_of(const ListFile& list, const std::unordered_map<std::string, std::string>& meta,
                                    bool root_independent);

}  // namespace infer::eval
