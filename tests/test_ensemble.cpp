// Ensembles (infer/ensemble.h) on small handcrafted score files: group specs and nested means by hand, the
// reference's calibration and thr = auto, greedy selection on a constructed case, misaligned members.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "infer/ensemble.h"
#include "infer/scores.h"
#include "libnn/core/check.h"
#include "support/temp_dir.h"

namespace fs = std::filesystem;
using namespace infer;

namespace {

using test_support::TempDir;

std::string list_text(const std::vector<int>& labels) {
  std::string s = "rgb,depth,ir,label\n";
  for (std::size_t i = 0; i < labels.size(); ++i)
    s += nn::str("Val/", i, "-c.jpg,Val/", i, "-d.jpg,Val/", i, "-i.jpg,", labels[i], "\n");
  return s;
}

std::string original_text(const std::vector<double>& scores) {
  std::string s = "crop0,crop0_hflip\n";
  for (double x : scores) s += nn::str(x, ',', x, "\n");
  return s;
}

}  // namespace

TEST_CASE("ensemble/group specs and nested means") {
  const std::vector<std::string> names = {"a.csv", "b.csv", "c.csv", "d.csv"};
  const std::vector<std::vector<double>> m = {{0.0, 1.0}, {0.2, 1.0}, {0.4, 0.0}, {1.0, 0.0}};
  // (a, b) and (c, d): ((0 + .2) / 2 + (.4 + 1) / 2) / 2 = 0.4; flat: 1.6 / 4 = 0.4 too (equal sizes).
  CHECK(combine_scores(m, parse_groups("1,2;3,4", names))[0] == doctest::Approx(0.4));
  // (a) and (b, c, d): (0 + 1.6 / 3) / 2 differs from the flat mean.
  const auto g = parse_groups("a.csv; b.csv, 3 ,d.csv", names);
  CHECK(describe_groups(g) == "(1,(2,3,4))");
  CHECK(combine_scores(m, g)[0] == doctest::Approx((0.0 + 1.6 / 3) / 2));
  CHECK(combine_scores(m, g)[1] == doctest::Approx((1.0 + 1.0 / 3) / 2));
  // Nesting: ((a, b), c); (d) = (((0 + .2) / 2 + .4) / 2 + 1) / 2.
  const auto nested = parse_groups("(1,2),3;4", names);
  CHECK(describe_groups(nested) == "(((1,2),3),4)");
  CHECK(combine_scores(m, nested)[0] == doctest::Approx(((0.1 + 0.4) / 2 + 1.0) / 2));
  CHECK(combine_scores(m, flat_group(4))[0] == doctest::Approx(0.4));
  CHECK_THROWS_WITH_AS(parse_groups("1,2;3", names), "--groups: member 4 (d.csv) appears 0 times; every score file must be in exactly one group",
                       nn::Error);
  CHECK_THROWS_WITH_AS(parse_groups("1,2;3,4,1", names), doctest::Contains("member 1 (a.csv) appears 2 times"), nn::Error);
  CHECK_THROWS_WITH_AS(parse_groups("1,2;3,5", names), "--groups: member 5 is out of range (there are 4 score files)", nn::Error);
  CHECK_THROWS_WITH_AS(parse_groups("1,2;3,x", names), "--groups: 'x' is neither a 1-based index nor one of the score files",
                       nn::Error);
  CHECK_THROWS_WITH_AS(parse_groups("(1,2;3,4", names), doctest::Contains("--groups: missing ')'"), nn::Error);
  CHECK_THROWS_WITH_AS(parse_groups("1,,2;3,4", names), doctest::Contains("--groups: empty member"), nn::Error);
}

TEST_CASE("ensemble/calibration") {
  const double thr = 0.932107;
  // The decision at 0.5 after calibration is the decision at thr before it.
  CHECK(calibrate(thr, thr) == thr);
  CHECK(calibrate(0.95, thr) == 0.95);
  CHECK(calibrate(std::nextafter(thr, 0.0), thr) < 0.5);
  CHECK(calibrate(thr / 2, thr) == 0.25);
  CHECK(calibrate(0.0, thr) == 0.0);
  // x * 0.5 / thr at x = thr is exactly 0.5: the map's lower branch ends at 0.5.
  CHECK(thr * 0.5 / thr == 0.5);
  // Below 0.5 the upper branch is stretched onto [0.5, 1] so the map stays monotonic.
  CHECK(calibrate(0.2, 0.2) == 0.5);
  CHECK(calibrate(1.0, 0.2) == 1.0);
  CHECK(calibrate(0.1, 0.2) == 0.25);
  CHECK_THROWS_WITH_AS(calibrate(0.5, 0.0), "calibrate: threshold 0 is outside (0, 1]", nn::Error);
  CHECK(lowest_real_score({0.9, 0.3, 0.7, 0.1}, {1, 0, 1, 0}) == 0.7);
  CHECK_THROWS_WITH_AS(lowest_real_score({0.3}, {0}), "calibrate auto: the validation list has no real sample", nn::Error);
}

