// Ensembles of score tables (REFERENCE.md §5.2) behind `hardtune ensemble`: the plain mean, the
// reference's nested group mean (views -> folds -> seeds -> groups), its calibration, and greedy forward
// selection on a labelled validation list.
//
// Every member's score is already the mean of its views (scores.h). Members must describe the same samples
// in the same order; members with paths must agree path for path (with a list given, each member is first
// put into the list's order).
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "infer/scores.h"

namespace infer {

// A node of the group tree: a member (its index) or the mean of its children.
struct GroupNode {
  int member = -1;
  std::vector<GroupNode> children;
};

// Parses a group spec over members named by 1-based index or by the path given for them:
//   spec := part (';' part)*     part := item (',' item)*     item := '(' spec ')' | member
// Each ';'-separated part is a group, each ',' separates the items averaged inside it, parentheses nest,
// so "1,2,3;4,5,6" is the mean of two groups of three, and "(1,2,3),(4,5,6);(7,8,9)" averages folds within
// seeds, seeds within groups, then groups (the reference's layout). Every member appears exactly once.
GroupNode parse_groups(std::string_view spec, const std::vector<std::string>& member_names);
GroupNode flat_group(int members);  // the plain mean of all members
std::string describe_groups(const GroupNode& node);  // the tree as a spec of 1-based indices

// members[m][i]: member m's score of sample i. Returns the tree's nested mean per sample.
std::vector<double> combine_scores(const std::vector<std::vector<double>>& members, const GroupNode& groups);

// The reference's calibration: x < thr becomes x * 0.5 / thr, x >= thr stays, so a decision at 0.5 after it is
// the decision at thr before it (thr must lie in [0.5, 1]; below 0.5 the rule would not be monotonic, and
// scores >= thr are instead mapped linearly from [thr, 1] onto [0.5, 1]).
double calibrate(double x, double thr);
// thr = auto: the lowest real's score on the validation list, so every validation real is accepted.
double lowest_real_score(const std::vector<double>& scores, const std::vector<int>& labels);

// Greedy forward selection: start with the best single member by the metric, then repeatedly add the member
// (not yet chosen) whose addition to the plain mean gives the best metric, as long as it is not worse.
// metric: acer (at 0.5, lower is better), eer (lower), auc, tpr@1e-2, tpr@1e-3, tpr@1e-4 (higher).
struct GreedyStep {
  int added = -1;  // member index
  double value = 0;
};
std::vector<GreedyStep> greedy_select(const std::vector<std::vector<double>>& members, const std::vector<int>& labels,
                                      const std::string& metric, std::ostream* trace = nullptr,
                                      const std::vector<std::string>& names = {});
double ensemble_metric(const std::vector<double>& scores, const std::vector<int>& labels, const std::string& metric);

struct EnsembleOptions {
  std::string out{};                  // our score format
  std::vector<std::string> scores{};  // members
  std::string list{};                 // optional: put members in this list's order and take its paths
  bool root_independent = false;
  std::string groups{};               // "" = plain mean
  std::string calibrate{};            // "" = none, a number, or "auto"
  bool greedy = false;
  std::string metric = "acer";
  std::string val_list{};
  std::vector<std::string> val_scores{};  // the members' scores on val_list, in the order of `scores`
  std::string submission{};           // optional challenge-format output
};
void run_ensemble(const EnsembleOptions& options, std::ostream& log);

}  // namespace infer
