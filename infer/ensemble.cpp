// Ensembles (ensemble.h): group trees, calibration, greedy selection and the `hardtune ensemble` driver.
#include "infer/ensemble.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include "infer/eval/metrics.h"
#include "libnn/core/check.h"

namespace infer {
namespace {

class GroupParser {
 public:
  GroupParser(std::string_view spec, const std::vector<std::string>& names) : s_(spec), names_(names) {}

  GroupNode parse() {
    GroupNode root = spec();
    skip_space();
    NN_CHECK(pos_ == s_.size(), "--groups: unexpected '", s_[pos_], "' at column ", pos_ + 1, " of \"", s_, "\"");
    std::vector<int> seen(names_.size(), 0);
    count(root, seen);
    for (std::size_t m = 0; m < seen.size(); ++m)
      NN_CHECK(seen[m] == 1, "--groups: member ", m + 1, " (", names_[m], ") appears ", seen[m],
               " times; every score file must be in exactly one group");
    return root;
  }

 private:
  GroupNode spec() {
    GroupNode node;
    node.children.push_back(part());
    while (take(';')) node.children.push_back(part());
    return node.children.size() == 1 ? std::move(node.children[0]) : node;
  }
  GroupNode part() {
    GroupNode node;
    node.children.push_back(item());
    while (take(',')) node.children.push_back(item());
    return node.children.size() == 1 ? std::move(node.children[0]) : node;
  }
  GroupNode item() {
    if (take('(')) {
      GroupNode node = spec();
      NN_CHECK(take(')'), "--groups: missing ')' at column ", pos_ + 1, " of \"", s_, "\"");
      return node;
    }
    skip_space();
    const std::size_t begin = pos_;
    while (pos_ < s_.size() && std::string_view(",;()").find(s_[pos_]) == std::string_view::npos) ++pos_;
    std::string_view ref = s_.substr(begin, pos_ - begin);
    while (!ref.empty() && ref.back() == ' ') ref.remove_suffix(1);
    NN_CHECK(!ref.empty(), "--groups: empty member at column ", begin + 1, " of \"", s_, "\"");
    GroupNode node;
    for (std::size_t m = 0; m < names_.size(); ++m)
      if (ref == names_[m]) node.member = static_cast<int>(m);
    int index = 0;
    const auto [end, ec] = std::from_chars(ref.data(), ref.data() + ref.size(), index);
    if (node.member < 0 && ec == std::errc() && end == ref.data() + ref.size()) {
      NN_CHECK(index >= 1 && index <= static_cast<int>(names_.size()), "--groups: member ", index,
               " is out of range (there are ", names_.size(), " score files)");
      node.member = index - 1;
    }
    NN_CHECK(node.member >= 0, "--groups: '", ref, "' is neither a 1-based index nor one of the score files");
    return node;
  }
  void count(const GroupNode& n, std::vector<int>& seen) {
    if (n.member >= 0) ++seen[static_cast<std::size_t>(n.member)];
    for (const auto& c : n.children) count(c, seen);
  }
  void skip_space() {
    while (pos_ < s_.size() && s_[pos_] == ' ') ++pos_;
  }
  bool take(char c) {
    skip_space();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  std::string_view s_;
  const std::vector<std::string>& names_;
  std::size_t pos_ = 0;
};

double node_mean(const GroupNode& node, const std::vector<std::vector<double>>& members, std::size_t i) {
  if (node.member >= 0) return members[static_cast<std::size_t>(node.member)][i];
  double sum = 0;
  for (const auto& c : node.children) sum += node_mean(c, members, i);
  return sum / static_cast<double>(node.children.size());
}

bool higher_is_better(const std::string& metric) { return metric != "acer" && metric != "eer"; }

std::vector<double> plain_mean(const std::vector<std::vector<double>>& members, const std::vector<int>& chosen) {
  std::vector<double> mean(members[0].size(), 0.0);
  for (std::size_t i = 0; i < mean.size(); ++i) {
    for (int m : chosen) mean[i] += members[static_cast<std::size_t>(m)][i];
    mean[i] /= static_cast<double>(chosen.size());
  }
  return mean;
}

// Member scores in a common row order: the list's when one is given, else the first member's (all must agree).
struct Aligned {
  std::vector<std::vector<double>> scores;
  std::vector<ListRow> rows;  // paths of the output rows; empty when no member and no list has paths
};

Aligned align_members(const std::vector<ScoreTable>& tables, const ListFile* list, bool root_independent) {
  Aligned a;
  if (list) {
    for (const auto& t : tables) {
      const auto index = align_scores(t, *list, root_independent);
      auto& s = a.scores.emplace_back();
      for (std::size_t i : index) s.push_back(t.rows[i].score);
    }
    a.rows = list->rows;
    return a;
  }
  const ScoreTable* with_paths = nullptr;
  for (const auto& t : tables) {
    NN_CHECK(t.rows.size() == tables[0].rows.size(), "ensemble: ", t.path, " has ", t.rows.size(), " rows but ",
             tables[0].path, " has ", tables[0].rows.size(), "; members must score the same samples");
    if (t.has_paths) {
      if (!with_paths) with_paths = &t;
      for (std::size_t i = 0; i < t.rows.size(); ++i) {
        const auto& r = t.rows[i];
        const auto& e = with_paths->rows[i];
        NN_CHECK(r.rgb == e.rgb && r.depth == e.depth && r.ir == e.ir, "ensemble: ", t.path, ':', r.line, ": sample ",
                 r.rgb, " is not ", with_paths->path, ':', e.line, "'s ", e.rgb,
                 "; members must list the same samples in the same order (or give --list)");
      }
    }
    a.scores.push_back(t.scores());
  }
  if (with_paths)
    for (const auto& r : with_paths->rows) a.rows.push_back({r.rgb, r.depth, r.ir, -1, r.line});
  return a;
}

std::vector<ScoreTable> read_all(const std::vector<std::string>& paths) {
  std::vector<ScoreTable> tables;
  for (const auto& p : paths) tables.push_back(read_scores(p));
  return tables;
}

std::vector<int> labels_of(const ListFile& list) {
  NN_CHECK(list.has_label, list.path, ": the validation list has no label column");
  std::vector<int> labels;
  for (const auto& r : list.rows) labels.push_back(r.label);
  return labels;
}

}  // namespace

GroupNode parse_groups(std::string_view spec, const std::vector<std::string>& member_names) {
  NN_CHECK(!member_names.empty(), "--groups: no score files");
  return GroupParser(spec, member_names).parse();
}

GroupNode flat_group(int members) {
  NN_CHECK(members >= 1, "ensemble: no score files");
  GroupNode node;
  for (int m = 0; m < members; ++m) node.children.push_back(GroupNode{m, {}});
  return members == 1 ? node.children[0] : node;
}

std::string describe_groups(const GroupNode& node) {
  if (node.member >= 0) return std::to_string(node.member + 1);
  std::string s = "(";
  for (std::size_t i = 0; i < node.children.size(); ++i) {
    if (i) s += ',';
    s += describe_groups(node.children[i]);
  }
  s += ')';
  return s;
}

std::vector<double> combine_scores(const std::vector<std::vector<double>>& members, const GroupNode& groups) {
  NN_CHECK(!members.empty(), "ensemble: no members");
  for (const auto& m : members)
    NN_CHECK(m.size() == members[0].size(), "ensemble: members have ", members[0].size(), " and ", m.size(), " rows");
  std::vector<double> out(members[0].size());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = node_mean(groups, members, i);
  return out;
}

double calibrate(double x, double thr) {
  NN_CHECK(thr > 0 && thr <= 1, "calibrate: threshold ", thr, " is outside (0, 1]");
  if (x < thr) return x * 0.5 / thr;
  return thr >= 0.5 ? x : 0.5 + (x - thr) * 0.5 / (1 - thr);
}

double lowest_real_score(const std::vector<double>& scores, const std::vector<int>& labels) {
  NN_CHECK(scores.size() == labels.size(), "calibrate: ", scores.size(), " scores but ", labels.size(), " labels");
  double low = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < scores.size(); ++i)
    if (labels[i] == 1) low = std::min(low, scores[i]);
  NN_CHECK(std::isfinite(low), "calibrate auto: the validation list has no real sample");
  return low;
}

double ensemble_metric(const std::vector<double>& scores, const std::vector<int>& labels, const std::string& metric) {
  const auto m = eval::compute_metrics(scores, labels);
  if (metric == "acer") return m.at_threshold.acer;
  if (metric == "eer") return m.eer.eer;
  if (metric == "auc") return m.auc;
  if (metric == "tpr@1e-2") return m.tpr_1e2;
  if (metric == "tpr@1e-3") return m.tpr_1e3;
  if (metric == "tpr@1e-4") return m.tpr_1e4;
  throw nn::Error(nn::str("ensemble: unknown metric '", metric, "' (acer, eer, auc, tpr@1e-2, tpr@1e-3, tpr@1e-4)"));
}

std::vector<GreedyStep> greedy_select(const std::vector<std::vector<double>>& members, const std::vector<int>& labels,
                                      const std::string& metric, std::ostream* trace,
                                      const std::vector<std::string>& names) {
  NN_CHECK(!members.empty(), "greedy: no members");
  const bool higher = higher_is_better(metric);
  const auto better = [&](double a, double b) { return higher ? a > b : a < b; };
  const auto name = [&](int m) {
    return names.empty() ? nn::str('#', m + 1) : nn::str('#', m + 1, ' ', names[static_cast<std::size_t>(m)]);
  };
  std::vector<GreedyStep> steps;
  std::vector<int> chosen;
  std::vector<char> used(members.size(), 0);
  for (;;) {
    int best = -1;
    double best_value = 0;
    for (std::size_t m = 0; m < members.size(); ++m) {
      if (used[m]) continue;
      auto trial = chosen;
      trial.push_back(static_cast<int>(m));
      const double v = ensemble_metric(plain_mean(members, trial), labels, metric);
      if (best < 0 || better(v, best_value)) best = static_cast<int>(m), best_value = v;
    }
    if (best < 0) {
      if (trace) *trace << "greedy: every member is chosen\n";
      break;
    }
    if (!steps.empty() && better(steps.back().value, best_value)) {
      if (trace)
        *trace << "greedy: stop: the best addition " << name(best) << " would give " << metric << " " << best_value
               << ", worse than " << steps.back().value << "\n";
      break;
    }
    chosen.push_back(best);
    used[static_cast<std::size_t>(best)] = 1;
    steps.push_back({best, best_value});
    if (trace)
      *trace << "greedy: " << (steps.size() == 1 ? "start with " : "add ") << name(best) << ": " << metric << " "
             << best_value << " (" << steps.size() << " member" << (steps.size() == 1 ? "" : "s") << ")\n";
  }
  return steps;
}

void run_ensemble(const EnsembleOptions& o, std::ostream& log) {
  NN_CHECK(!o.scores.empty(), "ensemble: no score files");
  NN_CHECK(!o.out.empty(), "ensemble: no output path");
  NN_CHECK(!(o.greedy && !o.groups.empty()), "ensemble: --greedy chooses members for a plain mean; drop --groups");
  const bool need_val = o.greedy || o.calibrate == "auto";
  NN_CHECK(!need_val || (!o.val_list.empty() && !o.val_scores.empty()), "ensemble: ",
           o.greedy ? "--greedy" : "--calibrate auto", " needs --val-list and --val-scores");
  NN_CHECK(o.val_scores.empty() || o.val_scores.size() == o.scores.size(), "ensemble: ", o.val_scores.size(),
           " --val-scores for ", o.scores.size(), " score files; give each member's validation scores in the same order");

  ListFile list;
  if (!o.list.empty()) list = read_list(o.list);
  const Aligned test = align_members(read_all(o.scores), o.list.empty() ? nullptr : &list, o.root_independent);
  log << "ensemble: " << o.scores.size() << " members, " << test.scores[0].size() << " samples\n";

  Aligned val;
  std::vector<int> val_labels;
  if (!o.val_scores.empty()) {
    NN_CHECK(!o.val_list.empty(), "ensemble: --val-scores needs --val-list");
    const ListFile vl = read_list(o.val_list);
    val_labels = labels_of(vl);
    val = align_members(read_all(o.val_scores), &vl, o.root_independent);
  }

  GroupNode groups = o.groups.empty() ? flat_group(static_cast<int>(o.scores.size())) : parse_groups(o.groups, o.scores);
  if (o.greedy) {
    const auto steps = greedy_select(val.scores, val_labels, o.metric, &log, o.scores);
    groups = GroupNode{};
    for (const auto& s : steps) groups.children.push_back(GroupNode{s.added, {}});
  }
  log << "ensemble: mean over " << describe_groups(groups) << "\n";
  std::vector<double> scores = combine_scores(test.scores, groups);

  if (!o.calibrate.empty()) {
    double thr = 0;
    if (o.calibrate == "auto") {
      const auto val_scores = combine_scores(val.scores, groups);
      thr = lowest_real_score(val_scores, val_labels);
      log << "ensemble: calibration threshold (lowest validation real) " << thr << "\n";
    } else {
      const auto [end, ec] = std::from_chars(o.calibrate.data(), o.calibrate.data() + o.calibrate.size(), thr);
      NN_CHECK(ec == std::errc() && end == o.calibrate.data() + o.calibrate.size(), "ensemble: --calibrate '",
               o.calibrate, "' is neither a number nor auto");
    }
    NN_CHECK(thr > 0 && thr <= 1, "ensemble: calibration threshold ", thr, " is outside (0, 1]");
    if (thr < 0.5) log << "ensemble: note: threshold below 0.5: scores >= it are stretched onto [0.5, 1]\n";
    for (double& s : scores) s = calibrate(s, thr);
  }

  ScoreTable out;
  out.path = o.out;
  out.has_paths = !test.rows.empty();
  if (!out.has_paths) out.views = {"ensemble"};
  for (std::size_t i = 0; i < scores.size(); ++i) {
    ScoreRow r;
    if (out.has_paths) r.rgb = test.rows[i].rgb, r.depth = test.rows[i].depth, r.ir = test.rows[i].ir;
    else r.view_scores = {scores[i]};
    r.score = scores[i];
    out.rows.push_back(std::move(r));
  }
  write_scores(o.out, out);
  log << "ensemble: wrote " << o.out << "\n";
  if (!o.submission.empty()) {
    write_submission(o.submission, out);
    log << "ensemble: wrote " << o.submission << " (submission format)\n";
  }
}

}  // namespace infer
