// CASIA-SURF lists (infer/data): the reader on the reference's real list files (tests/reference/
// casia-surf-lists, counts from REFERENCE.md §4.1-4.2), header variants, every bad-input message, the skip
// policy, path metadata, and folds_by_fakes (the reference's folds and ours have the same structure).
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "infer/data/folds.h"
#include "infer/data/lists.h"
#include "infer/data/samples.h"
#include "libnn/core/check.h"

namespace fs = std::filesystem;
using namespace infer;

namespace {

std::string fixture(const std::string& name) { return std::string(NN_REFERENCE_DIR) + "/casia-surf-lists/" + name; }

// Each fixture is parsed once per test run: the suite stays well under its time budget.
const ListFile& cached(const std::string& name) {
  static std::map<std::string, ListFile> cache;
  auto it = cache.find(name);
  if (it == cache.end()) it = cache.emplace(name, read_list(fixture(name + ".txt.gz"))).first;
  return it->second;
}

long count_label(const std::vector<ListRow>& rows, int label) {
  return std::count_if(rows.begin(), rows.end(), [&](const ListRow& r) { return r.label == label; });
}

std::set<std::string> real_subjects(const std::vector<ListRow>& rows) {
  std::set<std::string> s;
  for (const auto& r : rows)
    if (r.label == 1) s.insert(parse_sample_path(r.rgb).subject);
  return s;
}

std::set<AttackType> fake_types(const std::vector<ListRow>& rows) {
  std::set<AttackType> s;
  for (const auto& r : rows)
    if (r.label == 0) s.insert(parse_sample_path(r.rgb).attack);
  return s;
}

const std::vector<ListRow>& reference_union() {
  static const std::vector<ListRow> rows = union_rows({cached("fold1_train_list"), cached("fold2_train_list"),
                                                        cached("fold3_train_list"), cached("fold1_val_list_orgl")});
  return rows;
}

std::string error_of(std::string_view text, const std::string& name = "mem.csv") {
  try {
    parse_list(text, name);
  } catch (const nn::Error& e) {
    return e.what();
  }
  return "(no error)";
}

bool disjoint(const std::set<std::string>& a, const std::set<std::string>& b) {
  return std::none_of(a.begin(), a.end(), [&](const std::string& s) { return b.count(s) > 0; });
}

}  // namespace

TEST_CASE("data_lists/fixture counts") {
  struct Expect {
    const char* name;
    long rows, real, fake;
  };
  for (const Expect& e : {Expect{"fold1_train_list", 19922, 6116, 13806}, Expect{"fold2_train_list", 19280, 5898, 13382},
                          Expect{"fold3_train_list", 19330, 5870, 13460}, Expect{"fold1_val_list", 9608, 2994, 6614},
                          Expect{"phase1_list", 9608, 2994, 6614}, Expect{"fold1_val_list_orgl", 9344, 2826, 6518},
                          Expect{"fold2_val_list_orgl", 9986, 3044, 6942},
                          Expect{"fold3_val_list_orgl", 9936, 3072, 6864}}) {
    INFO(e.name);
    const ListFile& l = cached(e.name);
    CHECK(l.has_label);
    CHECK(l.skipped.empty());
    CHECK(static_cast<long>(l.rows.size()) == e.rows);
    CHECK(count_label(l.rows, 1) == e.real);
    CHECK(count_label(l.rows, 0) == e.fake);
  }
  const auto& first = cached("fold1_train_list").rows.front();
  CHECK(first.rgb == "train/Training/fake_part/CLKJ_AS0005/05_enm_s.rssdk/color/101.jpg");
  CHECK(first.depth == "train/Training/fake_part/CLKJ_AS0005/05_enm_s.rssdk/depth/101_resized.jpg");
  CHECK(first.ir == "train/Training/fake_part/CLKJ_AS0005/05_enm_s.rssdk/ir/101_resized.jpg");
  CHECK(first.line == 2);

  // phase1_list is the val list without the "valid/" prefix, same labels in the same order.
  const auto& val = cached("fold1_val_list").rows;
  const auto& phase1 = cached("phase1_list").rows;
  bool same = true;
  for (std::size_t i = 0; i < val.size(); ++i)
    same &= val[i].label == phase1[i].label && val[i].rgb == "valid/" + phase1[i].rgb;
  CHECK(same);
  const ListStats s = list_stats(val);
  CHECK(s.by_split.at("val") == 9608);
  CHECK(s.subjects == 0);
  CHECK(list_stats(phase1).by_split.at("val") == 9608);
}

