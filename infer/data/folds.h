// Statistics of lists and the reference's folds_by_fakes construction (REFERENCE.md §4.2), plus the logic
// of `hardtune lists stats` and `hardtune lists folds` (the CLI only parses options).
//
// Fold k holds out the k-th attack type present (in code order: 04_en_b, 05_enm_s, 06_enm_b for CASIA-SURF,
// as the reference's fold1..3) and the k-th of as many disjoint groups of real subjects. The reference's
// groups look random and its seed is unknown: ours come from a seeded shuffle (Philox, so the same seed
// gives the same folds on every platform), with the same structure but not the same subjects.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "infer/data/lists.h"
#include "infer/data/samples.h"

namespace infer {

struct ListStats {
  long rows = 0, real = 0, fake = 0, unlabelled = 0, skipped = 0;
  std::map<std::string, long> by_split;   // split_name -> rows
  std::map<std::string, long> by_attack;  // attack_code -> rows (Training paths only)
  long subjects = 0, real_subjects = 0;   // distinct subjects in all rows / in real rows
};
ListStats list_stats(const std::vector<ListRow>& rows);
void print_stats(const ListStats& s, std::ostream& out);

// The rows of all lists without repeats (equal rgb, depth and ir), in first-seen order. A sample listed
// twice with different labels throws, naming both places.
std::vector<ListRow> union_rows(const std::vector<ListFile>& lists);

// Why a row cannot go into folds (not a Training path, no subject or attack type, label disagreeing with
// real_part/fake_part), or nothing when it can.
std::optional<std::string> fold_row_problem(const ListRow& row);

struct Fold {
  AttackType held_out_attack = AttackType::unknown;
  std::vector<std::string> held_out_subjects;  // real subjects held out, sorted
  std::vector<ListRow> train, held_out;        // in input order; held_out is the reference's val_list_orgl
};

// One fold per attack type present among the fakes (at least 2); the real subjects are split into that
// many disjoint groups (sizes differ by at most one) by a shuffle seeded with `seed`. Throws on a row
// fold_row_problem rejects.
std::vector<Fold> make_folds(const std::vector<ListRow>& rows, std::uint64_t seed);

// `hardtune lists stats LIST...`: totals of each list, then of their union when there are several.
void run_lists_stats(const std::vector<std::string>& paths, OnBadSample on_bad, std::ostream& out);

struct FoldsOptions {
  std::vector<std::string> from;  // lists whose union is split (e.g. the three train lists + one val_orgl)
  std::string out;                // writes out/fold<k>/train_list.txt and out/fold<k>/val_list_orgl.txt
  std::uint64_t seed = 0;
  OnBadSample on_bad = OnBadSample::fail;
};
void run_lists_folds(const FoldsOptions& options, std::ostream& out);

}  // namespace infer
