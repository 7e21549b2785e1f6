#include "train/trainer.h"

#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>

#include "infer/eval/metrics.h"
#include "infer/weights.h"
#include "libnn/core/check.h"
#include "libnn/core/cuda_options.h"
#include "libnn/core/cuda_runtime.h"
#include "libnn/io/atomic_file.h"
#include "libnn/optim/lr_scheduler.h"
#include "libnn/optim/optimizer.h"
#include "libnn/ops/loss.h"
#include "models/registry.h"
#include "train/checkpoint.h"
#include "train/data/loader.h"
#include "train/evaluate.h"
#include "train/model_file.h"
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

// The history of a run being resumed: epochs.csv up to the checkpoint's epoch (a crash between writing
// the log and the checkpoint leaves one line more, which the rerun epoch replaces).
std::vector<EpochRecord> read_history(const std::string& path, int epochs_done) {
  std::vector<EpochRecord> out;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line))
    if (!line.empty()) {
      EpochRecord r = parse_csv_line(line, path);
      if (r.epoch < epochs_done) out.push_back(r);
    }
  return out;
}

// `to` becomes the same file as `from` (a checkpoint is hundreds of MB: written once, linked twice), and
// atomically: a hard link under a temporary name renamed over `to`, or a copy where links are refused.
void publish_same_file(const std::string& from, const std::string& to) {
  const std::string tmp = to + ".tmp";
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_hard_link(from, tmp, ec);
  if (ec) fs::copy_file(from, tmp, fs::copy_options::overwrite_existing);
  fs::rename(tmp, to);
}

