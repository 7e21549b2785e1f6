#include "train/predict.h"

#include "infer/scores.h"
#include "infer/transforms.h"
#include "infer/weights.h"
#include "libnn/core/check.h"
#include "train/data/loader.h"
#include "train/evaluate.h"
#include "train/model_file.h"
#include "weights_import/load_weights.h"

namespace hardtune {

void run_predict(const PredictOptions& o, std::ostream& log) {
  NN_CHECK(!o.weights.empty() && !o.list.empty() && !o.out.empty(), "predict: needs --weights, --list and --out");
  NN_CHECK(o.batch > 0, "predict: batch must be positive");
  const weights_import::WeightsFile file = weights_import::read_weights_file(o.weights);
  ModelFileInfo info = parse_model_file_metadata(file.metadata, o.weights);
  if (!o.model.empty()) info.model = o.model;
  NN_CHECK(!info.model.empty(), o.weights, ": the file does not name its model; pass --model NAME");
  if (!o.normalization.empty()) info.normalization = o.normalization;
  if (info.normalization.empty()) info.normalization = infer::Normalization::default_for_model(info.model);

  auto net = models::build_model(info.model, info.options);
  infer::load_weights_into(*net, file, o.weights, o.map, true);  // strict: any key problem throws
  const data::TripletDataset dataset(o.list, o.root, {.on_bad = o.on_bad, .allow_size_mismatch = o.allow_size_mismatch});
  data::Loader loader(dataset, {.batch_size = o.batch, .shuffle = false, .drop_last = false, .workers = o.workers,
                                .views = infer::tta_views(o.tta), .norm = infer::Normalization::named(info.normalization)});
  log << "predict: " << info.model << " from " << o.weights << ", " << dataset.size()
      << " rows of " << o.list << ", views " << (o.tta.empty() ? "crop0" : o.tta) << ", normalization "
      << info.normalization << "\n";
  const ScoredRows scored = score_dataset(*net, loader, 0, o.quiet ? "" : "predict");

  infer::ScoreTable table;
  table.has_paths = true;
  table.views = scored.views;
  for (std::size_t i = 0; i < scored.rows.size(); ++i) {
    const infer::ListRow& r = dataset.row(scored.rows[i]);
    table.rows.push_back({r.rgb, r.depth, r.ir, scored.score(i), scored.scores[i], 0});
  }
  infer::write_scores(o.out, table);
  log << "wrote " << o.out << " (" << table.rows.size() << " rows)";
  if (scored.labelled > 0) log << "; on the list's labels: loss " << scored.loss << ", accuracy " << scored.accuracy;
  log << "\n";
  if (!o.submission.empty()) {
    infer::write_submission(o.submission, table);
    log << "wrote " << o.submission << " (submission format)\n";
  }
  if (const auto skipped = loader.skipped(); !skipped.empty())
    log << "predict: " << data::skip_summary(skipped, dataset.size() + static_cast<long>(dataset.skipped_lines().size()))
        << "\n";
}

}  // namespace hardtune
