#include "models/toml_config.h"

#include <functional>

#include "libnn/core/check.h"

namespace models {

namespace {

const char* type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    default: return "a date/time";
  }
}

toml::table parse_or_throw(const std::string& source, const std::function<toml::table()>& parse) {
  try {
    return parse();
  } catch (const toml::parse_error& e) {
    throw nn::Error(nn::str(source, ": ", e.description(), " (line ", e.source().begin.line, ")"));
  }
}

}  // namespace

toml::table parse_toml_file(const std::string& path) {
  return parse_or_throw(path, [&] { return toml::parse_file(path); });
}

toml::table parse_toml_text(const std::string& text, const std::string& source) {
  return parse_or_throw(source, [&] { return toml::parse(text, source); });
}

TomlReader::TomlReader(const toml::table& table, std::string source, std::string path)
    : table_(&table), source_(std::move(source)), path_(std::move(path)) {}

std::string TomlReader::where(const std::string& key) const {
  return nn::str(source_, ": key ", path_.empty() ? key : path_ + "." + key, ": ");
}

const toml::node* TomlReader::node(const std::string& key) {
  used_.insert(key);
  return table_->get(key);
}

void TomlReader::type_error(const std::string& key, const std::string& expected, const toml::node& got) const {
  throw nn::Error(nn::str(where(key), "expected ", expected, ", got ", type_name(got)));
}

std::optional<std::string> TomlReader::string(const std::string& key) {
  const toml::node* n = node(key);
  if (!n) return std::nullopt;
  if (!n->is_string()) type_error(key, "a string", *n);
  return n->as_string()->get();
}

std::optional<std::int64_t> TomlReader::integer(const std::string& key) {
  const toml::node* n = node(key);
  if (!n) return std::nullopt;
  if (!n->is_integer()) type_error(key, "an integer", *n);
  return n->as_integer()->get();
}

std::optional<double> TomlReader::real(const std::string& key) {
  const toml::node* n = node(key);
  if (!n) return std::nullopt;
  if (n->is_integer()) return static_cast<double>(n->as_integer()->get());
  if (!n->is_floating_point()) type_error(key, "a number", *n);
  return n->as_floating_point()->get();
}

std::optional<bool> TomlReader::boolean(const std::string& key) {
  const toml::node* n = node(key);
  if (!n) return std::nullopt;
  if (!n->is_boolean()) type_error(key, "a boolean (true or false)", *n);
  return n->as_boolean()->get();
}

std::optional<std::vector<double>> TomlReader::reals(const std::string& key) {
  const toml::node* n = node(key);
  if (!n) return std::nullopt;
  if (!n->is_array()) type_error(key, "an array of numbers", *n);
  std::vector<double> out;
  for (const toml::node& v : *n->as_array()) {
    if (v.is_integer()) out.push_back(static_cast<double>(v.as_integer()->get()));
    else if (v.is_floating_point()) out.push_back(v.as_floating_point()->get());
    else type_error(key, "an array of numbers", v);
  }
  return out;
}

std::int64_t TomlReader::integer_in(const std::string& key, std::int64_t fallback, std::int64_t lo, std::int64_t hi) {
  const std::int64_t v = integer(key, fallback);
  NN_CHECK(v >= lo && v <= hi, where(key), v, " is out of range [", lo, ", ", hi, "]");
  return v;
}

std::string TomlReader::choice(const std::string& key, const std::string& fallback,
                               const std::vector<std::string>& choices) {
  const std::string v = string(key, fallback);
  std::string known;
  for (const std::string& c : choices) {
    if (v == c) return v;
    known += (known.empty() ? "" : " | ") + c;
  }
  throw nn::Error(nn::str(where(key), "\"", v, "\" is not one of ", known));
}

std::optional<TomlReader> TomlReader::table(const std::string& key) {
  const toml::node* n = node(key);
  if (!n) return std::nullopt;
  if (!n->is_table()) type_error(key, "a table", *n);
  return TomlReader(*n->as_table(), source_, path_.empty() ? "[" + key + "]" : path_ + "." + key);
}

std::vector<TomlReader> TomlReader::tables(const std::string& key) {
  const toml::node* n = node(key);
  if (!n) return {};
  if (!n->is_array_of_tables()) type_error(key, "an array of tables ([[" + key + "]] sections)", *n);
  std::vector<TomlReader> out;
  for (const toml::node& t : *n->as_array())
    out.emplace_back(*t.as_table(), source_, nn::str("[[", key, "]][", out.size(), "]"));
  return out;
}

void TomlReader::finish() const {
  for (const auto& [key, value] : *table_) {
    const std::string k(key.str());
    if (!used_.count(k))
      throw nn::Error(nn::str(source_, ": unknown key ", path_.empty() ? k : path_ + "." + k, " (line ",
                              value.source().begin.line, "; see configs/README.md)"));
  }
}

}  // namespace models
