// The list reader and writer (lists.h). Whole files are read into memory (the largest list is 4 MB) and
// parsed with string_views; only the kept fields are copied.
#include "infer/data/lists.h"

#include <algorithm>
#include <array>
#include <optional>
#include <sstream>

#include "infer/data/csv.h"
#include "libnn/core/check.h"
#include "libnn/io/atomic_file.h"

namespace infer {
namespace {

constexpr std::array<std::string_view, 4> kColumns = {"rgb", "depth", "ir", "label"};
constexpr int kLabelColumn = 3;

// Maps header names to column roles; column_of[role] is the field index, or -1 when absent.
std::array<int, 4> parse_header(const std::vector<std::string>& names, const std::string& where,
                                std::string_view line) {
  std::array<int, 4> column_of = {-1, -1, -1, -1};
  bool any_known = false;
  for (const auto& n : names)
    for (auto c : kColumns) any_known |= n == c;
  NN_CHECK(any_known, where, ": missing header: expected columns rgb,depth,ir[,label], got '", line, "'");
  for (std::size_t i = 0; i < names.size(); ++i) {
    int role = -1;
    for (int c = 0; c < 4; ++c)
      if (names[i] == kColumns[c]) role = c;
    NN_CHECK(role >= 0, where, ": unknown column '", names[i], "' in header (expected rgb,depth,ir[,label])");
    NN_CHECK(column_of[role] < 0, where, ": column '", names[i], "' appears twice in header");
    column_of[role] = static_cast<int>(i);
  }
  for (int c = 0; c < 3; ++c)
    NN_CHECK(column_of[c] >= 0, where, ": header lacks column '", kColumns[c], "' (expected rgb,depth,ir[,label])");
  return column_of;
}

// Fills row from fields, or returns the reason the line is bad.
std::optional<std::string> make_row(std::vector<std::string>& fields, const std::array<int, 4>& column_of,
                                    std::size_t num_columns, ListRow& row) {
  if (fields.size() != num_columns) return nn::str("expected ", num_columns, " columns, got ", fields.size());
  for (int c = 0; c < 3; ++c)
    if (fields[column_of[c]].empty()) return nn::str("empty ", kColumns[c], " path");
  row.rgb = std::move(fields[column_of[0]]);
  row.depth = std::move(fields[column_of[1]]);
  row.ir = std::move(fields[column_of[2]]);
  row.label = -1;
  if (column_of[kLabelColumn] >= 0) {
    const std::string& l = fields[column_of[kLabelColumn]];
    if (l != "0" && l != "1") return nn::str("bad label '", l, "' (expected 0 = fake or 1 = real)");
    row.label = l[0] - '0';
  }
  return std::nullopt;
}

void write_rows(std::ostream& out, const std::vector<ListRow>& rows, bool with_label) {
  out << (with_label ? "rgb,depth,ir,label\n" : "rgb,depth,ir\n");
  for (const auto& r : rows) {
    write_csv_field(out, r.rgb);
    out << ',';
    write_csv_field(out, r.depth);
    out << ',';
    write_csv_field(out, r.ir);
    if (with_label) {
      NN_CHECK(r.label == 0 || r.label == 1, "write_list: row ", r.rgb, " has no label (", r.label, ")");
      out << ',' << r.label;
    }
    out << '\n';
  }
}

}  // namespace

std::string BadLine::where() const { return nn::str(file, ':', line, ": ", reason); }

ListFile parse_list(std::string_view text, const std::string& name, OnBadSample on_bad) {
  ListFile list;
  list.path = name;
  std::vector<std::string> fields;
  std::array<int, 4> column_of{};
  std::size_t num_columns = 0;
  bool have_header = false;
  for_each_csv_line(text, [&](long line_no, std::string_view line) {
    const auto bad = split_csv_line(line, fields);
    if (!have_header) {
      NN_CHECK(!bad, name, ':', line_no, ": bad header: ", *bad);
      column_of = parse_header(fields, nn::str(name, ':', line_no), line);
      num_columns = fields.size();
      list.has_label = column_of[kLabelColumn] >= 0;
      have_header = true;
      return;
    }
    ListRow row;
    row.line = line_no;
    auto reason = bad ? bad : make_row(fields, column_of, num_columns, row);
    if (!reason) {
      list.rows.push_back(std::move(row));
      return;
    }
    BadLine b{name, line_no, std::move(*reason)};
    NN_CHECK(on_bad == OnBadSample::skip, b.where());
    list.skipped.push_back(std::move(b));
  });
  NN_CHECK(have_header, name, ": empty list: no header (expected rgb,depth,ir[,label])");
  return list;
}

ListFile read_list(const std::string& path, OnBadSample on_bad) {
  return parse_list(read_text_file(path, "list"), path, on_bad);
}

std::string format_list(const std::vector<ListRow>& rows, bool with_label) {
  std::ostringstream out;
  write_rows(out, rows, with_label);
  return out.str();
}

void write_list(const std::string& path, const std::vector<ListRow>& rows, bool with_label) {
  nn::io::write_atomically(path, [&](std::ostream& out) { write_rows(out, rows, with_label); });
}

std::string concat_path(std::string_view root, std::string_view relative) {
  std::string s(root);
  s += relative;
  return s;
}

std::string join_path(std::string_view root, std::string_view relative) {
  if (root.empty() || relative.starts_with('/')) return std::string(relative);
  std::string s(root);
  if (!s.ends_with('/')) s += '/';
  s += relative;
  return s;
}

}  // namespace infer
