// CASIA-SURF list files (REFERENCE.md §4.1): reading and writing the reference's CSV format.
//
// A list is a header naming the columns `rgb`, `depth`, `ir` and optionally `label` (in any order), then one
// sample per line. label 1 = real (live), 0 = fake (attack); a list without a `label` column gives -1.
// Files may be gzip-compressed (zlib reads plain files unchanged). A UTF-8 BOM and CRLF line endings are
// accepted; blank lines are ignored (as pandas does). Fields may be RFC-4180 quoted ("a,b" and "" inside
// quotes); a quoted field cannot span lines. Paths are kept exactly as written, relative to a data root.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace infer {

struct ListRow {
  std::string rgb, depth, ir;
  int label = -1;  // 1 real, 0 fake, -1 no label column
  long line = 0;   // 1-based line in the source file (0 for rows built in memory)
};

// What to do with a sample line that cannot be parsed (wrong column count, empty path, bad label, bad
// quotes). File-level problems (unreadable file, missing or bad header) always throw.
enum class OnBadSample { fail, skip };

struct BadLine {
  std::string file;
  long line = 0;
  std::string reason;
  std::string where() const;  // "file:line: reason"
};

struct ListFile {
  std::string path;
  bool has_label = false;
  std::vector<ListRow> rows;
  std::vector<BadLine> skipped;  // only with OnBadSample::skip
};

// Reads a list file (plain or .gz). With OnBadSample::fail the first bad line throws an nn::Error
// "<path>:<line>: <reason>"; with skip, bad lines are left out and recorded in ListFile::skipped.
ListFile read_list(const std::string& path, OnBadSample on_bad = OnBadSample::fail);
// The same on text already in memory; `name` stands for the file in messages.
ListFile parse_list(std::string_view text, const std::string& name, OnBadSample on_bad = OnBadSample::fail);

// Writes rows in the reference format (header rgb,depth,ir,label; label omitted when with_label is false),
// atomically. A path containing ',', '"' or a line break is quoted (the reference's lists never need it).
void write_list(const std::string& path, const std::vector<ListRow>& rows, bool with_label = true);
std::string format_list(const std::vector<ListRow>& rows, bool with_label = true);

// The reference's path rule: data_root + relative, a plain string concatenation, so "data" + "train/x.jpg"
// gives "datatrain/x.jpg"; the reference's roots end with '/'. Kept for bit-compatible behaviour.
std::string concat_path(std::string_view root, std::string_view relative);
// The join the CLI uses: inserts one '/' when the root does not end with one (an empty root leaves the
// path as is); a relative path starting with '/' is returned unchanged, as std::filesystem's operator/.
std::string join_path(std::string_view root, std::string_view relative);

}  // namespace infer
