// What `hardtune eval` writes: the terminal table, metrics.json, metrics.csv and a one-page self-contained
// report.html (tables, per-attack APCER, the ROC and DET charts as inline SVG, bootstrap intervals).
#pragma once

#include <string>
#include <vector>

#include "infer/eval/metrics.h"

namespace infer::eval {

struct EvalResult {
  std::string name;                 // the score file
  Metrics metrics;
  std::vector<Interval> intervals;  // per scalar_metrics entry; empty without bootstrap
  RocCurve roc;                     // the full curve, for the charts
};

struct EvalContext {
  std::string list;
  double threshold = 0.5;
  int bootstrap = 0;  // resamples; 0 = none
  double level = 0.95;
  unsigned long long seed = 0;
};

std::string metrics_table(const std::vector<EvalResult>& results);  // fixed-width, one row per score file
std::string species_table(const std::vector<EvalResult>& results);  // per-attack APCER; "" without species
std::string metrics_json(const std::vector<EvalResult>& results, const EvalContext& context);
// One row per score file and metric: file,metric,value,low,high (low/high empty without bootstrap), then
// file,apcer[<species>],... rows for the species.
std::string metrics_csv(const std::vector<EvalResult>& results);
std::string report_html(const std::vector<EvalResult>& results, const EvalContext& context, const std::string& roc_svg,
                        const std::string& det_svg);

}  // namespace infer::eval
