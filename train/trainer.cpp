#include "train/trainer.h"

#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "infer/eval/metrics.h"
#include "infer/weights.h"
#include "libnn/autograd/grad_mode.h"
#include "libnn/core/check.h"
#include "libnn/io/atomic_file.h"
#include "libnn/nn/state_dict.h"
#include "libnn/ops/loss.h"
#include "models/registry.h"
#include "train/data/loader.h"
#include "train/evaluate.h"
#include "train/progress.h"

namespace hardtune {

namespace fs = std::filesystem;

namespace {

constexpr const char* kCsvHeader =
    "epoch,stage,lr,train_loss,train_accuracy,triplets_per_second,val_loss,val_accuracy,val_acer,val_tpr_1e-2,"
    "val_tpr_1e-3,val_tpr_1e-4,skipped";

std::string csv_line(const EpochRecord& r) {
  char buf[512];
  std::snprintf(buf, sizeof buf, "%d,%d,%.9g,%.9g,%.9g,%.4g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%ld", r.epoch, r.stage, r.lr,
                r.train_loss, r.train_accuracy, r.triplets_per_second, r.val_loss, r.val_accuracy, r.val_acer,
                r.val_tpr_1e2, r.val_tpr_1e3, r.val_tpr_1e4, r.skipped);
  return buf;
}

EpochRecord parse_csv_line(const std::string& line, const std::string& source) {
  EpochRecord r;
  const int n = std::sscanf(line.c_str(), "%d,%d,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%ld", &r.epoch, &r.stage, &r.lr,
                            &r.train_loss, &r.train_accuracy, &r.triplets_per_second, &r.val_loss, &r.val_accuracy,
                            &r.val_acer, &r.val_tpr_1e2, &r.val_tpr_1e3, &r.val_tpr_1e4, &r.skipped);
  NN_CHECK(n == 13, source, ": corrupt epoch history line '", line, "'");
  return r;
}

std::string history_text(const std::vector<EpochRecord>& epochs) {
  std::string s = std::string(kCsvHeader) + "\n";
  for (const EpochRecord& r : epochs) s += csv_line(r) + "\n";
  return s;
}

void write_text(const std::string& path, const std::string& text) {
  nn::io::write_atomically(path, [&](std::ostream& out) { out << text; });
}

// The stage epoch `epoch` belongs to, and the first epoch of that stage.
std::pair<int, int> stage_of(const TrainConfig& c, int epoch) {
  int first = 0;
  for (std::size_t s = 0; s < c.stages.size(); ++s) {
    if (epoch < first + c.stages[s].epochs) return {static_cast<int>(s), first};
    first += c.stages[s].epochs;
  }
  NN_CHECK(false, "train: epoch ", epoch, " is past the last stage");
  return {};
}

// Everything but the head learns, unless frozen until freeze_epoch (REFERENCE.md §3.3 semantics).
void set_backbone_trainable(models::MultiModalNet& net, bool trainable) {
  const models::Head* head = net.head();
  for (auto& [name, p] : net.named_parameters())
    if (!name.starts_with("classifier.")) p.set_requires_grad(trainable);
  (void)head;
}

struct Validation {
  double loss = std::numeric_limits<double>::quiet_NaN(), accuracy = loss, acer = loss, tpr_1e2 = loss,
         tpr_1e3 = loss, tpr_1e4 = loss;
};

Validation validate(models::MultiModalNet& net, data::Loader& loader, bool quiet) {
  const ScoredRows scored = score_dataset(net, loader, 0, quiet ? "" : "  val");
  Validation v;
  if (scored.labelled == 0) return v;
  v.loss = scored.loss;
  v.accuracy = scored.accuracy;
  std::vector<double> scores;
  std::vector<int> labels;
  for (std::size_t i = 0; i < scored.rows.size(); ++i) {
    const int y = loader.dataset().row(scored.rows[i]).label;
    if (y != 0 && y != 1) continue;
    scores.push_back(scored.score(i));
    labels.push_back(y);
  }
  const bool both = std::ranges::count(labels, 1) > 0 && std::ranges::count(labels, 0) > 0;
  if (!both) return v;  // the rates need reals and fakes
  const infer::eval::Metrics m = infer::eval::compute_metrics(scores, labels);
  v.acer = m.at_threshold.acer;
  v.tpr_1e2 = m.tpr_1e2, v.tpr_1e3 = m.tpr_1e3, v.tpr_1e4 = m.tpr_1e4;
  return v;
}

}  // namespace

TrainResult train(const TrainConfig& config, const TrainRunOptions& run) {
  const TrainConfig& c = config;
  validate_config(c);
  fs::create_directories(c.out);
  const std::string ckpt_path = c.out + "/checkpoint.safetensors";
  const std::string canonical = canonical_config(c);

  // The net: seeded init, then pretrained weights through their key map.
  nn::manual_seed(c.seed);
  auto net = models::build_model(c.model.name, c.model.options);
  if (!c.pretrained.path.empty()) {
    const auto report = infer::load_weights_into(*net, c.pretrained.path, c.pretrained.map, c.pretrained.strict);
    if (!run.quiet) std::printf("train: pretrained %s via map %s: %s\n", c.pretrained.path.c_str(), c.pretrained.map.c_str(),
                                report.describe().c_str());
  }

  std::vector<nn::Tensor> trainable;
  for (auto& [name, p] : net->named_parameters())
    if (p.requires_grad()) trainable.push_back(p);
  auto optimizer = make_optimizer(c, trainable);
  auto scheduler = make_scheduler(c, *optimizer);

  const data::DatasetOptions dataset_options{.on_bad = c.data.on_bad_sample, .allow_size_mismatch = c.data.allow_size_mismatch};
  const data::TripletDataset train_set(c.data.train_list, c.data.root, dataset_options);
  std::unique_ptr<data::TripletDataset> val_set;
  if (!c.data.val_list.empty()) val_set = std::make_unique<data::TripletDataset>(c.data.val_list, c.data.root, dataset_options);

  TrainResult result;
  int start_epoch = 0;
  double best_loss = std::numeric_limits<double>::infinity();
  if (run.resume && fs::exists(ckpt_path)) {
    const auto file = nn::io::load_safetensors(ckpt_path);
    const auto meta = [&](const char* key) -> const std::string& {
      const auto it = file.metadata.find(key);
      NN_CHECK(it != file.metadata.end(), ckpt_path, ": not a hardtune training checkpoint (no '", key, "')");
      return it->second;
    };
    NN_CHECK(meta("config") == canonical, ckpt_path, ": was written by another configuration; resume needs the same one.\n",
             "checkpoint:\n", meta("config"), "\nnow:\n", canonical);
    net->load_state_dict(nn::strip_prefix(file.tensors, "model."));
    optimizer->load_state_dict(nn::strip_prefix(file.tensors, "optimizer."));
    start_epoch = std::stoi(meta("next_epoch"));
    best_loss = std::stod(meta("best_val_loss"));
    // A stage that restarts its schedule builds a fresh one; the saved state belongs to the current stage.
    scheduler = make_scheduler(c, *optimizer);
    scheduler->load_state_dict(nn::strip_prefix(file.tensors, "scheduler."));
    std::istringstream history(meta("history"));
    std::string line;
    std::getline(history, line);  // header
    while (std::getline(history, line))
      if (!line.empty()) result.epochs.push_back(parse_csv_line(line, ckpt_path));
    if (!run.quiet) std::printf("train: resumed from %s at epoch %d\n", ckpt_path.c_str(), start_epoch);
  } else if (run.resume && !run.quiet) {
    std::printf("train: no checkpoint in %s; starting from epoch 0\n", c.out.c_str());
  }

  const int total_epochs = total_epochs_of(c);
  if (!run.quiet) {
    std::printf("train: %s, %lld trainable parameters; %ld training triplets (%ld real), %d epochs, batch %ld, %d threads\n",
                c.model.name.c_str(), static_cast<long long>(net->num_parameters(true)), train_set.size(),
                train_set.label_counts()[1], total_epochs, c.batch_size, omp_get_max_threads());
    std::fflush(stdout);
  }
  std::ofstream jsonl(c.out + "/log.jsonl", std::ios::app);

  const int end_epoch = run.stop_after > 0 ? std::min(total_epochs, start_epoch + run.stop_after) : total_epochs;
  for (int epoch = start_epoch; epoch < end_epoch; ++epoch) {
    const auto [stage_index, stage_first] = stage_of(c, epoch);
    const TrainStage& stage = c.stages[static_cast<std::size_t>(stage_index)];
    if (epoch == stage_first && epoch > 0 && stage.restart_scheduler) {
      // The reference's stage 2 built a fresh scheduler: epoch 30 trains at the full base lr again.
      scheduler = make_scheduler(c, *optimizer);
    }
    set_backbone_trainable(*net, epoch >= c.freeze_epoch);

    data::LoaderOptions lo{.batch_size = c.batch_size, .shuffle = true, .drop_last = c.drop_last,
                           .balanced = c.balanced, .seed = c.seed, .workers = c.workers,
                           .augment = augment_config(stage.augment), .norm = normalization(stage.normalization)};
    data::Loader loader(train_set, lo);
    net->train();
    const double lr = optimizer->lr(0);
    Progress progress(nn::str("epoch ", epoch, "/", total_epochs), loader.batches_per_epoch(), "batch");
    double loss_sum = 0;
    long seen = 0, correct = 0, step = 0;
    const auto t0 = std::chrono::steady_clock::now();
    loader.start_epoch(epoch);
    while (auto batch = loader.next()) {
      const data::NetInputs& x = batch->views[0];
      optimizer->zero_grad();
      const nn::Tensor logits = net->logits(x.rgb, x.depth, x.ir, batch->labels);
      nn::Tensor loss = nn::ops::cross_entropy(logits, batch->labels);
      const double l = loss.item();
      NN_CHECK(std::isfinite(l), "train: the loss became ", l, " at epoch ", epoch, ", batch ", batch->index,
               " (lr ", lr, "); the last good checkpoint is ", ckpt_path);
      loss.backward();
      optimizer->step();
      const std::vector<double> lg = logits.detach().to_vector();
      for (long i = 0; i < batch->size(); ++i)
        correct += (lg[2 * i + 1] > lg[2 * i]) == (batch->labels.data<std::int64_t>()[i] == 1);
      loss_sum += l * static_cast<double>(batch->size());
      seen += batch->size();
      ++step;
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (!run.quiet)
        progress.update(batch->index + 1, nn::str("loss ", loss_sum / double(seen), "  acc ", double(correct) / double(seen),
                                                  "  lr ", lr, "  ", static_cast<long>(double(seen) / secs), " triplets/s"));
      if (c.log_every > 0 && step % c.log_every == 0)
        jsonl << "{\"epoch\":" << epoch << ",\"batch\":" << batch->index << ",\"loss\":" << l << ",\"mean_loss\":"
              << loss_sum / double(seen) << ",\"lr\":" << lr << "}\n" << std::flush;
    }
    NN_CHECK(seen > 0, c.data.train_list, ": no training batch in epoch ", epoch, " (batch ", c.batch_size,
             " > usable samples with drop_last?)");
    scheduler->step();

    EpochRecord rec;
    rec.epoch = epoch, rec.stage = stage_index, rec.lr = lr;
    rec.train_loss = loss_sum / double(seen);
    rec.train_accuracy = double(correct) / double(seen);
    rec.triplets_per_second = double(seen) / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto skipped = loader.skipped();
    rec.skipped = static_cast<long>(skipped.size());
    if (!skipped.empty() && !run.quiet) std::printf("train: %s\n", data::skip_summary(skipped, train_set.size() + long(train_set.skipped_lines().size())).c_str());
    Validation val;
    if (val_set) {
      data::Loader val_loader(*val_set, {.batch_size = c.batch_size, .shuffle = false, .drop_last = false,
                                         .workers = c.workers, .norm = normalization(stage.normalization)});
      val = validate(*net, val_loader, run.quiet);
    }
    rec.val_loss = val.loss, rec.val_accuracy = val.accuracy, rec.val_acer = val.acer;
    rec.val_tpr_1e2 = val.tpr_1e2, rec.val_tpr_1e3 = val.tpr_1e3, rec.val_tpr_1e4 = val.tpr_1e4;
    result.epochs.push_back(rec);
    if (!run.quiet) {
      std::printf("epoch %d: train loss %.4f acc %.3f (%.1f triplets/s)", epoch, rec.train_loss, rec.train_accuracy,
                  rec.triplets_per_second);
      if (val_set) std::printf(" | val loss %.4f acc %.3f ACER %.4f TPR@1e-2 %.3f TPR@1e-3 %.3f", rec.val_loss,
                               rec.val_accuracy, rec.val_acer, rec.val_tpr_1e2, rec.val_tpr_1e3);
      std::printf("\n");
      std::fflush(stdout);
    }
    jsonl << "{\"epoch\":" << epoch << ",\"summary\":\"" << csv_line(rec) << "\"}\n" << std::flush;

    // Files for inference first, then the checkpoint that says the epoch is done.
    const nn::io::Metadata model_meta = model_metadata(c, stage, epoch);
    result.model_path = nn::str(c.out, "/model_", epoch, ".safetensors");
    nn::save_state_dict(net->state_dict(), result.model_path, model_meta);
    if (c.keep_last > 0 && epoch - c.keep_last >= 0) fs::remove(nn::str(c.out, "/model_", epoch - c.keep_last, ".safetensors"));
    if (val_set && std::isfinite(rec.val_loss) && rec.val_loss < best_loss) {
      best_loss = rec.val_loss;
      nn::save_state_dict(net->state_dict(), c.out + "/model_best.safetensors", model_meta);
    }
    write_text(c.out + "/epochs.csv", history_text(result.epochs));

    nn::StateDict all = nn::with_prefix(net->state_dict(), "model.");
    for (auto& kv : nn::with_prefix(optimizer->state_dict(), "optimizer.")) all.push_back(kv);
    for (auto& kv : nn::with_prefix(scheduler->state_dict(), "scheduler.")) all.push_back(kv);
    char best[64];
    std::snprintf(best, sizeof best, "%.17g", best_loss);
    nn::save_state_dict(all, ckpt_path,
                        {{"format", "hardtune-train-checkpoint"}, {"next_epoch", std::to_string(epoch + 1)},
                         {"best_val_loss", best}, {"history", history_text(result.epochs)}, {"config", canonical}});
  }
  result.finished = end_epoch == total_epochs;
  if (!result.finished && !run.quiet)
    std::printf("train: stopped after epoch %d of %d; continue with --resume\n", end_epoch, total_epochs);
  return result;
}

}  // namespace hardtune
