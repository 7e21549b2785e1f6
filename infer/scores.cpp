// Score tables (scores.h): the two CSV formats, the submission format, and alignment with list files.
#include "infer/scores.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "infer/data/csv.h"
#include "libnn/core/check.h"
#include "libnn/io/atomic_file.h"

namespace infer {
namespace {

constexpr std::array<std::string_view, 4> kPathColumns = {"rgb", "depth", "ir", "score"};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A finite double spelled entirely by s (from_chars: no locale, exact rounding); the reason otherwise.
std::optional<std::string> parse_number(std::string_view s, double& value) {
  s = trim(s);
  if (s.empty()) return "empty number";
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return nn::str("bad number '", s, "'");
  if (!std::isfinite(value)) return nn::str("non-finite score '", s, "'");
  return std::nullopt;
}

void write_number(std::ostream& out, double x) {
  std::array<char, 32> buf;
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), x);
  out.write(buf.data(), r.ptr - buf.data());
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

void write_table(std::ostream& out, const ScoreTable& t) {
  bool first = true;
  const auto sep = [&] {
    if (!first) out << ',';
    first = false;
  };
  if (t.has_paths)
    for (auto c : kPathColumns) sep(), out << c;
  for (const auto& v : t.views) sep(), write_csv_field(out, v);
  out << '\n';
  for (const auto& r : t.rows) {
    NN_CHECK(r.view_scores.size() == t.views.size(), "write_scores: row ", r.rgb, " has ", r.view_scores.size(),
             " view scores for ", t.views.size(), " views");
    first = true;
    if (t.has_paths) {
      NN_CHECK(!r.rgb.empty() && !r.depth.empty() && !r.ir.empty(), "write_scores: a row has an empty path");
      // Readers check this too: catch a predictor that forgot to average its views before the file exists.
      NN_CHECK(r.view_scores.empty() || std::abs(mean(r.view_scores) - r.score) <= 1e-6, "write_scores: row ", r.rgb,
               ": score ", r.score, " is not the mean of its views (", mean(r.view_scores), ")");
      sep(), write_csv_field(out, r.rgb);
      sep(), write_csv_field(out, r.depth);
      sep(), write_csv_field(out, r.ir);
      sep(), write_number(out, r.score);
    }
    for (double v : r.view_scores) sep(), write_number(out, v);
    out << '\n';
  }
}

void write_submission_rows(std::ostream& out, const ScoreTable& t) {
  NN_CHECK(t.has_paths, "submission: the scores", t.path.empty() ? "" : " of " + t.path,
           " have no paths; give the list they follow");
  for (const auto& r : t.rows) {
    // Space separated, like pandas' to_csv(sep=' '): a path with a space could not be read back.
    for (const auto* p : {&r.rgb, &r.depth, &r.ir}) {
      NN_CHECK(p->find_first_of(" \t\r\n") == std::string::npos, "submission: path '", *p, "' contains whitespace");
      out << *p << ' ';
    }
    out << python_repr(round6(r.score)) << '\n';
  }
}

// Drops the prefix before the split folder (Training/, Val/, Test/) when root_independent.
std::string_view relative_to_split(std::string_view p) {
  for (std::string_view split : {"Training/", "Val/", "Test/"}) {
    if (p.starts_with(split)) return p;
    const std::size_t at = p.find(nn::str('/', split));
    if (at != std::string_view::npos) return p.substr(at + 1);
  }
  return p;
}

}  // namespace

std::vector<double> ScoreTable::scores() const {
  std::vector<double> s;
  s.reserve(rows.size());
  for (const auto& r : rows) s.push_back(r.score);
  return s;
}

