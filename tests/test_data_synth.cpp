// The synthetic dataset: determinism from the seed, independence of the thread count, the CASIA-SURF
// layout and lists, and image properties (background, holes showing the attacker's face).
#include <doctest/doctest.h>
#include <omp.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "infer/image.h"
#include "support/temp_dir.h"
#include "train/data/synth.h"

namespace fs = std::filesystem;
using namespace hardtune::data;

namespace {

std::string read_file(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Every file under root, relative path → bytes.
std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) files[fs::relative(e.path(), root).string()] = read_file(e.path());
  return files;
}

std::vector<std::vector<std::string>> read_csv(const fs::path& path) {
  std::ifstream f(path);
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(f, line);) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

SynthOptions small_options(const fs::path& out, std::uint64_t seed) {
  SynthOptions o;
  o.out = out.string();
  o.seed = seed;
  o.subjects_train = 3, o.subjects_val = 2, o.subjects_test = 2;
  o.samples_per_subject = 1;
  o.look.size = 48;
  o.quiet = true;
  return o;
}

std::map<std::string, std::string> generate_with_threads(const fs::path& out, std::uint64_t seed, int threads) {
  const int before = omp_get_max_threads();
  omp_set_num_threads(threads);
  generate_synth_dataset(small_options(out, seed));
  omp_set_num_threads(before);
  return snapshot(out);
}

double mean_where(const Triplet& t, Region r, const std::vector<std::uint8_t>& channel, bool nonzero_only) {
  double sum = 0;
  long n = 0;
  for (std::size_t i = 0; i < t.region.size(); ++i)
    if (t.region[i] == r && (!nonzero_only || channel[i] > 0)) sum += channel[i], ++n;
  return n ? sum / n : -1;
}

}  // namespace

TEST_CASE("data_synth/render_deterministic") {
  const SynthLook look{64, 0.5};
  const SampleSpec spec{11, 2, 5, AttackType::enm_b, 3};
  const Triplet a = render_sample(spec, look), b = render_sample(spec, look);
  CHECK(a.rgb == b.rgb);
  CHECK(a.depth == b.depth);
  CHECK(a.ir == b.ir);
  SampleSpec other = spec;
  other.seed = 12;
  CHECK(render_sample(other, look).rgb != a.rgb);
  other = spec;
  other.frame = 4;
  CHECK(render_sample(other, look).depth != a.depth);
}

TEST_CASE("data_synth/same_bytes_for_any_thread_count_and_seed_matters") {
  const test_support::TempDir scratch("synth_threads");
  const auto one = generate_with_threads(scratch / "t1", 5, 1);
  const auto two = generate_with_threads(scratch / "t2", 5, 2);
  REQUIRE(one.size() == two.size());
  CHECK(one == two);
  const auto other = generate_with_threads(scratch / "s6", 6, 2);
  REQUIRE(other.size() == one.size());
  long differ = 0;
  for (const auto& [path, bytes] : one)
    if (path.ends_with(".jpg") && other.at(path) != bytes) ++differ;
  CHECK(differ > static_cast<long>(one.size()) / 2);
}

TEST_CASE("data_synth/layout_and_lists") {
  const test_support::TempDir scratch("synth_layout");
  const fs::path out = scratch / "layout";
  SynthOptions o = small_options(out, 9);
  o.samples_per_subject = 2;
  const SynthSummary s = generate_synth_dataset(o);
  CHECK(!fs::exists(out.string() + ".partial"));
  CHECK(s.train_rows == 3 * 4 * 2);
  CHECK(s.val_rows == 2 * 7 * 2);
  CHECK(s.test_rows == 2 * 7 * 2);

  std::map<std::string, std::vector<std::string>> meta;  // rgb → attacker, victim, type
  for (const auto& row : read_csv(out / "meta.csv")) meta[row[0]] = {row[1], row[2], row[3]};

  std::map<std::string, std::set<std::string>> subjects, types;
  for (const std::string split : {"train", "val", "test"}) {
    const auto rows = read_csv(out / (split + "_list.txt"));
    REQUIRE(rows.size() > 1);
    CHECK(rows[0] == std::vector<std::string>{"rgb", "depth", "ir", "label"});
    for (std::size_t r = 1; r < rows.size(); ++r) {
      const auto& row = rows[r];
      REQUIRE(row.size() == 4);
      for (int c = 0; c < 3; ++c) CHECK(fs::is_regular_file(out / row[c]));
      const auto& m = meta.at(row[0]);
      CHECK(row[3] == (m[2] == "real" ? "1" : "0"));
      subjects[split].insert(m[0]);
      types[split].insert(m[2]);
      if (split == "train") {
        // Training/{real,fake}_part/<SUBJ>/<type>.rssdk/{color,depth,ir}/<n>.jpg
        const std::string part = m[2] == "real" ? "real_part" : "fake_part";
        const std::string dir = "Training/" + part + "/" + m[0] + "/" + m[2] + ".rssdk/";
        CHECK(row[0].starts_with(dir + "color/"));
        CHECK(row[1].starts_with(dir + "depth/"));
        CHECK(row[2].starts_with(dir + "ir/"));
      } else {
        const std::string root = split == "val" ? "Val/0000/" : "Test/0000/";
        CHECK(row[0].starts_with(root));
        CHECK(row[0].ends_with("-color.jpg"));
        CHECK(row[1] == row[0].substr(0, row[0].size() - 9) + "depth.jpg");
      }
    }
  }
  CHECK(types["train"] == std::set<std::string>{"real", "04_en_b", "05_enm_s", "06_enm_b"});
  const std::set<std::string> all{"real", "01_e_s", "02_e_b", "03_en_s", "04_en_b", "05_enm_s", "06_enm_b"};
  CHECK(types["val"] == all);
  CHECK(types["test"] == all);
  for (const auto& [a, b] : {std::pair{"train", "val"}, {"train", "test"}, {"val", "test"}}) {
    std::vector<std::string> common;
    std::set_intersection(subjects[a].begin(), subjects[a].end(), subjects[b].begin(), subjects[b].end(),
                          std::back_inserter(common));
    CHECK_MESSAGE(common.empty(), a, " and ", b, " share subjects");
  }

  // The images decode at the requested size in every modality.
  const auto first = read_csv(out / "val_list.txt")[1];
  for (int c = 0; c < 3; ++c) {
    const nn::Tensor img = infer::load_image_rgb((out / first[c]).string());
    CHECK(img.shape()[0] == 48);
    CHECK(img.shape()[1] == 48);
  }

  // An existing output is never overwritten; a leftover .partial from an interrupted run is replaced.
  CHECK_THROWS_AS(generate_synth_dataset(o), nn::Error);
  const fs::path again = scratch / "again";
  fs::create_directories(again.string() + ".partial/junk");
  generate_synth_dataset(small_options(again, 9));
  CHECK(!fs::exists(again.string() + ".partial"));
  CHECK(!fs::exists(again / "junk"));
}

