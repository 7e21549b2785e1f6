// `hardtune eval` (eval.h): read, align, compute, write.
#include "infer/eval/eval.h"

#include <filesystem>
#include <fstream>

#include "infer/data/csv.h"
#include "infer/data/samples.h"
#include "infer/eval/plot.h"
#include "infer/scores.h"
#include "libnn/core/check.h"
#include "libnn/io/atomic_file.h"

namespace fs = std::filesystem;

namespace infer::eval {
namespace {

void write_text(const fs::path& path, const std::string& text) {
  nn::io::write_atomically(path.string(), [&](std::ostream& o) { o << text; });
}

}  // namespace

std::unordered_map<std::string, std::string> read_attack_meta(const std::string& path, bool root_independent) {
  std::unordered_map<std::string, std::string> meta;
  int rgb = -1, type = -1;
  std::size_t columns = 0;
  std::vector<std::string> fields;
  for_each_csv_line(read_text_file(path, "meta"), [&](long line_no, std::string_view line) {
    const auto bad = split_csv_line(line, fields);
    NN_CHECK(!bad, path, ':', line_no, ": ", *bad);
    if (columns == 0) {
      columns = fields.size();
      for (std::size_t i = 0; i < fields.size(); ++i) {
        if (fields[i] == "rgb") rgb = static_cast<int>(i);
        if (fields[i] == "type") type = static_cast<int>(i);
      }
      NN_CHECK(rgb >= 0 && type >= 0, path, ':', line_no, ": header lacks the columns rgb and type");
      return;
    }
    NN_CHECK(fields.size() == columns, path, ':', line_no, ": expected ", columns, " columns, got ", fields.size());
    NN_CHECK(parse_attack(fields[type]) != AttackType::unknown, path, ':', line_no, ": unknown attack type '",
             fields[type], "'");
    // Only rgb paths are in the meta file: key on the rgb path alone.
    meta[path_key(fields[rgb], "", "", root_independent)] = fields[type];
  });
  NN_CHECK(columns > 0, path, ": empty meta file");
  return meta;
}

std::vector<std::string> species_of(const ListFile& list, const std::unordered_map<std::string, std::string>& meta,
                                    bool root_independent) {
  std::vector<std::string> species(list.rows.size());
  bool any = false;
  for (std::size_t i = 0; i < list.rows.size(); ++i) {
    const auto& r = list.rows[i];
    if (r.label != 0) continue;
    const AttackType t = parse_sample_path(r.rgb).attack;
    if (t != AttackType::unknown && t != AttackType::real) {
      species[i] = std::string(attack_code(t));
    } else if (const auto it = meta.find(path_key(r.rgb, "", "", root_independent)); it != meta.end()) {
      species[i] = it->second;
    }
    any |= !species[i].empty();
  }
  if (!any) species.clear();
  return species;
}

std::vector<EvalResult> run_eval(const EvalOptions& o, std::ostream& out) {
  NN_CHECK(!o.scores.empty(), "eval: no score files (--scores)");
  NN_CHECK(!o.list.empty(), "eval: no list (--list)");
  NN_CHECK(o.bootstrap >= 0, "eval: --bootstrap must be >= 0");
  const ListFile list = read_list(o.list);
  NN_CHECK(list.has_label, o.list, ": the list has no label column; eval needs labels");
  std::vector<int> labels;
  for (const auto& r : list.rows) labels.push_back(r.label);
  const auto species = species_of(list, o.meta.empty() ? std::unordered_map<std::string, std::string>{}
                                                       : read_attack_meta(o.meta, o.root_independent),
                                  o.root_independent);

  std::vector<EvalResult> results;
  for (const auto& path : o.scores) {
    const ScoreTable table = read_scores(path);
    const auto index = align_scores(table, list, o.root_independent);
    std::vector<double> scores;
    for (std::size_t i : index) scores.push_back(table.rows[i].score);
    EvalResult r;
    r.name = path;
    r.metrics = compute_metrics(scores, labels, species, o.threshold);
    if (o.bootstrap > 0) r.intervals = bootstrap_intervals(scores, labels, species, o.threshold, {o.bootstrap, 0.95, o.seed});
    r.roc = roc_curve(scores, labels, false);
    results.push_back(std::move(r));
  }

  out << metrics_table(results);
  const std::string by_species = species_table(results);
  if (!by_species.empty()) out << "\n" << by_species;
  if (o.out.empty()) return results;

  const fs::path dir(o.out);
  fs::create_directories(dir);
  const EvalContext context{o.list, o.threshold, o.bootstrap, 0.95, o.seed};
  std::vector<std::string> names;
  std::vector<RocCurve> curves;
  for (std::size_t i = 0; i < results.size(); ++i) {
    names.push_back(nn::str('#', i + 1, ' ', fs::path(results[i].name).filename().string()));
    curves.push_back(results[i].roc);
  }
  const Chart roc = roc_chart(names, curves), det = det_chart(names, curves);
  const std::string roc_svg = chart_svg(roc), det_svg = chart_svg(det);
  write_text(dir / "metrics.json", metrics_json(results, context));
  write_text(dir / "metrics.csv", metrics_csv(results));
  write_text(dir / "roc.svg", roc_svg);
  write_text(dir / "det.svg", det_svg);
  write_chart_png((dir / "roc.png").string(), roc);
  write_chart_png((dir / "det.png").string(), det);
  write_text(dir / "report.html", report_html(results, context, roc_svg, det_svg));
  out << "eval: wrote " << (dir / "report.html").string() << ", metrics.json, metrics.csv, roc/det .svg and .png\n";
  return results;
}

}  // namespace infer::eval
