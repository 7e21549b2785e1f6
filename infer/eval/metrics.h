// The challenge's metrics on P(real) scores (REFERENCE.md §6), with the reference's exact semantics.
//
// Labels: 1 = real (bona fide, the positive class), 0 = fake (attack). A sample is accepted as real iff
// score >= threshold.
// - roc_curve: sklearn.metrics.roc_curve (1.2): samples sorted by score, one point per distinct score
//   (accept score >= it), a first point (0, 0) at threshold max + 1; with drop_intermediate, points whose
//   neighbours make them collinear in both counts are dropped, exactly as sklearn's default. A class with
//   no samples gives NaN rates for it, as sklearn (which also warns).
// - tpr_at_fpr(f): the reference's get_tpr: the TPR of the last point with FPR <= f of sklearn's default
//   (drop_intermediate) curve, 0 if none. This is the largest TPR at FPR <= f except where a run of equal
//   (fake, real) steps was dropped as collinear (ties of reals and fakes); we keep the reference's number.
// - APCER = fakes accepted / fakes, BPCER = reals rejected / reals, ACER = their mean (ISO/IEC 30107-3).
//   Per attack type (PAI species) APCER, and the worst species (the ISO APCER of the system).
// - EER: on the full curve (no points dropped), FPR and FNR = 1 - TPR cross between two consecutive points
//   i-1, i (FPR - FNR goes from < 0 to >= 0); the EER is the linear interpolation of FPR along that
//   segment to where FPR = FNR. Its threshold is point i's (the highest score threshold with FPR >= FNR),
//   and "ACER at EER" is the ACER at that threshold.
// - AUC: trapezoids on the curve (sklearn's roc_auc_score; ties make diagonal segments, i.e. count 1/2).
// - accuracy: the fraction of samples with (score >= threshold) == label (the reference's get_accuracy).
// compute_metrics needs both classes: with no reals or no fakes it throws (the rates are undefined).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace infer::eval {

struct RocCurve {
  std::vector<double> fpr, tpr, thresholds;  // thresholds decreasing; thresholds[0] = max score + 1
  std::vector<long> fps, tps;                // counts behind fpr, tpr
};
RocCurve roc_curve(const std::vector<double>& scores, const std::vector<int>& labels, bool drop_intermediate = true);

double tpr_at_fpr(const RocCurve& roc, double fpr);
double roc_auc(const RocCurve& roc);

struct ErrorRates {
  double apcer = 0, bpcer = 0, acer = 0;
};
ErrorRates error_rates(const std::vector<double>& scores, const std::vector<int>& labels, double threshold);

struct Eer {
  double eer = 0, threshold = 0;
};
Eer equal_error_rate(const RocCurve& full_roc);  // full_roc from roc_curve(..., false)

struct SpeciesRate {
  std::string species;  // attack code ("04_en_b"), "unknown" when the path does not tell
  long fakes = 0, accepted = 0;
  double apcer = 0;
};

struct Metrics {
  long reals = 0, fakes = 0;
  double threshold = 0.5;
  ErrorRates at_threshold;
  double accuracy = 0;
  double tpr_1e2 = 0, tpr_1e3 = 0, tpr_1e4 = 0;
  double auc = 0;
  Eer eer;
  ErrorRates at_eer;
  std::vector<SpeciesRate> species;  // sorted by name; empty when no species were given
  std::string worst_species;
  double worst_apcer = 0;
};

// species: empty, or one name per sample (only the fakes' names are used).
Metrics compute_metrics(const std::vector<double>& scores, const std::vector<int>& labels,
                        const std::vector<std::string>& species = {}, double threshold = 0.5);

// The scalar metrics by name, in a fixed order (the bootstrap's and the tables' columns):
// acer apcer bpcer accuracy tpr@1e-2 tpr@1e-3 tpr@1e-4 auc eer acer@eer [worst_apcer]
std::vector<std::pair<std::string, double>> scalar_metrics(const Metrics& m);

struct Interval {
  double low = 0, high = 0;
};
struct BootstrapOptions {
  int resamples = 1000;
  double level = 0.95;  // central percentile interval
  std::uint64_t seed = 0;
};
// Percentile intervals of scalar_metrics, from resamples drawn with replacement within each class (the
// class counts stay fixed; species follow their samples). Resample b draws from its own stream keyed by
// (seed, b), so the result does not depend on the number of threads. Percentiles interpolate linearly
// (numpy's default).
std::vector<Interval> bootstrap_intervals(const std::vector<double>& scores, const std::vector<int>& labels,
                                          const std::vector<std::string>& species, double threshold,
                                          const BootstrapOptions& options);

// numpy.percentile(values, q) with linear interpolation, q in [0, 100]; values need not be sorted.
double percentile(std::vector<double> values, double q);

}  // namespace infer::eval