TEST_CASE("data_lists/reference union") {
  const auto& rows = reference_union();
  CHECK(rows.size() == 29266);
  CHECK(count_label(rows, 1) == 8942);
  CHECK(count_label(rows, 0) == 20324);
  const ListStats s = list_stats(rows);
  CHECK(s.subjects == 300);
  CHECK(s.real_subjects == 300);
  CHECK(s.by_split.at("training") == 29266);
  CHECK(s.by_attack.at("real") == 8942);
  CHECK(s.by_attack.at("04_en_b") == 6518);
  CHECK(s.by_attack.at("05_enm_s") == 6942);
  CHECK(s.by_attack.at("06_enm_b") == 6864);
  CHECK(s.by_attack.size() == 4);
  for (const auto& r : rows) {
    const auto problem = fold_row_problem(r);
    if (problem) FAIL_CHECK(*problem);
  }
  // Every fold's train list plus its own val_orgl is the whole training set.
  for (int k = 1; k <= 3; ++k) {
    const auto whole = union_rows({cached("fold" + std::to_string(k) + "_train_list"),
                                   cached("fold" + std::to_string(k) + "_val_list_orgl")});
    CHECK(whole.size() == 29266);
  }
}

TEST_CASE("data_lists/union conflicts") {
  const ListFile a = parse_list("rgb,depth,ir,label\nc.jpg,d.jpg,i.jpg,1\n", "a.csv");
  ListFile b = parse_list("rgb,depth,ir,label\n\nc.jpg,d.jpg,i.jpg,1\n", "b.csv");
  CHECK(union_rows({a, b}).size() == 1);
  b.rows[0].label = 0;
  CHECK_THROWS_WITH_AS(union_rows({a, b}),
                       "b.csv:3: sample c.jpg is listed differently (label 0, depth d.jpg, ir i.jpg) at a.csv:2 "
                       "(label 1, depth d.jpg, ir i.jpg)",
                       nn::Error);
}

TEST_CASE("data_lists/reference folds structure") {
  const AttackType held[3] = {AttackType::en_b, AttackType::enm_s, AttackType::enm_b};
  std::set<std::string> all_groups;
  for (int k = 1; k <= 3; ++k) {
    INFO("fold " << k);
    const auto& train = cached("fold" + std::to_string(k) + "_train_list").rows;
    const auto& val = cached("fold" + std::to_string(k) + "_val_list_orgl").rows;
    CHECK(fake_types(val) == std::set<AttackType>{held[k - 1]});
    CHECK(fake_types(train).size() == 2);
    CHECK(fake_types(train).count(held[k - 1]) == 0);
    const auto train_real = real_subjects(train), val_real = real_subjects(val);
    CHECK(train_real.size() == 200);
    CHECK(val_real.size() == 100);
    CHECK(disjoint(train_real, val_real));
    CHECK(disjoint(all_groups, val_real));
    all_groups.insert(val_real.begin(), val_real.end());
  }
  CHECK(all_groups.size() == 300);
}

