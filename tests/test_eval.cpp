// `hardtune eval`'s driver (infer/eval/eval.h) and charts (infer/eval/plot.h): attack types from paths and
// from a meta file, the files it writes (PNG signature, sizes), a list without labels; the probit quantiles.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "infer/eval/eval.h"
#include "infer/eval/plot.h"
#include "libnn/core/check.h"
#include "support/temp_dir.h"

namespace fs = std::filesystem;
using namespace infer;

using test_support::TempDir;

TEST_CASE("eval/run_eval writes its files") {
  const TempDir dir("eval");
  // Training-style paths carry the attack type.
  std::string list = "rgb,depth,ir,label\n";
  std::string scores = "crop0,crop0_hflip\n";
  const char* sessions[] = {"real", "04_en_b", "05_enm_s", "06_enm_b"};
  for (int i = 0; i < 40; ++i) {
    const int k = i % 4;
    const std::string base = nn::str("Training/", k ? "fake_part" : "real_part", "/CLKJ_AS", i, "/", sessions[k], ".rssdk/");
    list += nn::str(base, "color/1.jpg,", base, "depth/1.jpg,", base, "ir/1.jpg,", k ? 0 : 1, "\n");
    const double s = k ? 0.05 * k + 0.01 * (i % 7) : 0.7 + 0.01 * (i % 5);
    scores += nn::str(s, ',', s, "\n");
  }
  eval::EvalOptions o;
  o.list = dir.write("list.txt", list);
  o.scores = {dir.write("s.csv", scores)};
  o.bootstrap = 50;
  o.out = (dir.path() / "report").string();
  std::ostringstream out;
  const auto results = eval::run_eval(o, out);
  REQUIRE(results.size() == 1);
  CHECK(results[0].metrics.species.size() == 3);
  CHECK(results[0].metrics.at_threshold.acer == 0.0);
  CHECK(out.str().find("04_en_b") != std::string::npos);
  for (const char* f : {"metrics.json", "metrics.csv", "roc.svg", "det.svg", "roc.png", "det.png", "report.html"})
    CHECK_MESSAGE(fs::file_size(dir.path() / "report" / f) > 100, f);
  std::ifstream png(dir.path() / "report" / "roc.png", std::ios::binary);
  std::string magic(8, '\0');
  png.read(magic.data(), 8);
  CHECK(magic == "\x89PNG\r\n\x1a\n");
  // Val-style paths hide the type: a meta file (synth's meta.csv layout) names it.
  const std::string val = dir.write("val.txt", "rgb,depth,ir,label\nVal/0000/000000-color.jpg,d0,i0,1\n"
                                               "Val/0000/000001-color.jpg,d1,i1,0\nVal/0000/000002-color.jpg,d2,i2,0\n");
  const std::string meta = dir.write("meta.csv", "rgb,attacker,victim,type,frame\nVal/0000/000000-color.jpg,S1,S1,real,0\n"
                                                 "Val/0000/000001-color.jpg,S2,S3,01_e_s,0\nVal/0000/000002-color.jpg,S2,S4,02_e_b,0\n");
  eval::EvalOptions v;
  v.list = val;
  v.meta = meta;
  v.bootstrap = 0;
  v.scores = {dir.write("v.csv", "crop0\n0.9\n0.6\n0.1\n")};
  const auto vr = eval::run_eval(v, out);
  REQUIRE(vr[0].metrics.species.size() == 2);
  CHECK(vr[0].metrics.worst_species == "01_e_s");
  CHECK(vr[0].metrics.worst_apcer == 1.0);
  v.meta = dir.write("badmeta.csv", "rgb,type\nVal/0000/000001-color.jpg,07_x\n");
  CHECK_THROWS_WITH_AS(eval::run_eval(v, out), doctest::Contains("badmeta.csv:2: unknown attack type '07_x'"), nn::Error);

  o.list = dir.write("nolabel.txt", "rgb,depth,ir\na,b,c\n");
  CHECK_THROWS_WITH_AS(eval::run_eval(o, out), doctest::Contains("the list has no label column"), nn::Error);
}

TEST_CASE("eval/probit") {
  CHECK(eval::probit(0.5) == doctest::Approx(0.0));
  CHECK(eval::probit(0.975) == doctest::Approx(1.959963984540054).epsilon(1e-14));
  CHECK(eval::probit(1e-4) == doctest::Approx(-3.719016485455709).epsilon(1e-13));
  CHECK(eval::probit(0.99) == doctest::Approx(2.326347874040841).epsilon(1e-14));
}
