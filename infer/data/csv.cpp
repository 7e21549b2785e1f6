// CSV reading and quoting (csv.h).
#include "infer/data/csv.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "libnn/core/check.h"

namespace infer {

// gzread passes non-gzip input through unchanged, so one path reads both plain and .gz files.
std::string read_text_file(const std::string& path, std::string_view what) {
  gzFile f = gzopen(path.c_str(), "rb");
  NN_CHECK(f != nullptr, what, ": cannot open ", path, ": ", errno ? std::strerror(errno) : "out of memory");
  gzbuffer(f, 1 << 17);
  std::string text;
  std::array<char, 1 << 16> buf;
  for (;;) {
    const int n = gzread(f, buf.data(), static_cast<unsigned>(buf.size()));
    // A cut-off .gz is not a short read: gzread returns what it decoded, then 0, and records the error.
    int code = Z_OK;
    const char* msg = gzerror(f, &code);
    if (n < 0 || code != Z_OK) {
      const std::string reason = msg;
      gzclose(f);
      throw nn::Error(nn::str(what, ": cannot read ", path, ": ", reason));
    }
    if (n == 0) break;
    text.append(buf.data(), static_cast<std::size_t>(n));
  }
  gzclose(f);
  return text;
}

void for_each_csv_line(std::string_view text, const std::function<void(long, std::string_view)>& fn) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  long line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t nl = std::min(text.find('\n', pos), text.size());
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (!line.empty()) fn(line_no, line);
  }
}

// Unquoted fields are taken verbatim; a field that starts with '"' runs to the matching '"' ("" is a
// literal quote) and must be followed by ',' or the end of the line.
std::optional<std::string> split_csv_line(std::string_view line, std::vector<std::string>& fields) {
  fields.clear();
  std::size_t i = 0;
  for (;;) {
    std::string& f = fields.emplace_back();
    if (i < line.size() && line[i] == '"') {
      const std::size_t open = i++;
      for (;;) {
        if (i >= line.size()) return nn::str("unterminated quote in field ", fields.size(), " (column ", open + 1, ")");
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            f.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        f.push_back(line[i++]);
      }
      if (i < line.size() && line[i] != ',')
        return nn::str("text after the closing quote of field ", fields.size(), " (column ", i + 1, ")");
    } else {
      const std::size_t end = std::min(line.find(',', i), line.size());
      const std::string_view raw = line.substr(i, end - i);
      if (raw.find('"') != std::string_view::npos) return nn::str("stray quote in unquoted field ", fields.size());
      f.assign(raw);
      i = end;
    }
    if (i >= line.size()) return std::nullopt;
    ++i;  // the comma
  }
}

void write_csv_field(std::ostream& out, std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) {
    out << s;
    return;
  }
  out << '"';
  for (char ch : s) {
    if (ch == '"') out << '"';
    out << ch;
  }
  out << '"';
}

}  // namespace infer
