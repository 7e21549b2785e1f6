// The challenge's metrics (metrics.h). One sort per call; the bootstrap reuses compute_metrics per resample.
#include "infer/eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "libnn/core/check.h"

namespace infer::eval {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_inputs(const std::vector<double>& scores, const std::vector<int>& labels) {
  NN_CHECK(scores.size() == labels.size(), "metrics: ", scores.size(), " scores but ", labels.size(), " labels");
  NN_CHECK(!scores.empty(), "metrics: no samples");
  for (std::size_t i = 0; i < scores.size(); ++i) {
    NN_CHECK(labels[i] == 0 || labels[i] == 1, "metrics: label ", labels[i], " of sample ", i,
             " is neither 0 (fake) nor 1 (real)");
    NN_CHECK(std::isfinite(scores[i]), "metrics: score of sample ", i, " is not finite");
  }
}

// splitmix64: a tiny counter-based generator, so resample b's draws depend only on (seed, b).
std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in [0, n) by the remainder: the bias, n / 2^64, is far below anything a bootstrap can see.
std::size_t draw(std::uint64_t& state, std::size_t n) { return static_cast<std::size_t>(splitmix64(state) % n); }

}  // namespace

RocCurve roc_curve(const std::vector<double>& scores, const std::vector<int>& labels, bool drop_intermediate) {
  check_inputs(scores, labels);
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  RocCurve c;
  long tp = 0, fp = 0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    (labels[order[k]] == 1 ? tp : fp) += 1;
    if (k + 1 == order.size() || scores[order[k]] != scores[order[k + 1]]) {
      c.fps.push_back(fp);
      c.tps.push_back(tp);
      c.thresholds.push_back(scores[order[k]]);
    }
  }
  if (drop_intermediate && c.fps.size() > 2) {
    std::size_t kept = 1;
    const std::size_t n = c.fps.size();
    for (std::size_t i = 1; i < n; ++i) {
      const bool last = i + 1 == n;
      // Compare with the original neighbours (sklearn's np.diff(x, 2) is on the undropped arrays).
      const bool bend = last || c.fps[i + 1] - 2 * c.fps[i] + c.fps[i - 1] != 0 ||
                        c.tps[i + 1] - 2 * c.tps[i] + c.tps[i - 1] != 0;
      if (!bend) continue;
      // Writing at kept <= i never disturbs i + 1, which the next test still reads.
      c.fps[kept] = c.fps[i], c.tps[kept] = c.tps[i], c.thresholds[kept] = c.thresholds[i];
      ++kept;
    }
    c.fps.resize(kept), c.tps.resize(kept), c.thresholds.resize(kept);
  }
  c.fps.insert(c.fps.begin(), 0);
  c.tps.insert(c.tps.begin(), 0);
  c.thresholds.insert(c.thresholds.begin(), c.thresholds.front() + 1);
  const double nf = static_cast<double>(c.fps.back()), nt = static_cast<double>(c.tps.back());
  for (std::size_t i = 0; i < c.fps.size(); ++i) {
    c.fpr.push_back(nf > 0 ? c.fps[i] / nf : kNaN);
    c.tpr.push_back(nt > 0 ? c.tps[i] / nt : kNaN);
  }
  return c;
}

double tpr_at_fpr(const RocCurve& roc, double fpr) {
  double tpr = 0;
  for (std::size_t i = 0; i < roc.fpr.size(); ++i)
    if (roc.fpr[i] <= fpr) tpr = roc.tpr[i];
  return tpr;
}

double roc_auc(const RocCurve& roc) {
  double area = 0;
  for (std::size_t i = 1; i < roc.fpr.size(); ++i)
    area += (roc.fpr[i] - roc.fpr[i - 1]) * (roc.tpr[i] + roc.tpr[i - 1]) / 2.0;
  return area;
}

ErrorRates error_rates(const std::vector<double>& scores, const std::vector<int>& labels, double threshold) {
  check_inputs(scores, labels);
  long reals = 0, fakes = 0, rejected = 0, accepted = 0;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    const bool accept = scores[i] >= threshold;
    if (labels[i] == 1) ++reals, rejected += !accept;
    else ++fakes, accepted += accept;
  }
  ErrorRates r;
  r.apcer = fakes > 0 ? static_cast<double>(accepted) / fakes : kNaN;
  r.bpcer = reals > 0 ? static_cast<double>(rejected) / reals : kNaN;
  r.acer = (r.apcer + r.bpcer) / 2;
  return r;
}

Eer equal_error_rate(const RocCurve& roc) {
  NN_CHECK(roc.fpr.size() >= 2 && !std::isnan(roc.fpr.back()) && !std::isnan(roc.tpr.back()),
           "metrics: the EER needs both real and fake samples");
  double prev = roc.fpr[0] - (1 - roc.tpr[0]);
  for (std::size_t i = 1; i < roc.fpr.size(); ++i) {
    const double d = roc.fpr[i] - (1 - roc.tpr[i]);
    if (d < 0) {
      prev = d;
      continue;
    }
    const double t = d == 0 ? 1.0 : -prev / (d - prev);
    return {roc.fpr[i - 1] + t * (roc.fpr[i] - roc.fpr[i - 1]), roc.thresholds[i]};
  }
  return {roc.fpr.back(), roc.thresholds.back()};  // unreachable: the last point has FPR 1, FNR 0
}

