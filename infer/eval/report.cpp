// Tables, JSON, CSV and HTML of evaluation results (report.h).
#include "infer/eval/report.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "infer/eval/plot.h"
#include "libnn/core/check.h"

namespace infer::eval {
namespace {

std::string fmt(double v, const char* spec = "%.6g") {
  if (std::isnan(v)) return "nan";
  char buf[64];
  std::snprintf(buf, sizeof buf, spec, v);
  return buf;
}


std::string csv_quote(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + "\"";
}

// The species present in any result, in name order.
std::vector<std::string> all_species(const std::vector<EvalResult>& results) {
  std::set<std::string> names;
  for (const auto& r : results)
    for (const auto& s : r.metrics.species) names.insert(s.species);
  return {names.begin(), names.end()};
}

const SpeciesRate* find_species(const Metrics& m, const std::string& name) {
  for (const auto& s : m.species)
    if (s.species == name) return &s;
  return nullptr;
}

constexpr const char* kTableColumns[] = {"acer", "apcer", "bpcer", "tpr@1e-2", "tpr@1e-3", "tpr@1e-4", "auc", "eer"};

}  // namespace

std::string metrics_table(const std::vector<EvalResult>& results) {
  std::size_t width = 10;
  for (const auto& r : results) width = std::max(width, std::filesystem::path(r.name).filename().string().size());
  std::ostringstream o;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%-*s %7s %6s", static_cast<int>(width), "scores", "reals", "fakes");
  o << buf;
  for (const char* c : kTableColumns) std::snprintf(buf, sizeof buf, " %9s", c), o << buf;
  o << "  worst PAI\n";
  for (const auto& r : results) {
    const auto& m = r.metrics;
    std::snprintf(buf, sizeof buf, "%-*s %7ld %6ld", static_cast<int>(width),
                  std::filesystem::path(r.name).filename().string().c_str(), m.reals, m.fakes);
    o << buf;
    const auto values = scalar_metrics(m);
    for (const char* c : kTableColumns)
      for (const auto& [name, v] : values)
        if (name == c) o << ' ' << std::string(9 - std::min<std::size_t>(9, fmt(v, "%.5f").size()), ' ') << fmt(v, "%.5f");
    o << "  " << (m.species.empty() ? "-" : m.worst_species + " " + fmt(m.worst_apcer, "%.5f")) << "\n";
  }
  return o.str();
}

std::string species_table(const std::vector<EvalResult>& results) {
  const auto names = all_species(results);
  if (names.empty()) return "";
  std::ostringstream o;
  char buf[96];
  std::snprintf(buf, sizeof buf, "%-10s", "APCER");
  o << buf;
  for (std::size_t k = 0; k < results.size(); ++k) std::snprintf(buf, sizeof buf, " %20s", nn::str('#', k + 1).c_str()), o << buf;
  o << "\n";
  for (const auto& name : names) {
    std::snprintf(buf, sizeof buf, "%-10s", name.c_str());
    o << buf;
    for (const auto& r : results) {
      const SpeciesRate* s = find_species(r.metrics, name);
      const std::string cell = s ? nn::str(fmt(s->apcer, "%.5f"), " (", s->accepted, "/", s->fakes, ")") : "-";
      std::snprintf(buf, sizeof buf, " %20s", cell.c_str());
      o << buf;
    }
    o << "\n";
  }
  return o.str();
}

std::string metrics_json(const std::vector<EvalResult>& results, const EvalContext& c) {
  nlohmann::ordered_json j;
  j["list"] = c.list;
  j["threshold"] = c.threshold;
  j["bootstrap"] = {{"resamples", c.bootstrap}, {"level", c.level}, {"seed", c.seed}, {"stratified", "by class"}};
  j["results"] = nlohmann::ordered_json::array();
  for (const auto& r : results) {
    nlohmann::ordered_json e;
    e["scores"] = r.name;
    e["reals"] = r.metrics.reals;
    e["fakes"] = r.metrics.fakes;
    const auto values = scalar_metrics(r.metrics);
    for (std::size_t k = 0; k < values.size(); ++k) {
      e["metrics"][values[k].first] = values[k].second;
      if (!r.intervals.empty()) e["intervals"][values[k].first] = {r.intervals[k].low, r.intervals[k].high};
    }
    e["eer_threshold"] = r.metrics.eer.threshold;
    e["apcer_at_eer"] = r.metrics.at_eer.apcer;
    e["bpcer_at_eer"] = r.metrics.at_eer.bpcer;
    if (!r.metrics.species.empty()) {
      e["worst_species"] = r.metrics.worst_species;
      for (const auto& s : r.metrics.species)
        e["species"][s.species] = {{"fakes", s.fakes}, {"accepted", s.accepted}, {"apcer", s.apcer}};
    }
    j["results"].push_back(std::move(e));
  }
  return j.dump(2) + "\n";
}

std::string metrics_csv(const std::vector<EvalResult>& results) {
  std::ostringstream o;
  o << "scores,metric,value,low,high\n";
  for (const auto& r : results) {
    const auto values = scalar_metrics(r.metrics);
    for (std::size_t k = 0; k < values.size(); ++k) {
      o << csv_quote(r.name) << ',' << values[k].first << ',' << fmt(values[k].second, "%.17g");
      if (r.intervals.empty()) o << ",,\n";
      else o << ',' << fmt(r.intervals[k].low, "%.17g") << ',' << fmt(r.intervals[k].high, "%.17g") << '\n';
    }
    for (const auto& s : r.metrics.species)
      o << csv_quote(r.name) << ",apcer[" << s.species << "]," << fmt(s.apcer, "%.17g") << ",,\n";
  }
  return o.str();
}

std::string report_html(const std::vector<EvalResult>& results, const EvalContext& c, const std::string& roc_svg,
                        const std::string& det_svg) {
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>hardtune eval</title>\n<style>"
       "body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;margin:1em 0}"
       "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f4f4f4}td.l{text-align:left}"
       "small{color:#666}.charts{display:flex;flex-wrap:wrap;gap:1em}</style></head><body>\n";
  o << "<h1>hardtune eval</h1>\n<p>List <code>" << xml_escape(c.list) << "</code>; a sample is accepted as real iff "
    << "score &ge; " << fmt(c.threshold) << ". ";
  if (c.bootstrap > 0)
    o << "Brackets: " << fmt(c.level * 100, "%.0f") << " % percentile intervals from " << c.bootstrap
      << " bootstrap resamples stratified by class (seed " << c.seed << ").";
  o << "</p>\n<table><tr><th>#</th><th>scores</th><th>reals</th><th>fakes</th>";
  const auto header = results.empty() ? std::vector<std::pair<std::string, double>>{} : scalar_metrics(results[0].metrics);
  for (const auto& [name, v] : header) o << "<th>" << xml_escape(name) << "</th>";
  o << "</tr>\n";
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    o << "<tr><td>" << i + 1 << "</td><td class=\"l\">" << xml_escape(r.name) << "</td><td>" << r.metrics.reals
      << "</td><td>" << r.metrics.fakes << "</td>";
    const auto values = scalar_metrics(r.metrics);
    for (std::size_t k = 0; k < values.size() && k < header.size(); ++k) {
      o << "<td>" << fmt(values[k].second, "%.5f");
      if (!r.intervals.empty())
        o << "<br><small>[" << fmt(r.intervals[k].low, "%.5f") << ", " << fmt(r.intervals[k].high, "%.5f") << "]</small>";
      o << "</td>";
    }
    o << "</tr>\n";
  }
  o << "</table>\n";
  const auto names = all_species(results);
  if (!names.empty()) {
    o << "<h2>APCER per attack type (PAI species)</h2>\n<table><tr><th>species</th>";
    for (std::size_t i = 0; i < results.size(); ++i) o << "<th>#" << i + 1 << "</th>";
    o << "</tr>\n";
    for (const auto& name : names) {
      o << "<tr><td class=\"l\">" << xml_escape(name) << "</td>";
      for (const auto& r : results) {
        const SpeciesRate* s = find_species(r.metrics, name);
        o << "<td>" << (s ? nn::str(fmt(s->apcer, "%.5f"), " <small>(", s->accepted, "/", s->fakes, ")</small>") : "-")
          << "</td>";
      }
      o << "</tr>\n";
    }
    o << "</table>\n";
  }
  o << "<div class=\"charts\">\n" << roc_svg << det_svg << "</div>\n";
  o << "<h2>Definitions</h2>\n<ul>"
       "<li>APCER: fakes accepted / fakes; BPCER: reals rejected / reals; ACER: their mean (ISO/IEC 30107-3). "
       "The worst species' APCER is the system's APCER in the ISO sense.</li>"
       "<li>TPR@FPR=f: the TPR of the last point with FPR &le; f of sklearn's roc_curve (the original "
       "implementation's get_tpr); 0 if none.</li>"
       "<li>EER: FPR and FNR interpolated linearly to their crossing on the full ROC; ACER@EER is the ACER at the "
       "score threshold of the first ROC point where FPR &ge; FNR.</li>"
       "<li>AUC: trapezoids on the ROC (ties count one half).</li></ul>\n</body></html>\n";
  return o.str();
}

}  // namespace infer::eval