TEST_CASE("data_lists/make_folds") {
  const auto& rows = reference_union();
  const auto folds = make_folds(rows, 7);
  REQUIRE(folds.size() == 3);
  const AttackType held[3] = {AttackType::en_b, AttackType::enm_s, AttackType::enm_b};
  const long held_fakes[3] = {6518, 6942, 6864};
  std::set<std::string> all_groups;
  for (int k = 0; k < 3; ++k) {
    INFO("fold " << k + 1);
    const Fold& f = folds[k];
    CHECK(f.held_out_attack == held[k]);
    CHECK(f.train.size() + f.held_out.size() == rows.size());
    CHECK(fake_types(f.held_out) == std::set<AttackType>{held[k]});
    CHECK(count_label(f.held_out, 0) == held_fakes[k]);
    CHECK(fake_types(f.train).size() == 2);
    CHECK(fake_types(f.train).count(held[k]) == 0);
    const auto train_real = real_subjects(f.train), val_real = real_subjects(f.held_out);
    CHECK(train_real.size() == 200);
    CHECK(val_real.size() == 100);
    CHECK(val_real == std::set<std::string>(f.held_out_subjects.begin(), f.held_out_subjects.end()));
    CHECK(disjoint(train_real, val_real));
    CHECK(disjoint(all_groups, val_real));
    all_groups.insert(val_real.begin(), val_real.end());
  }
  CHECK(all_groups.size() == 300);

  // The seed alone decides the groups.
  const auto again = make_folds(rows, 7), other = make_folds(rows, 8);
  for (int k = 0; k < 3; ++k) {
    CHECK(again[k].held_out_subjects == folds[k].held_out_subjects);
    CHECK(again[k].train.size() == folds[k].train.size());
  }
  CHECK(other[0].held_out_subjects != folds[0].held_out_subjects);

  // A row that is not a Training sample, or whose label disagrees with its folder, is refused.
  std::vector<ListRow> bad = {rows.front(), cached("fold1_val_list").rows.front()};
  CHECK_THROWS_WITH_AS(make_folds(bad, 0), doctest::Contains("not a Training sample: valid/Val/0000/000000-color.jpg"),
                       nn::Error);
  bad = {rows.front()};
  bad[0].label = 1;
  CHECK_THROWS_WITH_AS(make_folds(bad, 0), doctest::Contains("label 1 for a fake sample"), nn::Error);
}

TEST_CASE("data_lists/header variants") {
  ListFile l = parse_list("ir,rgb,depth,label\ni.jpg,c.jpg,d.jpg,1\n", "x");
  REQUIRE(l.rows.size() == 1);
  CHECK(l.rows[0].rgb == "c.jpg");
  CHECK(l.rows[0].depth == "d.jpg");
  CHECK(l.rows[0].ir == "i.jpg");
  CHECK(l.rows[0].label == 1);

  l = parse_list("rgb,depth,ir\nc.jpg,d.jpg,i.jpg\n", "x");
  CHECK_FALSE(l.has_label);
  REQUIRE(l.rows.size() == 1);
  CHECK(l.rows[0].label == -1);

  // BOM, CRLF, blank lines, no final newline; quoted fields with commas and doubled quotes.
  l = parse_list("\xEF\xBB\xBFrgb,depth,ir,label\r\n\r\n\"a,b.jpg\",\"d\"\"q.jpg\",i.jpg,0\r\nc,d,i,1", "x");
  REQUIRE(l.rows.size() == 2);
  CHECK(l.rows[0].rgb == "a,b.jpg");
  CHECK(l.rows[0].depth == "d\"q.jpg");
  CHECK(l.rows[0].line == 3);
  CHECK(l.rows[1].ir == "i");
  CHECK(l.rows[1].line == 4);

  // Written lists read back the same, quotes included.
  const std::string text = format_list(l.rows);
  CHECK(text.starts_with("rgb,depth,ir,label\n\"a,b.jpg\",\"d\"\"q.jpg\",i.jpg,0\n"));
  const ListFile back = parse_list(text, "y");
  REQUIRE(back.rows.size() == 2);
  CHECK(back.rows[0].rgb == "a,b.jpg");
  CHECK(back.rows[0].depth == "d\"q.jpg");
  CHECK(format_list(back.rows, false).starts_with("rgb,depth,ir\n"));
}