Metrics compute_metrics(const std::vector<double>& scores, const std::vector<int>& labels,
                        const std::vector<std::string>& species, double threshold) {
  check_inputs(scores, labels);
  NN_CHECK(species.empty() || species.size() == scores.size(), "metrics: ", species.size(), " species for ",
           scores.size(), " samples");
  Metrics m;
  m.threshold = threshold;
  for (int l : labels) (l == 1 ? m.reals : m.fakes) += 1;
  NN_CHECK(m.reals > 0 && m.fakes > 0, "metrics: need both real and fake samples, got ", m.reals, " real and ",
           m.fakes, " fake");
  m.at_threshold = error_rates(scores, labels, threshold);
  long correct = 0;
  for (std::size_t i = 0; i < scores.size(); ++i) correct += (scores[i] >= threshold) == (labels[i] == 1);
  m.accuracy = static_cast<double>(correct) / static_cast<double>(scores.size());
  const RocCurve roc = roc_curve(scores, labels, true);
  m.tpr_1e2 = tpr_at_fpr(roc, 1e-2);
  m.tpr_1e3 = tpr_at_fpr(roc, 1e-3);
  m.tpr_1e4 = tpr_at_fpr(roc, 1e-4);
  m.auc = roc_auc(roc);
  m.eer = equal_error_rate(roc_curve(scores, labels, false));
  m.at_eer = error_rates(scores, labels, m.eer.threshold);
  if (!species.empty()) {
    std::map<std::string, SpeciesRate> by_name;
    for (std::size_t i = 0; i < scores.size(); ++i) {
      if (labels[i] == 1) continue;
      SpeciesRate& s = by_name[species[i].empty() ? "unknown" : species[i]];
      ++s.fakes;
      s.accepted += scores[i] >= threshold;
    }
    for (auto& [name, s] : by_name) {
      s.species = name;
      s.apcer = static_cast<double>(s.accepted) / s.fakes;
      if (m.species.empty() || s.apcer > m.worst_apcer) m.worst_species = name, m.worst_apcer = s.apcer;
      m.species.push_back(s);
    }
  }
  return m;
}

std::vector<std::pair<std::string, double>> scalar_metrics(const Metrics& m) {
  std::vector<std::pair<std::string, double>> v = {
      {"acer", m.at_threshold.acer}, {"apcer", m.at_threshold.apcer}, {"bpcer", m.at_threshold.bpcer},
      {"accuracy", m.accuracy},      {"tpr@1e-2", m.tpr_1e2},         {"tpr@1e-3", m.tpr_1e3},
      {"tpr@1e-4", m.tpr_1e4},       {"auc", m.auc},                  {"eer", m.eer.eer},
      {"acer@eer", m.at_eer.acer}};
  if (!m.species.empty()) v.emplace_back("worst_apcer", m.worst_apcer);
  return v;
}

double percentile(std::vector<double> values, double q) {
  NN_CHECK(!values.empty(), "percentile: no values");
  NN_CHECK(q >= 0 && q <= 100, "percentile: q = ", q, " is outside [0, 100]");
  std::sort(values.begin(), values.end());
  const double pos = q / 100 * static_cast<double>(values.size() - 1);
  const std::size_t lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, values.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return values[lo] + (values[hi] - values[lo]) * frac;
}

std::vector<Interval> bootstrap_intervals(const std::vector<double>& scores, const std::vector<int>& labels,
                                          const std::vector<std::string>& species, double threshold,
                                          const BootstrapOptions& o) {
  NN_CHECK(o.resamples >= 1, "bootstrap: need at least one resample, got ", o.resamples);
  NN_CHECK(o.level > 0 && o.level < 1, "bootstrap: level must be in (0, 1), got ", o.level);
  const Metrics full = compute_metrics(scores, labels, species, threshold);
  const std::size_t num_metrics = scalar_metrics(full).size();
  std::vector<std::size_t> reals, fakes;
  for (std::size_t i = 0; i < labels.size(); ++i) (labels[i] == 1 ? reals : fakes).push_back(i);

  std::vector<double> values(static_cast<std::size_t>(o.resamples) * num_metrics);
  const long n = o.resamples;
#pragma omp parallel for schedule(dynamic, 8)
  for (long b = 0; b < n; ++b) {
    std::uint64_t state = o.seed * 0xD1B54A32D192ED03ull + static_cast<std::uint64_t>(b);
    splitmix64(state);  // decorrelates neighbouring (seed, b) keys
    std::vector<double> s;
    std::vector<int> l;
    std::vector<std::string> sp;
    s.reserve(labels.size()), l.reserve(labels.size());
    for (const auto* group : {&reals, &fakes})
      for (std::size_t k = 0; k < group->size(); ++k) {
        const std::size_t i = (*group)[draw(state, group->size())];
        s.push_back(scores[i]);
        l.push_back(labels[i]);
        if (!species.empty()) sp.push_back(species[i]);
      }
    const auto v = scalar_metrics(compute_metrics(s, l, sp, threshold));
    // A resample may miss a species: its worst APCER is then over the species it has, as for any sample.
    for (std::size_t k = 0; k < num_metrics; ++k)
      values[static_cast<std::size_t>(b) * num_metrics + k] = k < v.size() ? v[k].second : kNaN;
  }
  std::vector<Interval> out(num_metrics);
  const double tail = (1 - o.level) / 2 * 100;
  for (std::size_t k = 0; k < num_metrics; ++k) {
    std::vector<double> column;
    for (long b = 0; b < n; ++b) column.push_back(values[static_cast<std::size_t>(b) * num_metrics + k]);
    out[k] = {percentile(column, tail), percentile(std::move(column), 100 - tail)};
  }
  return out;
}

}  // namespace infer::eval
