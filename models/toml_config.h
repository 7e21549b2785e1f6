// Strict, typed reading of TOML configuration tables, shared by the model registry's [model] table and
// the training config (train/config.h). A typo must never be silently ignored: every getter marks its key
// as known and finish() rejects whatever is left, naming the file and the dotted key; a value of the wrong
// type is an error naming the key and the expected type. Integers are accepted where a float is expected
// (T_max = 50), never the reverse.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <toml++/toml.h>

namespace models {

// Parses a TOML file; syntax errors name the file and line.
toml::table parse_toml_file(const std::string& path);
// The same for text already in memory; source names it in errors.
toml::table parse_toml_text(const std::string& text, const std::string& source);

class TomlReader {
 public:
  // source: the file, for messages; path: this table's dotted name ("" for the root, "model", "stage[1]").
  TomlReader(const toml::table& table, std::string source, std::string path = "");

  bool has(const std::string& key) const { return table_->contains(key); }

  std::optional<std::string> string(const std::string& key);
  std::optional<std::int64_t> integer(const std::string& key);
  std::optional<double> real(const std::string& key);  // a float or an integer
  std::optional<bool> boolean(const std::string& key);
  std::optional<std::vector<double>> reals(const std::string& key);  // an array of numbers

  std::string string(const std::string& key, const std::string& fallback) { return string(key).value_or(fallback); }
  std::int64_t integer(const std::string& key, std::int64_t fallback) { return integer(key).value_or(fallback); }
  double real(const std::string& key, double fallback) { return real(key).value_or(fallback); }
  bool boolean(const std::string& key, bool fallback) { return boolean(key).value_or(fallback); }
  // An integer in [lo, hi].
  std::int64_t integer_in(const std::string& key, std::int64_t fallback, std::int64_t lo, std::int64_t hi);
  // A string among choices (the error lists them).
  std::string choice(const std::string& key, const std::string& fallback, const std::vector<std::string>& choices);

  // A sub-table (absent: nullopt) and an array of tables ([[stage]]; absent: empty).
  std::optional<TomlReader> table(const std::string& key);
  std::vector<TomlReader> tables(const std::string& key);

  // Throws if the table has a key no getter asked for.
  void finish() const;

  // "<source>: key <dotted key>: " for messages about a value that parsed but makes no sense.
  std::string where(const std::string& key) const;

 private:
  const toml::node* node(const std::string& key);
  [[noreturn]] void type_error(const std::string& key, const std::string& expected, const toml::node& got) const;

  const toml::table* table_;
  std::string source_, path_;
  std::set<std::string> used_;
};

}  // namespace models