TEST_CASE("ensemble/greedy selection") {
  // 4 reals then 4 fakes. Member 1 alone is best (one error); adding member 3 fixes its error; member 2 is
  // a poor model that only adds errors, so selection stops before it.
  const std::vector<int> labels = {1, 1, 1, 1, 0, 0, 0, 0};
  const std::vector<std::vector<double>> m = {
      {0.9, 0.9, 0.9, 0.45, 0.1, 0.1, 0.1, 0.1},  // #1: one real rejected
      {0.1, 0.1, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9},   // #2: bad
      {0.6, 0.6, 0.6, 0.7, 0.4, 0.2, 0.2, 0.55},  // #3: one fake accepted; with #1: no errors
  };
  std::ostringstream trace;
  const auto steps = greedy_select(m, labels, "acer", &trace, {"a", "b", "c"});
  REQUIRE(steps.size() == 2);
  CHECK(steps[0].added == 0);
  CHECK(steps[0].value == 0.125);
  CHECK(steps[1].added == 2);
  CHECK(steps[1].value == 0.0);
  CHECK(trace.str().find("greedy: start with #1 a: acer 0.125") != std::string::npos);
  CHECK(trace.str().find("greedy: stop: the best addition #2 b") != std::string::npos);
  CHECK_THROWS_WITH_AS(ensemble_metric(m[0], labels, "f1"), doctest::Contains("unknown metric 'f1'"), nn::Error);
}

TEST_CASE("ensemble/run_ensemble end to end") {
  const TempDir dir("ensemble");
  const std::vector<int> labels = {1, 0, 1, 0};
  const std::string val_list = dir.write("val.txt", list_text(labels));
  const std::string test_list = dir.write("test.txt", list_text({1, 0, 1, 0}));
  // Two members in the original format, one in ours (paths, shuffled rows).
  const std::string a = dir.write("a.csv", original_text({0.8, 0.2, 0.6, 0.4}));
  const std::string b = dir.write("b.csv", original_text({1.0, 0.0, 0.9, 0.3}));
  const std::string c = dir.write("c.csv", "rgb,depth,ir,score\nVal/1-c.jpg,Val/1-d.jpg,Val/1-i.jpg,0.1\n"
                                           "Val/0-c.jpg,Val/0-d.jpg,Val/0-i.jpg,0.9\nVal/2-c.jpg,Val/2-d.jpg,Val/2-i.jpg,0.75\n"
                                           "Val/3-c.jpg,Val/3-d.jpg,Val/3-i.jpg,0.2\n");
  EnsembleOptions o;
  o.out = (dir.path() / "out.csv").string();
  o.scores = {a, b, c};
  o.list = test_list;
  o.groups = "1;2,3";
  o.calibrate = "auto";
  o.val_list = val_list;
  o.val_scores = {a, b, c};
  o.submission = (dir.path() / "submission.txt").string();
  std::ostringstream log;
  run_ensemble(o, log);
  const ScoreTable out = read_scores(o.out);
  REQUIRE(out.rows.size() == 4);
  CHECK(out.rows[1].rgb == "Val/1-c.jpg");
  // Group means: row 0: (0.8 + (1 + 0.9) / 2) / 2 = 0.875; row 2: (0.6 + (0.9 + 0.75) / 2) / 2 = 0.7125.
  // auto = the lowest real = 0.7125, which stays; row 1: (0.2 + 0.05) / 2 = 0.125 -> 0.125 * 0.5 / 0.7125.
  CHECK(out.rows[0].score == doctest::Approx(0.875));
  CHECK(out.rows[2].score == doctest::Approx(0.7125));
  CHECK(out.rows[1].score == doctest::Approx(0.125 * 0.5 / 0.7125));
  CHECK(log.str().find("calibration threshold (lowest validation real) 0.7125") != std::string::npos);
  std::ifstream sub(o.submission);
  std::string first;
  std::getline(sub, first);
  CHECK(first == "Val/0-c.jpg Val/0-d.jpg Val/0-i.jpg 0.875");
}

TEST_CASE("ensemble/misaligned members") {
  const TempDir dir("ensemble");
  EnsembleOptions o;
  o.out = (dir.path() / "out.csv").string();
  o.scores = {dir.write("a.csv", original_text({0.8, 0.2, 0.6})), dir.write("b.csv", original_text({0.8, 0.2}))};
  std::ostringstream log;
  CHECK_THROWS_WITH_AS(run_ensemble(o, log), doctest::Contains("b.csv has 2 rows but"), nn::Error);
  o.scores = {dir.write("c.csv", "rgb,depth,ir,score\nr1,d1,i1,0.5\nr2,d2,i2,0.5\n"),
              dir.write("d.csv", "rgb,depth,ir,score\nr2,d2,i2,0.5\nr1,d1,i1,0.5\n")};
  CHECK_THROWS_WITH_AS(run_ensemble(o, log), doctest::Contains("d.csv:2: sample r2 is not"), nn::Error);
  o.greedy = true;
  CHECK_THROWS_WITH_AS(run_ensemble(o, log), "ensemble: --greedy needs --val-list and --val-scores", nn::Error);
  o.greedy = false;
  o.val_list = dir.write("val.txt", list_text({1, 0}));
  o.val_scores = {o.scores[0]};
  CHECK_THROWS_WITH_AS(run_ensemble(o, log), doctest::Contains("1 --val-scores for 2 score files"), nn::Error);
  // Without paths anywhere the output has a single view column.
  o.val_scores.clear();
  o.scores = {dir.write("e.csv", original_text({0.8, 0.2})), dir.write("f.csv", original_text({0.4, 0.4}))};
  run_ensemble(o, log);
  const auto out = read_scores(o.out);
  CHECK(out.views == std::vector<std::string>{"ensemble"});
  CHECK(out.rows[0].score == doctest::Approx(0.6));
}