// Everything but the head learns, unless frozen until freeze_epoch (REFERENCE.md §3.3 semantics). The
// head's own requires_grad (frozen_head) is left as built.
void set_backbone_trainable(models::MultiModalNet& net, bool trainable) {
  for (auto& [name, p] : net.named_parameters())
    if (!name.starts_with("classifier.")) p.set_requires_grad(trainable);
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

TrainResult train(const TrainConfig& c, const TrainRunOptions& run) {
  const std::string out = c.out_dir();
  fs::create_directories(out);
  const std::string last_path = out + "/last.safetensors";
  const std::string canonical = c.canonical();

  // The net: seeded init, then pretrained weights through their key map.
  nn::manual_seed(c.seed);
  auto net = models::build_model(c.model.name, c.model.options);
  if (!c.pretrained.path.empty()) {
    const auto report = infer::load_weights_into(*net, c.pretrained.path, c.pretrained.map, c.pretrained.strict);
    if (!run.quiet)
      std::printf("train: pretrained %s via map %s: %s\n", c.pretrained.path.c_str(), c.pretrained.map.c_str(),
                  report.describe().c_str());
  }
  const nn::Device device = c.device == "cuda" ? nn::Device::cuda() : nn::Device::cpu();
  NN_CHECK(device.is_cpu() || nn::cuda::is_available(), c.source, ": device = \"cuda\", but ",
           nn::cuda::built_with_cuda() ? "no CUDA device answers" : "hardtune was built without CUDA");
  net->to(device);
  nn::CudaOptions cuda_options;
  cuda_options.math = c.precision == "fp32"   ? kern::MathMode::fp32
                      : c.precision == "bf16" ? kern::MathMode::bf16
                                              : kern::MathMode::tf32;
  const nn::CudaOptionsGuard cuda_guard(cuda_options);
  // Batches reach the GPU on a copy stream of their own, from page-locked memory, while it computes.
  std::optional<nn::cuda::Stream> copies;
  if (device.is_cuda()) copies.emplace();

  // Only what learns goes to the optimizer: a frozen head never does (§3.3). freeze_epoch only switches
  // requires_grad off for a while; those parameters stay in the optimizer and are skipped without a grad.
  std::vector<nn::Tensor> trainable;
  for (auto& [name, p] : net->named_parameters())
    if (p.requires_grad()) trainable.push_back(p);
  auto optimizer = make_optimizer(c.optimizer, trainable);
  auto scheduler = make_scheduler(c.schedule, *optimizer);
  const auto state = [&] {
    return TrainingState{net.get(), optimizer.get(), scheduler.get(), {{"default", &nn::default_generator()}}};
  };

  const data::DatasetOptions dataset_options{.on_bad = c.data.on_bad_sample,
                                             .allow_size_mismatch = c.data.allow_size_mismatch};
  const data::TripletDataset train_set(c.data.train_list_path(), c.data.root, dataset_options);
  std::unique_ptr<data::TripletDataset> val_set;
  if (!c.data.val_list.empty())
    val_set = std::make_unique<data::TripletDataset>(c.data.val_list_path(), c.data.root, dataset_options);
  nn::Tensor class_weights;
  if (!c.class_weights.empty())
    class_weights =
        nn::Tensor::from_vector({static_cast<nn::index_t>(c.class_weights.size())}, c.class_weights).to(device);

  TrainResult result;
  TrainingProgress progress;
  const int total_epochs = c.total_epochs();
  if (run.resume && fs::exists(last_path)) {
    // A run that stopped at a stage boundary with a restart loads the finished stage's scheduler here; the
    // loop below replaces it with a fresh one at that epoch, exactly as in an uninterrupted run.
    progress = load_checkpoint(last_path, state(), canonical, run.force);
    result.epochs = read_history(out + "/epochs.csv", progress.epoch);
    if (!run.quiet) std::printf("train: resumed from %s at epoch %d\n", last_path.c_str(), progress.epoch);
  } else if (run.resume && !run.quiet) {
    std::printf("train: no checkpoint in %s; starting at epoch 0\n", out.c_str());
  }

  if (!run.quiet) {
    std::printf("train: %s, %lld trainable parameters; %ld training triplets (%ld real) from %s; %d epochs, batch %d, "
                "%d threads\n",
                c.model.name.c_str(), static_cast<long long>(net->num_parameters(true)), train_set.size(),
                train_set.label_counts()[1], c.data.train_list_path().c_str(), total_epochs, c.batch_size,
                omp_get_max_threads());
    std::fflush(stdout);
  }
  std::ofstream jsonl(out + "/log.jsonl", std::ios::app);
  NN_CHECK(jsonl, out, "/log.jsonl: cannot open for writing");

  if (progress.epoch > 0) {  // resumed: until an epoch runs, the model is the one of the last finished epoch
    const std::string last_epoch = nn::str(out, "/epoch_", progress.epoch - 1, ".safetensors");
    result.model_path = fs::exists(last_epoch) ? last_epoch : last_path;
  }
  const int end_epoch = run.stop_after > 0 ? std::min(total_epochs, progress.epoch + run.stop_after) : total_epochs;
  for (int epoch = progress.epoch; epoch < end_epoch; ++epoch) {
    const std::size_t stage_index = c.stage_of(epoch);
    const StageConfig& stage = c.stages[stage_index];
    // The reference's stage 2 built a fresh scheduler: epoch 30 trains at the full base lr again (§3.3).
    if (epoch > 0 && c.schedule_start(epoch) == epoch) scheduler = make_scheduler(c.schedule, *optimizer);
    set_backbone_trainable(*net, epoch >= c.freeze_epoch);
    const infer::Normalization norm = normalization(stage.normalization);

    data::Loader loader(train_set, {.batch_size = c.batch_size, .shuffle = true, .drop_last = c.drop_last,
                                    .balanced = c.data.balanced_sampling, .seed = c.seed, .workers = c.workers,
                                    .augment = augment_config(stage.augmentation), .norm = norm,
                                    .pinned = device.is_cuda()});
    net->train();
    const double lr = optimizer->lr(0);
    Progress bar(nn::str("epoch ", epoch + 1, "/", total_epochs), loader.batches_per_epoch(), "batch");
    double loss_sum = 0;
    long seen = 0, correct = 0, steps = 0;
    const auto t0 = std::chrono::steady_clock::now();
    const auto rate = [&] { return double(seen) / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
    loader.start_epoch(epoch);
    while (auto batch = loader.next()) {
      const data::NetInputs& x = batch->views[0];
      const auto on_device = [&](const nn::Tensor& t) { return copies ? t.to(device, *copies) : t; };
      const nn::Tensor rgb = on_device(x.rgb), depth = on_device(x.depth), ir = on_device(x.ir);
      if (copies) nn::cuda::current_stream_wait_for(copies->get());
      const nn::Tensor labels = batch->labels.to(device);
      optimizer->zero_grad();
      const nn::Tensor logits = net->logits(rgb, depth, ir, labels);
      nn::Tensor loss = nn::ops::cross_entropy(logits, labels, class_weights);
      const double l = loss.item();
      NN_CHECK(std::isfinite(l), "train: the loss became ", l, " at epoch ", epoch, ", batch ", batch->index, " (lr ", lr,
               "); nothing of this epoch was saved, the last good checkpoint is ", last_path);
      loss.backward();
      optimizer->step();
      const std::vector<double> lg = logits.detach().to_vector();
      for (long i = 0; i < batch->size(); ++i)
        correct += (lg[2 * i + 1] > lg[2 * i]) == (batch->labels.data<std::int64_t>()[i] == 1);
      loss_sum += l * static_cast<double>(batch->size());
      seen += batch->size();
      ++steps;
      if (!run.quiet) {
        char extra[128];
        std::snprintf(extra, sizeof extra, "loss %.4f  acc %.3f  lr %.3g  %.1f triplets/s", loss_sum / double(seen),
                      double(correct) / double(seen), lr, rate());
        bar.update(batch->index + 1, extra);
      }
      if (c.log_every > 0 && steps % c.log_every == 0)
        jsonl << "{\"epoch\":" << epoch << ",\"batch\":" << batch->index << ",\"loss\":" << l
              << ",\"mean_loss\":" << loss_sum / double(seen) << ",\"lr\":" << lr << ",\"triplets_per_second\":" << rate()
              << "}\n" << std::flush;
    }
    NN_CHECK(seen > 0, c.data.train_list_path(), ": no training batch in epoch ", epoch, " (batch ", c.batch_size,
             " larger than the usable samples, with drop_last?)");
    if (scheduler) scheduler->step();

    EpochRecord rec;
    rec.epoch = epoch, rec.stage = static_cast<int>(stage_index), rec.lr = lr;
    rec.train_loss = loss_sum / double(seen);
    rec.train_accuracy = double(correct) / double(seen);
    rec.triplets_per_second = rate();
    const auto skipped = loader.skipped();
    rec.skipped = static_cast<long>(skipped.size());
    if (!skipped.empty() && !run.quiet)
      std::printf("train: %s\n", data::skip_summary(skipped, train_set.size() + long(train_set.skipped_lines().size())).c_str());
    Validation val;
    if (val_set) {
      data::Loader val_loader(*val_set, {.batch_size = c.batch_size, .shuffle = false, .drop_last = false,
                                         .workers = c.workers, .norm = norm});
      val = validate(*net, val_loader, run.quiet);
    }
    rec.val_loss = val.loss, rec.val_accuracy = val.accuracy, rec.val_acer = val.acer;
    rec.val_tpr_1e2 = val.tpr_1e2, rec.val_tpr_1e3 = val.tpr_1e3, rec.val_tpr_1e4 = val.tpr_1e4;
    result.epochs.push_back(rec);
    if (!run.quiet) {
      std::printf("epoch %d/%d: train loss %.4f acc %.3f (%.1f triplets/s)", epoch + 1, total_epochs, rec.train_loss,
                  rec.train_accuracy, rec.triplets_per_second);
      if (val_set)
        std::printf(" | val loss %.4f acc %.3f ACER %.4f TPR@1e-2 %.3f TPR@1e-3 %.3f", rec.val_loss, rec.val_accuracy,
                    rec.val_acer, rec.val_tpr_1e2, rec.val_tpr_1e3);
      std::printf("\n");
      std::fflush(stdout);
    }
    jsonl << "{\"epoch\":" << epoch << ",\"summary\":\"" << csv_line(rec) << "\"}\n" << std::flush;
    write_text(out + "/epochs.csv", history_text(result.epochs));

    // Checkpoints: the epoch's own and the best by validation loss (each also a model file for predict,
    // see model_file.h), then last.safetensors, the resume point, which says the epoch is done.
    progress.epoch = epoch + 1;
    progress.stage = static_cast<int>(stage_index);
    const bool best = val_set && std::isfinite(rec.val_loss) && rec.val_loss < progress.best_val_loss;
    if (best) progress.best_val_loss = rec.val_loss, progress.best_epoch = epoch;
    const nn::io::Metadata model_meta =
        model_file_metadata({c.model.name, c.model.options, normalization_name(stage.normalization)});
    // One serialisation per epoch: the files holding the same state are hard links to it.
    const bool epoch_file = c.checkpoint.every_epoch || epoch + 1 == total_epochs;
    result.model_path = epoch_file ? nn::str(out, "/epoch_", epoch, ".safetensors") : last_path;
    save_checkpoint(result.model_path, state(), progress, canonical, model_meta);
    if (best && c.checkpoint.best) publish_same_file(result.model_path, out + "/best.safetensors");
    if (epoch_file) {
      publish_same_file(result.model_path, last_path);
      if (c.checkpoint.keep_last > 0) {
        const int old = epoch - c.checkpoint.keep_last;
        if (old >= 0 && std::ranges::find(c.checkpoint.keep_epochs, old) == c.checkpoint.keep_epochs.end())
          fs::remove(nn::str(out, "/epoch_", old, ".safetensors"));
      }
    }
  }
  result.finished = end_epoch == total_epochs;
  if (!result.finished && !run.quiet)
    std::printf("train: stopped after epoch %d of %d; continue with --resume\n", end_epoch, total_epochs);
  return result;
}

}  // namespace hardtune
