// Score tables: per-sample P(real) scores with their TTA views (REFERENCE.md §5.1, §8), in two formats.
//
// Ours (written by `hardtune predict` and `hardtune ensemble`): a CSV with header
//   rgb,depth,ir,score,<view>,<view>...      e.g.  rgb,depth,ir,score,crop0,crop0_hflip
// paths quoted as in list files (infer/data/csv.h), score = the mean of the view columns (a table may have
// no view columns; then score stands alone). Numbers are written shortest-round-trip, so reading gives back
// the same doubles.
// The original implementation's: a header of view columns only (`crop0,crop0_hflip`, any names), one row
// per list row in list order, numbers as pandas writes them; score = the row mean. The format is told by
// the header: a header with rgb, depth, ir and score is ours; a header without any of them is the original's.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "infer/data/lists.h"

namespace infer {

struct ScoreRow {
  std::string rgb, depth, ir;     // empty when the table has no paths
  double score = 0;               // P(real): the mean of view_scores when there are views
  std::vector<double> view_scores;  // one per ScoreTable::views
  long line = 0;                  // 1-based line in the source file (0 for rows built in memory)
};

struct ScoreTable {
  std::string path;                // the source file, for messages ("" when built in memory)
  bool has_paths = false;          // our format; false for the original's
  std::vector<std::string> views;  // column names of the TTA views
  std::vector<ScoreRow> rows;

  std::vector<double> scores() const;
};

// Reads either format (plain or .gz). Errors name file:line: a bad or non-finite number, a wrong column
// count, an empty path, a score column that disagrees with the mean of the views by more than 1e-6.
ScoreTable read_scores(const std::string& path);
ScoreTable parse_scores(std::string_view text, const std::string& name);

// Writes our format atomically (a table without paths is written in the original format, view columns
// only). Values are written as stored; a score that is not the mean of its views (1e-6) is an error.
void write_scores(const std::string& path, const ScoreTable& table);
std::string format_scores(const ScoreTable& table);

// The challenge's submission (REFERENCE.md §5.2): `<rgb> <depth> <ir> <score>` per line, space separated,
// no header, the score rounded to 6 decimals as numpy.round does and printed as Python's repr (0.5,
// 1.0, 5e-06), which is what pandas wrote. Needs paths.
void write_submission(const std::string& path, const ScoreTable& table);
std::string format_submission(const ScoreTable& table);

// Python's repr of a double (shortest round-trip digits; exponent form below 1e-4 and from 1e16).
std::string python_repr(double x);
// numpy.round(x, 6): rint(x * 1e6) / 1e6 with ties to even.
double round6(double x);

// The key two paths are compared by. With root_independent, everything before the split folder
// (Training/, Val/ or Test/) is dropped, so "valid/Val/0001/x.jpg" matches "Val/0001/x.jpg" (the
// reference's val_list.txt and phase1_list.txt name the same files that way).
std::string path_key(std::string_view rgb, std::string_view depth, std::string_view ir, bool root_independent);

// For each list row, the index of its score row. A table with paths is matched by path (every list row
// must have exactly one score row and vice versa; the error names the first missing or extra path); a
// table without paths is matched by row order (the counts must agree).
std::vector<std::size_t> align_scores(const ScoreTable& table, const ListFile& list, bool root_independent = false);

}  // namespace infer