ScoreTable parse_scores(std::string_view text, const std::string& name) {
  ScoreTable t;
  t.path = name;
  std::vector<std::string> fields;
  std::array<int, 4> column_of = {-1, -1, -1, -1};
  std::vector<int> view_columns;
  std::size_t num_columns = 0;
  bool have_header = false;
  for_each_csv_line(text, [&](long line_no, std::string_view line) {
    const auto bad = split_csv_line(line, fields);
    NN_CHECK(!bad, name, ':', line_no, ": ", *bad);
    if (!have_header) {
      have_header = true;
      num_columns = fields.size();
      for (std::size_t i = 0; i < fields.size(); ++i) {
        int role = -1;
        for (int c = 0; c < 4; ++c)
          if (fields[i] == kPathColumns[c]) role = c;
        NN_CHECK(!fields[i].empty(), name, ':', line_no, ": empty column name in header");
        NN_CHECK(fields[i] != "label", name, ':', line_no, ": a score file has no label column (is this a list?)");
        if (role < 0) {
          for (int v : view_columns)
            NN_CHECK(fields[v] != fields[i], name, ':', line_no, ": column '", fields[i], "' appears twice in header");
          view_columns.push_back(static_cast<int>(i));
          t.views.push_back(fields[i]);
          continue;
        }
        NN_CHECK(column_of[role] < 0, name, ':', line_no, ": column '", fields[i], "' appears twice in header");
        column_of[role] = static_cast<int>(i);
      }
      int known = 0;
      for (int c : column_of) known += c >= 0;
      t.has_paths = known > 0;
      NN_CHECK(known == 0 || known == 4, name, ':', line_no, ": header '", line,
               "' is neither ours (rgb,depth,ir,score,<views>) nor the original's (view columns only)");
      NN_CHECK(t.has_paths || !t.views.empty(), name, ':', line_no, ": header has no score columns");
      return;
    }
    NN_CHECK(fields.size() == num_columns, name, ':', line_no, ": expected ", num_columns, " columns, got ",
             fields.size());
    ScoreRow row;
    row.line = line_no;
    for (int c : view_columns) {
      double v = 0;
      const auto reason = parse_number(fields[c], v);
      NN_CHECK(!reason, name, ':', line_no, ": ", *reason, " in column '", t.views[row.view_scores.size()], "'");
      row.view_scores.push_back(v);
    }
    if (t.has_paths) {
      for (int c = 0; c < 3; ++c)
        NN_CHECK(!fields[column_of[c]].empty(), name, ':', line_no, ": empty ", kPathColumns[c], " path");
      row.rgb = std::move(fields[column_of[0]]);
      row.depth = std::move(fields[column_of[1]]);
      row.ir = std::move(fields[column_of[2]]);
      const auto reason = parse_number(fields[column_of[3]], row.score);
      NN_CHECK(!reason, name, ':', line_no, ": ", *reason, " in column 'score'");
      if (!row.view_scores.empty()) {
        const double m = mean(row.view_scores);
        NN_CHECK(std::abs(m - row.score) <= 1e-6, name, ':', line_no, ": score ", row.score,
                 " is not the mean of the views (", m, ")");
        row.score = m;
      }
    } else {
      row.score = mean(row.view_scores);
    }
    t.rows.push_back(std::move(row));
  });
  NN_CHECK(have_header, name, ": empty score file: no header (expected rgb,depth,ir,score,<views> or crop0,...)");
  return t;
}

ScoreTable read_scores(const std::string& path) { return parse_scores(read_text_file(path, "scores"), path); }

std::string format_scores(const ScoreTable& table) {
  std::ostringstream out;
  write_table(out, table);
  return out.str();
}

void write_scores(const std::string& path, const ScoreTable& table) {
  NN_CHECK(table.has_paths || !table.views.empty(), "write_scores: ", path, ": a table without paths needs views");
  nn::io::write_atomically(path, [&](std::ostream& out) { write_table(out, table); });
}

std::string format_submission(const ScoreTable& table) {
  std::ostringstream out;
  write_submission_rows(out, table);
  return out.str();
}

