// The challenge metrics (infer/eval/metrics.h) against sklearn and the reference's get_tpr
// (tests/reference/make_metrics.py): ROC points, AUC, TPR@FPR, APCER/BPCER/ACER, EER; per-species APCER,
// single-class edge cases, and bootstrap intervals independent of the thread count.
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <string>
#include <vector>

#include "infer/eval/metrics.h"
#include "libnn/core/check.h"
#include "tests/support/reference.h"

using namespace infer::eval;

namespace {

std::vector<double> doubles(const nn::Tensor& t) {
  const nn::Tensor c = t.contiguous();
  return std::vector<double>(c.data<double>(), c.data<double>() + c.numel());
}

void check_same(const std::vector<double>& actual, const nn::Tensor& expected_t, const std::string& what) {
  const auto expected = doubles(expected_t);
  INFO(what);
  REQUIRE(actual.size() == expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    if (std::isnan(expected[i])) {
      CHECK(std::isnan(actual[i]));
      continue;
    }
    CHECK(actual[i] == doctest::Approx(expected[i]).epsilon(1e-12));
  }
}

}  // namespace

TEST_CASE("metrics/matches sklearn and the reference") {
  for (const auto& name : nn::testing::reference_cases("metrics")) {
    INFO(name);
    const auto params = nn::testing::reference_params("metrics", name);
    const auto scores = doubles(nn::testing::reference_tensor("metrics", name, "scores"));
    const nn::Tensor lt = nn::testing::reference_tensor("metrics", name, "labels").contiguous();
    const std::vector<int> labels(lt.data<std::int64_t>(), lt.data<std::int64_t>() + lt.numel());
    for (const bool drop : {true, false}) {
      const std::string key = drop ? "roc" : "roc_full";
      const RocCurve roc = roc_curve(scores, labels, drop);
      check_same(roc.fpr, nn::testing::reference_tensor("metrics", name, key + ".fpr"), name + " " + key + " fpr");
      check_same(roc.tpr, nn::testing::reference_tensor("metrics", name, key + ".tpr"), name + " " + key + " tpr");
      check_same(roc.thresholds, nn::testing::reference_tensor("metrics", name, key + ".thr"), name + " " + key + " thr");
    }
    if (!params.contains("auc")) {
      CHECK_THROWS_WITH_AS(compute_metrics(scores, labels), doctest::Contains("metrics: need both real and fake samples"),
                           nn::Error);
      continue;
    }
    const Metrics m = compute_metrics(scores, labels);
    CHECK(m.auc == doctest::Approx(params["auc"].get<double>()).epsilon(1e-12));
    CHECK(m.tpr_1e2 == params["tpr@1e-2"].get<double>());
    CHECK(m.tpr_1e3 == params["tpr@1e-3"].get<double>());
    CHECK(m.tpr_1e4 == params["tpr@1e-4"].get<double>());
    CHECK(m.at_threshold.apcer == params["apcer"].get<double>());
    CHECK(m.at_threshold.bpcer == params["bpcer"].get<double>());
    CHECK(m.at_threshold.acer == params["acer"].get<double>());
    CHECK(m.accuracy == params["accuracy"].get<double>());
    CHECK(m.eer.eer == doctest::Approx(params["eer"].get<double>()).epsilon(1e-12));
    CHECK(m.eer.threshold == params["eer_threshold"].get<double>());
    CHECK(m.at_eer.acer == params["acer@eer"].get<double>());
  }
}

TEST_CASE("metrics/hand-computed case and species") {
  // 4 reals, 6 fakes; two attack types.
  const std::vector<double> s = {0.9, 0.8, 0.6, 0.4, 0.7, 0.5, 0.3, 0.2, 0.1, 0.55};
  const std::vector<int> l = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
  const std::vector<std::string> sp = {"", "", "", "", "04_en_b", "04_en_b", "04_en_b", "05_enm_s", "05_enm_s", ""};
  const Metrics m = compute_metrics(s, l, sp, 0.5);
  CHECK(m.reals == 4);
  CHECK(m.fakes == 6);
  CHECK(m.at_threshold.apcer == 3.0 / 6);  // 0.7, 0.5, 0.55
  CHECK(m.at_threshold.bpcer == 1.0 / 4);  // 0.4
  CHECK(m.accuracy == 6.0 / 10);
  REQUIRE(m.species.size() == 3);
  CHECK(m.species[0].species == "04_en_b");
  CHECK(m.species[0].apcer == 2.0 / 3);
  CHECK(m.species[1].species == "05_enm_s");
  CHECK(m.species[1].apcer == 0.0);
  CHECK(m.species[2].species == "unknown");
  CHECK(m.species[2].apcer == 1.0);
  CHECK(m.worst_species == "unknown");
  CHECK(m.worst_apcer == 1.0);
  // Full curve: points after 0.9 0.8 | 0.7 | 0.6 | 0.55 | 0.5 | 0.4 ...; FPR - FNR first >= 0 at 0.55:
  // (fpr, fnr) = (1/6, 1/4) at 0.6, (2/6, 1/4) at 0.55; FPR = FNR where 1/6 + t/6 = 1/4, t = 1/2.
  CHECK(m.eer.threshold == 0.55);
  CHECK(m.eer.eer == doctest::Approx(0.25).epsilon(1e-15));
  CHECK(m.tpr_1e2 == 0.5);
  CHECK(scalar_metrics(m).back().first == "worst_apcer");
  CHECK_THROWS_WITH_AS(compute_metrics(s, {1, 0}), "metrics: 10 scores but 2 labels", nn::Error);
  CHECK_THROWS_WITH_AS(compute_metrics({0.5, 0.5}, {1, 2}), "metrics: label 2 of sample 1 is neither 0 (fake) nor 1 (real)",
                       nn::Error);
}

TEST_CASE("metrics/percentile as numpy") {
  CHECK(percentile({3, 1, 2, 4}, 50) == 2.5);
  CHECK(percentile({1, 2, 3, 4, 5}, 2.5) == doctest::Approx(1.1));
  CHECK(percentile({7}, 97.5) == 7);
}

TEST_CASE("metrics/bootstrap is seeded and independent of threads") {
  const auto scores = doubles(nn::testing::reference_tensor("metrics", "random", "scores"));
  const nn::Tensor lt = nn::testing::reference_tensor("metrics", "random", "labels").contiguous();
  const std::vector<int> labels(lt.data<std::int64_t>(), lt.data<std::int64_t>() + lt.numel());
  BootstrapOptions o;
  o.resamples = 200;
  o.seed = 7;
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto one = bootstrap_intervals(scores, labels, {}, 0.5, o);
  omp_set_num_threads(std::max(2, threads));
  const auto many = bootstrap_intervals(scores, labels, {}, 0.5, o);
  omp_set_num_threads(threads);
  const auto point = scalar_metrics(compute_metrics(scores, labels));
  REQUIRE(one.size() == point.size());
  for (std::size_t k = 0; k < one.size(); ++k) {
    INFO(point[k].first);
    CHECK(one[k].low == many[k].low);
    CHECK(one[k].high == many[k].high);
    CHECK(one[k].low <= point[k].second);
    CHECK(point[k].second <= one[k].high + 1e-12);
  }
  o.seed = 8;
  const auto other = bootstrap_intervals(scores, labels, {}, 0.5, o);
  CHECK((other[0].low != one[0].low || other[0].high != one[0].high));
}