TEST_CASE("data_lists/bad input") {
  const std::string h = "rgb,depth,ir,label\n";
  CHECK(error_of(h + "a,b,c,1\na,b,1\n") == "mem.csv:3: expected 4 columns, got 3");
  CHECK(error_of(h + "a,b,c,1,x\n") == "mem.csv:2: expected 4 columns, got 5");
  CHECK(error_of(h + "a,,c,1\n") == "mem.csv:2: empty depth path");
  CHECK(error_of(h + "a,b,c,2\n") == "mem.csv:2: bad label '2' (expected 0 = fake or 1 = real)");
  CHECK(error_of(h + "a,b,c,\n") == "mem.csv:2: bad label '' (expected 0 = fake or 1 = real)");
  CHECK(error_of(h + "a,b,c,1.0\n") == "mem.csv:2: bad label '1.0' (expected 0 = fake or 1 = real)");
  CHECK(error_of(h + "\"a,b,c,1\n") == "mem.csv:2: unterminated quote in field 1 (column 1)");
  CHECK(error_of(h + "\"a\"x,b,c,1\n") == "mem.csv:2: text after the closing quote of field 1 (column 4)");
  CHECK(error_of(h + "a\"b,b,c,1\n") == "mem.csv:2: stray quote in unquoted field 1");
  CHECK(error_of("a.jpg,b.jpg,c.jpg,1\n") ==
        "mem.csv:1: missing header: expected columns rgb,depth,ir[,label], got 'a.jpg,b.jpg,c.jpg,1'");
  CHECK(error_of("rgb,depth,infrared,label\n") ==
        "mem.csv:1: unknown column 'infrared' in header (expected rgb,depth,ir[,label])");
  CHECK(error_of("rgb,depth,label\n") == "mem.csv:1: header lacks column 'ir' (expected rgb,depth,ir[,label])");
  CHECK(error_of("rgb,rgb,depth,ir\n") == "mem.csv:1: column 'rgb' appears twice in header");
  CHECK(error_of("\n\r\n") == "mem.csv: empty list: no header (expected rgb,depth,ir[,label])");
  CHECK(error_of("") == "mem.csv: empty list: no header (expected rgb,depth,ir[,label])");
  CHECK_THROWS_WITH_AS(read_list("/nonexistent/list.txt"), doctest::Contains("list: cannot open /nonexistent/list.txt"),
                       nn::Error);

  // A cut-off .gz is an error, not a shorter list.
  const fs::path cut = fs::temp_directory_path() / ("hardtune_test_cut_" + std::to_string(::getpid()) + ".txt.gz");
  {
    std::ifstream in(fixture("phase1_list.txt.gz"), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(cut, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  }
  CHECK_THROWS_WITH_AS(read_list(cut.string()), doctest::Contains(("list: cannot read " + cut.string()).c_str()), nn::Error);
  fs::remove(cut);
}

TEST_CASE("data_lists/skip policy") {
  const ListFile l = parse_list("rgb,depth,ir,label\na,b,c,1\na,b,c,7\nx,y\nd,e,f,0\n", "l.csv", OnBadSample::skip);
  REQUIRE(l.rows.size() == 2);
  CHECK(l.rows[1].rgb == "d");
  REQUIRE(l.skipped.size() == 2);
  CHECK(l.skipped[0].where() == "l.csv:3: bad label '7' (expected 0 = fake or 1 = real)");
  CHECK(l.skipped[1].where() == "l.csv:4: expected 4 columns, got 2");
  // The header is never skipped over.
  CHECK_THROWS_WITH_AS(parse_list("a,b,c,1\n", "l.csv", OnBadSample::skip), doctest::Contains("missing header"), nn::Error);
}

TEST_CASE("data_lists/attack types and paths") {
  const char* codes[] = {"real", "01_e_s", "02_e_b", "03_en_s", "04_en_b", "05_enm_s", "06_enm_b"};
  for (int k = 0; k < 7; ++k) {
    const auto t = static_cast<AttackType>(k);
    CHECK(parse_attack(codes[k]) == t);
    CHECK(parse_attack(std::string(codes[k]) + ".rssdk") == t);
    CHECK(attack_code(t) == codes[k]);
    const AttackTraits a = attack_traits(t);
    CHECK(a.eyes == (k >= 1));
    CHECK(a.nose == (k >= 3));
    CHECK(a.mouth == (k >= 5));
    CHECK(a.bent == (k >= 1 && k % 2 == 0));
  }
  CHECK(parse_attack("07_x_s") == AttackType::unknown);
  CHECK(parse_attack("") == AttackType::unknown);
  CHECK(attack_code(AttackType::unknown) == "unknown");

  SampleInfo s = parse_sample_path("train/Training/fake_part/CLKJ_AS0005/04_en_b.rssdk/color/101.jpg");
  CHECK(s.split == Split::training);
  CHECK(s.fake_part);
  CHECK(s.subject == "CLKJ_AS0005");
  CHECK(s.session == "04_en_b.rssdk");
  CHECK(s.attack == AttackType::en_b);
  s = parse_sample_path("Training/real_part/CLKJ_CS0101/real.rssdk/depth/3_resized.jpg");
  CHECK(s.real_part);
  CHECK(s.attack == AttackType::real);
  CHECK(s.subject == "CLKJ_CS0101");
  for (const char* p : {"valid/Val/0003/000123-color.jpg", "Val/0003/000123-ir.jpg"}) {
    s = parse_sample_path(p);
    CHECK(s.split == Split::val);
    CHECK(s.subject.empty());
    CHECK(s.attack == AttackType::unknown);
  }
  CHECK(parse_sample_path("test/Test/0001/000001-color.jpg").split == Split::test);
  CHECK(parse_sample_path("elsewhere/x.jpg").split == Split::unknown);
  s = parse_sample_path("train/Training/real_part");
  CHECK(s.split == Split::training);
  CHECK(s.attack == AttackType::unknown);

  CHECK(concat_path("data", "train/x.jpg") == "datatrain/x.jpg");
  CHECK(concat_path("data/", "train/x.jpg") == "data/train/x.jpg");
  CHECK(join_path("data", "train/x.jpg") == "data/train/x.jpg");
  CHECK(join_path("data/", "train/x.jpg") == "data/train/x.jpg");
  CHECK(join_path("", "train/x.jpg") == "train/x.jpg");
  CHECK(join_path("data", "/abs/x.jpg") == "/abs/x.jpg");
}

TEST_CASE("data_lists/folds command") {
  // A small training set: 6 subjects, real plus three attack types, two images each.
  std::vector<ListRow> rows;
  for (int s = 0; s < 6; ++s)
    for (const char* sess : {"real", "04_en_b", "05_enm_s", "06_enm_b"})
      for (int n = 0; n < 2; ++n) {
        const bool real = std::string(sess) == "real";
        const std::string base = std::string("train/Training/") + (real ? "real_part" : "fake_part") + "/CLKJ_AS000" +
                                 std::to_string(s) + "/" + sess + ".rssdk/";
        rows.push_back({base + "color/" + std::to_string(n) + ".jpg", base + "depth/" + std::to_string(n) + "_resized.jpg",
                        base + "ir/" + std::to_string(n) + "_resized.jpg", real ? 1 : 0});
      }
  const fs::path dir = fs::temp_directory_path() / ("hardtune_test_lists_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  write_list((dir / "in.txt").string(), rows);
  // A second list repeating some rows and holding one bad line, which the skip policy reports.
  std::vector<ListRow> part(rows.begin(), rows.begin() + 10);
  write_list((dir / "in2.txt").string(), part);
  {
    std::ofstream f(dir / "in2.txt", std::ios::app);
    f << "a,b,c,3\n";
  }
  FoldsOptions o{.from = {(dir / "in.txt").string(), (dir / "in2.txt").string()}, .out = (dir / "out").string(),
                 .seed = 3, .on_bad = OnBadSample::skip};
  std::ostringstream log;
  run_lists_folds(o, log);
  CHECK(log.str().find("in2.txt:12: bad label '3'") != std::string::npos);
  std::set<std::string> groups;
  for (int k = 1; k <= 3; ++k) {
    const ListFile train = read_list((dir / ("out/fold" + std::to_string(k)) / "train_list.txt").string());
    const ListFile held = read_list((dir / ("out/fold" + std::to_string(k)) / "val_list_orgl.txt").string());
    CHECK(train.rows.size() + held.rows.size() == rows.size());
    CHECK(real_subjects(held.rows).size() == 2);
    CHECK(real_subjects(train.rows).size() == 4);
    CHECK(fake_types(held.rows).size() == 1);
    for (const auto& s : real_subjects(held.rows)) CHECK(groups.insert(s).second);
  }
  o.on_bad = OnBadSample::fail;
  CHECK_THROWS_WITH_AS(run_lists_folds(o, log), doctest::Contains("in2.txt:12: bad label '3'"), nn::Error);

  std::ostringstream stats;
  run_lists_stats({(dir / "in.txt").string()}, OnBadSample::fail, stats);
  CHECK(stats.str().find("rows 48  real 12  fake 36") != std::string::npos);
  CHECK(stats.str().find("04_en_b 12") != std::string::npos);
  CHECK(stats.str().find("subjects 6") != std::string::npos);
  fs::remove_all(dir);
}
