// The CSV dialect of the reference's files (lists, score tables): read whole files (plain or gzip), walk
// their lines, split and quote fields. Shared by lists.cpp and scores.cpp so both accept the same input.
//
// Lines end with '\n' or "\r\n"; a UTF-8 BOM is dropped; blank lines are skipped (as pandas does). Fields
// may be RFC-4180 quoted ("a,b" and "" inside quotes); a quoted field cannot span lines.
#pragma once

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace infer {

// The whole file, gunzipped when it is gzip (zlib passes plain files through). `what` prefixes errors
// ("list", "scores").
std::string read_text_file(const std::string& path, std::string_view what);

// Calls fn(line_no, line) for every non-blank line (1-based numbers, without the line break), after
// dropping a leading BOM.
void for_each_csv_line(std::string_view text, const std::function<void(long, std::string_view)>& fn);

// Splits one line into fields. Returns the reason when the line is malformed (bad quotes), else nothing.
std::optional<std::string> split_csv_line(std::string_view line, std::vector<std::string>& fields);

// Writes s, quoted when it contains ',', '"' or a line break.
void write_csv_field(std::ostream& out, std::string_view s);

}  // namespace infer