void write_submission(const std::string& path, const ScoreTable& table) {
  nn::io::write_atomically(path, [&](std::ostream& out) { write_submission_rows(out, table); });
}

double round6(double x) { return std::nearbyint(x * 1e6) / 1e6; }

std::string python_repr(double x) {
  NN_CHECK(std::isfinite(x), "python_repr: non-finite value");
  if (x == 0) return std::signbit(x) ? "-0.0" : "0.0";
  // Shortest round-trip digits in scientific form, then laid out by Python's float_repr_style rules.
  std::array<char, 40> buf;
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), x, std::chars_format::scientific);
  std::string_view s(buf.data(), static_cast<std::size_t>(r.ptr - buf.data()));
  std::string sign;
  if (s.front() == '-') sign = "-", s.remove_prefix(1);
  const std::size_t e = s.find('e');
  std::string digits;
  for (char c : s.substr(0, e))
    if (c != '.') digits += c;
  int exp = 0;
  std::from_chars(s.data() + e + 1 + (s[e + 1] == '+'), s.data() + s.size(), exp);
  if (exp < -4 || exp >= 16) {
    std::string m = digits.substr(0, 1);
    if (digits.size() > 1) m += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    return sign + m + eb;
  }
  if (exp < 0) return sign + "0." + std::string(static_cast<std::size_t>(-exp - 1), '0') + digits;
  const std::size_t int_digits = static_cast<std::size_t>(exp) + 1;
  if (digits.size() <= int_digits) return sign + digits + std::string(int_digits - digits.size(), '0') + ".0";
  return sign + digits.substr(0, int_digits) + "." + digits.substr(int_digits);
}

std::string path_key(std::string_view rgb, std::string_view depth, std::string_view ir, bool root_independent) {
  if (root_independent) {
    rgb = relative_to_split(rgb);
    depth = relative_to_split(depth);
    ir = relative_to_split(ir);
  }
  return nn::str(rgb, '\n', depth, '\n', ir);
}

std::vector<std::size_t> align_scores(const ScoreTable& table, const ListFile& list, bool root_independent) {
  const std::string& name = table.path.empty() ? std::string("scores") : table.path;
  std::vector<std::size_t> index(list.rows.size());
  if (!table.has_paths) {
    NN_CHECK(table.rows.size() == list.rows.size(), name, ": has ", table.rows.size(), " rows but list ", list.path,
             " has ", list.rows.size(), " (a score file without paths follows its list row by row)");
    for (std::size_t i = 0; i < index.size(); ++i) index[i] = i;
    return index;
  }
  std::unordered_map<std::string, std::size_t> row_of;
  row_of.reserve(table.rows.size());
  for (std::size_t i = 0; i < table.rows.size(); ++i) {
    const auto& r = table.rows[i];
    const bool fresh = row_of.emplace(path_key(r.rgb, r.depth, r.ir, root_independent), i).second;
    NN_CHECK(fresh, name, ':', r.line, ": sample ", r.rgb, " appears twice");
  }
  std::vector<char> used(table.rows.size(), 0);
  for (std::size_t i = 0; i < list.rows.size(); ++i) {
    const auto& l = list.rows[i];
    const auto it = row_of.find(path_key(l.rgb, l.depth, l.ir, root_independent));
    NN_CHECK(it != row_of.end(), name, ": no score for ", l.rgb, " (", list.path, ':', l.line, ")",
             root_independent ? "" : "; --root-independent ignores the folders above Training/, Val/ and Test/");
    NN_CHECK(!used[it->second], list.path, ':', l.line, ": sample ", l.rgb, " appears twice in the list");
    used[it->second] = 1;
    index[i] = it->second;
  }
  for (std::size_t i = 0; i < used.size(); ++i)
    NN_CHECK(used[i], name, ':', table.rows[i].line, ": sample ", table.rows[i].rgb, " is not in list ", list.path);
  return index;
}

}  // namespace infer
