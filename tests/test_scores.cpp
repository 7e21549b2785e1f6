// Score tables (infer/scores.h): both formats, errors with file:line, round trips, the submission format
// (numpy.round + Python repr), and alignment with list files by path and by row order.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "infer/data/lists.h"
#include "infer/scores.h"
#include "libnn/core/check.h"

namespace fs = std::filesystem;
using namespace infer;

namespace {

std::string error_of(const std::string& text) {
  try {
    parse_scores(text, "s.csv");
  } catch (const nn::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("scores/original format") {
  const auto t = parse_scores("crop0,crop0_hflip\n0.25,0.75\n1e-05,3.0000000000000004e-05\r\n\n0.9999999999999999,1\n", "s.csv");
  CHECK_FALSE(t.has_paths);
  CHECK(t.views == std::vector<std::string>{"crop0", "crop0_hflip"});
  REQUIRE(t.rows.size() == 3);
  CHECK(t.rows[0].score == 0.5);
  CHECK(t.rows[1].view_scores[1] == 3.0000000000000004e-05);
  CHECK(t.rows[1].score == (1e-05 + 3.0000000000000004e-05) / 2);
  CHECK(t.rows[2].line == 5);
  // Any set of view columns, a single one too.
  CHECK(parse_scores("rotate10\n0.5\n", "s.csv").rows[0].score == 0.5);
}

TEST_CASE("scores/our format round trip") {
  ScoreTable t;
  t.has_paths = true;
  t.views = {"crop0", "crop0_hflip"};
  t.rows.push_back({"Val/0000/000001-color.jpg", "Val/0000/000001-depth.jpg", "Val/0000/000001-ir.jpg", 0, {0.1, 0.2}, 0});
  t.rows.push_back({"a,b/c.jpg", "say \"x\".jpg", "ir.jpg", 0, {1.0 / 3, 2.0 / 3}, 0});
  for (auto& r : t.rows) r.score = (r.view_scores[0] + r.view_scores[1]) / 2;
  const std::string text = format_scores(t);
  CHECK(text.starts_with("rgb,depth,ir,score,crop0,crop0_hflip\n"));
  CHECK(text.find("\"a,b/c.jpg\",\"say \"\"x\"\".jpg\"") != std::string::npos);
  const auto back = parse_scores(text, "s.csv");
  REQUIRE(back.rows.size() == 2);
  CHECK(back.has_paths);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(back.rows[i].rgb == t.rows[i].rgb);
    CHECK(back.rows[i].depth == t.rows[i].depth);
    CHECK(back.rows[i].score == t.rows[i].score);  // shortest round-trip digits: exact
    CHECK(back.rows[i].view_scores == t.rows[i].view_scores);
  }
  // Columns in any order; no view columns.
  const auto bare = parse_scores("score,ir,depth,rgb\n0.25,i,d,r\n", "s.csv");
  CHECK(bare.rows[0].score == 0.25);
  CHECK(bare.rows[0].rgb == "r");
  CHECK(bare.views.empty());

  const fs::path p = fs::temp_directory_path() / ("hardtune_test_scores_" + std::to_string(::getpid()) + ".csv");
  write_scores(p.string(), t);
  CHECK(read_scores(p.string()).rows[1].view_scores == t.rows[1].view_scores);
  t.rows[0].score = 0.9;
  CHECK_THROWS_WITH_AS(write_scores(p.string(), t), doctest::Contains("score 0.9 is not the mean of its views (0.15)"),
                       nn::Error);
  CHECK(read_scores(p.string()).rows[0].score == 0.15000000000000002);  // the old file is intact
  fs::remove(p);
}

TEST_CASE("scores/errors name file and line") {
  CHECK(error_of("crop0,crop0_hflip\n0.5,0.5\n0.5,abc\n") == "s.csv:3: bad number 'abc' in column 'crop0_hflip'");
  CHECK(error_of("crop0\nnan\n") == "s.csv:2: non-finite score 'nan' in column 'crop0'");
  CHECK(error_of("crop0\ninf\n") == "s.csv:2: non-finite score 'inf' in column 'crop0'");
  CHECK(error_of("crop0,crop0_hflip\n0.5\n") == "s.csv:2: expected 2 columns, got 1");
  CHECK(error_of("crop0\n0.5,\n") == "s.csv:2: expected 1 columns, got 2");
  CHECK(error_of("crop0\n\n") == "");
  CHECK(error_of("") == "s.csv: empty score file: no header (expected rgb,depth,ir,score,<views> or crop0,...)");
  CHECK(error_of("rgb,depth,ir,crop0\nr,d,i,0.5\n").starts_with("s.csv:1: header 'rgb,depth,ir,crop0' is neither ours"));
  CHECK(error_of("rgb,depth,ir,label\n") == "s.csv:1: a score file has no label column (is this a list?)");
  CHECK(error_of("crop0,crop0\n") == "s.csv:1: column 'crop0' appears twice in header");
  CHECK(error_of("rgb,depth,ir,score,v\nr,d,i,0.5,0.25\n") == "s.csv:2: score 0.5 is not the mean of the views (0.25)");
  CHECK(error_of("rgb,depth,ir,score\n,d,i,0.5\n") == "s.csv:2: empty rgb path");
  CHECK(error_of("crop0\n\"0.5\n") == "s.csv:2: unterminated quote in field 1 (column 1)");
  CHECK_THROWS_WITH_AS(read_scores("/nonexistent/s.csv"), doctest::Contains("scores: cannot open /nonexistent/s.csv"),
                       nn::Error);
}

TEST_CASE("scores/submission format") {
  CHECK(round6(0.9321075) == std::nearbyint(0.9321075 * 1e6) / 1e6);
  CHECK(round6(0.5) == 0.5);
  // Python: repr(round(x, 6)) for the values pandas wrote.
  CHECK(python_repr(0.5) == "0.5");
  CHECK(python_repr(1.0) == "1.0");
  CHECK(python_repr(0.0) == "0.0");
  CHECK(python_repr(5e-06) == "5e-06");
  CHECK(python_repr(1.5e-05) == "1.5e-05");
  CHECK(python_repr(0.0001) == "0.0001");
  CHECK(python_repr(0.000123) == "0.000123");
  CHECK(python_repr(0.932107) == "0.932107");
  CHECK(python_repr(123.0) == "123.0");
  CHECK(python_repr(1e16) == "1e+16");
  CHECK(python_repr(1234567890123456.0) == "1234567890123456.0");
  CHECK(python_repr(-0.25) == "-0.25");
  CHECK(python_repr(0.1 + 0.2) == "0.30000000000000004");

  ScoreTable t;
  t.has_paths = true;
  t.rows.push_back({"Test/0000/000000-color.jpg", "Test/0000/000000-depth.jpg", "Test/0000/000000-ir.jpg", 0.12345678, {}, 0});
  t.rows.push_back({"r", "d", "i", 0.0000004, {}, 0});
  t.rows.push_back({"r2", "d2", "i2", 0.9999999, {}, 0});
  CHECK(format_submission(t) ==
        "Test/0000/000000-color.jpg Test/0000/000000-depth.jpg Test/0000/000000-ir.jpg 0.123457\nr d i 0.0\nr2 d2 i2 1.0\n");
  t.rows[1].rgb = "a b";
  CHECK_THROWS_WITH_AS(format_submission(t), "submission: path 'a b' contains whitespace", nn::Error);
  t.has_paths = false;
  CHECK_THROWS_WITH_AS(format_submission(t), "submission: the scores have no paths; give the list they follow", nn::Error);
}

TEST_CASE("scores/align with a list") {
  const auto list = parse_list("rgb,depth,ir,label\nvalid/Val/0000/1-c.jpg,valid/Val/0000/1-d.jpg,valid/Val/0000/1-i.jpg,1\n"
                               "valid/Val/0000/2-c.jpg,valid/Val/0000/2-d.jpg,valid/Val/0000/2-i.jpg,0\n",
                               "val.txt");
  // By path, in any order.
  const auto ours = parse_scores("rgb,depth,ir,score\nvalid/Val/0000/2-c.jpg,valid/Val/0000/2-d.jpg,valid/Val/0000/2-i.jpg,0.1\n"
                                 "valid/Val/0000/1-c.jpg,valid/Val/0000/1-d.jpg,valid/Val/0000/1-i.jpg,0.9\n",
                                 "ours.csv");
  CHECK(align_scores(ours, list) == std::vector<std::size_t>{1, 0});
  // The same files under another root: only with root_independent.
  const auto phase1 = parse_scores("rgb,depth,ir,score\nVal/0000/1-c.jpg,Val/0000/1-d.jpg,Val/0000/1-i.jpg,0.9\n"
                                   "Val/0000/2-c.jpg,Val/0000/2-d.jpg,Val/0000/2-i.jpg,0.1\n",
                                   "p1.csv");
  CHECK(align_scores(phase1, list, true) == std::vector<std::size_t>{0, 1});
  CHECK_THROWS_WITH_AS(align_scores(phase1, list), doctest::Contains("p1.csv: no score for valid/Val/0000/1-c.jpg (val.txt:2)"),
                       nn::Error);
  // Extra and duplicate rows.
  const auto extra = parse_scores("rgb,depth,ir,score\nvalid/Val/0000/2-c.jpg,valid/Val/0000/2-d.jpg,valid/Val/0000/2-i.jpg,0.1\n"
                                  "valid/Val/0000/1-c.jpg,valid/Val/0000/1-d.jpg,valid/Val/0000/1-i.jpg,0.9\nx,y,z,0.5\n",
                                  "extra.csv");
  CHECK_THROWS_WITH_AS(align_scores(extra, list), "extra.csv:4: sample x is not in list val.txt", nn::Error);
  const auto twice = parse_scores("rgb,depth,ir,score\nx,y,z,0.5\nx,y,z,0.5\n", "twice.csv");
  CHECK_THROWS_WITH_AS(align_scores(twice, list), "twice.csv:3: sample x appears twice", nn::Error);
  // Without paths: by row order, counts must agree.
  CHECK(align_scores(parse_scores("crop0\n0.2\n0.3\n", "o.csv"), list) == std::vector<std::size_t>{0, 1});
  CHECK_THROWS_WITH_AS(align_scores(parse_scores("crop0\n0.2\n", "o.csv"), list),
                       doctest::Contains("o.csv: has 1 rows but list val.txt has 2"), nn::Error);
}