TEST_CASE("data_synth/live_image_properties") {
  const Triplet t = render_sample({3, 1, 1, AttackType::real, 0}, {96, 0.5});
  long face_pixels = 0;
  for (std::size_t i = 0; i < t.region.size(); ++i) {
    if (t.region[i] == background) CHECK(t.depth[i] == 0);
    face_pixels += t.region[i] == Region::face;
  }
  CHECK(face_pixels > 96 * 96 / 5);
  // Near is bright: the face stands out of the zero background, and IR skin is brighter than background.
  CHECK(mean_where(t, Region::face, t.depth, true) > 60);
  CHECK(mean_where(t, Region::face, t.ir, false) > mean_where(t, Region::background, t.ir, false) + 60);
}

TEST_CASE("data_synth/holes_show_the_attackers_face") {
  for (const AttackType type : {AttackType::e_s, AttackType::e_b, AttackType::en_s, AttackType::enm_b}) {
    CAPTURE(attack_code(type));
    const Triplet t = render_sample({3, 4, 7, type, 1}, {96, 0.5});
    long hole = 0, paper = 0;
    for (std::size_t i = 0; i < t.region.size(); ++i) hole += t.region[i] == face_through_hole, paper += t.region[i] == Region::paper;
    CHECK(hole > 40);
    CHECK(paper > 96 * 96 / 3);
    // The sheet is held in front of the face: through a hole the sensor sees the farther, darker face,
    // measured (not background 0), and the paper around the hole is nearer.
    CHECK(mean_where(t, face_through_hole, t.depth, true) > 40);
    long behind = 0, compared = 0;
    for (int y = 0; y < 96; ++y) {
      for (int x = 0; x < 96; ++x) {
        const std::size_t i = static_cast<std::size_t>(y) * 96 + x;
        if (t.region[i] != face_through_hole || t.depth[i] == 0) continue;
        double sum = 0;
        long n = 0;
        for (int yy = std::max(0, y - 8); yy < std::min(96, y + 9); ++yy)
          for (int xx = std::max(0, x - 8); xx < std::min(96, x + 9); ++xx) {
            const std::size_t j = static_cast<std::size_t>(yy) * 96 + xx;
            if (t.region[j] == Region::paper && t.depth[j] > 0) sum += t.depth[j], ++n;
          }
        if (n == 0) continue;
        ++compared;
        behind += t.depth[i] < sum / n - 5;
      }
    }
    CHECK(compared > 20);
    CHECK(behind > compared * 9 / 10);
    long measured = 0;
    for (std::size_t i = 0; i < t.region.size(); ++i) measured += t.region[i] == face_through_hole && t.depth[i] > 0;
    CHECK(measured > hole / 2);
    // Exactly the attacker's face: the same frame with the sheet taken away agrees in every modality.
    const Triplet bare = render_sample({3, 4, 7, type, 1, true}, {96, 0.5});
    long differ = 0;
    for (std::size_t i = 0; i < t.region.size(); ++i) {
      if (t.region[i] != face_through_hole) continue;
      CHECK(bare.region[i] == Region::face);
      differ += t.depth[i] != bare.depth[i] || t.ir[i] != bare.ir[i] || t.rgb[3 * i] != bare.rgb[3 * i] ||
                t.rgb[3 * i + 1] != bare.rgb[3 * i + 1] || t.rgb[3 * i + 2] != bare.rgb[3 * i + 2];
    }
    CHECK(differ == 0);
  }
}
