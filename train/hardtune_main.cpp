// The `hardtune` command line. Each subcommand returns non-zero with a one-line reason on failure.
#include <omp.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "libnn/core/check.h"
#include "infer/data/folds.h"
#include "infer/embed.h"
#include "infer/ensemble.h"
#include "infer/eval/eval.h"
#include "libnn/core/device.h"
#include "infer/weights.h"
#include "models/registry.h"
#include "models/summary.h"
#include "train/data/synth.h"
#include "train/demo.h"
#include "train/predict.h"
#include "train/smoke.h"
#include "train/trainer.h"

namespace {

void print_info() {
  std::printf("hardtune %s\n", HARDTUNE_VERSION);
  std::printf("  CUDA backend: %s", nn::cuda::built_with_cuda() ? "built" : "not built");
  if (nn::cuda::built_with_cuda())
    std::printf(", %d device(s) available", nn::cuda::device_count());
  std::printf("\n  CPU threads (OpenMP): %d\n", omp_get_max_threads());
}

}  // namespace

int main(int argc, char** argv) {
  // Spinning OpenMP workers lose the cores as soon as anything else wants them, and every barrier then
  // waits out a time slice: `hardtune smoke` took 17.5 s instead of 1.3 s next to a compiler. libgomp reads
  // its wait policy once, before main, so defaulting it means starting again with the variable set. An
  // explicit OMP_WAIT_POLICY is respected; if the restart fails we simply go on.
  if (std::getenv("OMP_WAIT_POLICY") == nullptr && ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1) == 0)
    ::execv("/proc/self/exe", argv);
  CLI::App app{"hardtune: multi-modal face anti-spoofing (HardTune) on a from-scratch engine"};
  app.require_subcommand(1);

  app.add_subcommand("info", "Version, backends and threads")->callback(print_info);

  hardtune::SmokeOptions smoke;
  auto* smoke_cmd = app.add_subcommand("smoke", "Train a small conv net on a built-in toy task (engine check)");
  smoke_cmd->add_option("--epochs", smoke.epochs, "Epochs")->check(CLI::PositiveNumber);
  smoke_cmd->add_option("--steps", smoke.steps_per_epoch, "Steps per epoch")->check(CLI::PositiveNumber);
  smoke_cmd->add_option("--batch", smoke.batch, "Batch size")->check(CLI::Range(2, 4096));
  smoke_cmd->add_option("--size", smoke.image_size, "Image side")->check(CLI::Range(12, 512));
  smoke_cmd->add_option("--lr", smoke.lr, "Adam learning rate")->check(CLI::PositiveNumber);
  smoke_cmd->add_option("--seed", smoke.seed, "Seed");
  smoke_cmd->add_option("--out", smoke.out, "Output directory (checkpoint, model)");
  smoke_cmd->add_flag("--resume", smoke.resume, "Continue from OUT/checkpoint.safetensors");
  smoke_cmd->add_option("--stop-after", smoke.stop_after, "End this run after N epochs (resume later)")
      ->check(CLI::NonNegativeNumber);
  smoke_cmd->callback([&] { hardtune::run_smoke(smoke); });

  hardtune::data::SynthOptions synth;
  auto* synth_cmd = app.add_subcommand("synth", "Write the built-in synthetic dataset (CASIA-SURF layout and lists)");
  synth_cmd->add_option("--out", synth.out, "Output directory (must not exist)")->required();
  synth_cmd->add_option("--seed", synth.seed, "Seed: the same seed gives the same bytes");
  synth_cmd->add_option("--subjects-train", synth.subjects_train, "Subjects in Training/")->check(CLI::Range(1, 100000));
  synth_cmd->add_option("--subjects-val", synth.subjects_val, "Subjects in Val/")->check(CLI::Range(1, 100000));
  synth_cmd->add_option("--subjects-test", synth.subjects_test, "Subjects in Test/")->check(CLI::Range(1, 100000));
  synth_cmd->add_option("--samples-per-subject", synth.samples_per_subject, "Frames per session (live and each attack type)")
      ->check(CLI::Range(1, 65535));
  synth_cmd->add_option("--size", synth.look.size, "Image side in pixels")->check(CLI::Range(32, 512));
  synth_cmd->add_option("--difficulty", synth.look.difficulty, "0 = blatant prints .. 1 = subtle (default 0.5)")
      ->check(CLI::Range(0.0, 1.0));
  synth_cmd->add_option("--contact-sheet", synth.contact_sheet, "Also write a PNG: rows live, 01..06; columns RGB | Depth | IR");
  synth_cmd->callback([&] {
    const auto s = hardtune::data::generate_synth_dataset(synth);
    std::printf("synth: wrote %s: %ld train, %ld val, %ld test triplets in %.1f s (%.0f triplets/min)\n", synth.out.c_str(),
                s.train_rows, s.val_rows, s.test_rows, s.seconds, (s.train_rows + s.val_rows + s.test_rows) / s.seconds * 60);
  });

  struct {
    std::string model, config;
    long size = 0, batch = 1;
    bool list = false, detail = false;
  } summary;
  auto* summary_cmd = app.add_subcommand("summary", "Layers, output shapes, parameters and FLOPs of a model");
  summary_cmd->add_option("--model", summary.model, "Model name (see --list)");
  summary_cmd->add_option("--config", summary.config, "TOML config with a [model] table, instead of --model");
  summary_cmd->add_option("--size", summary.size, "Input side (default: the model's own, 112)")->check(CLI::Range(8, 1024));
  summary_cmd->add_option("--batch", summary.batch, "Batch size")->check(CLI::Range(1, 1024));
  summary_cmd->add_flag("--list", summary.list, "List the registered models");
  summary_cmd->add_flag("--detail", summary.detail, "One line per op");
  summary_cmd->callback([&] {
    if (summary.list) {
      for (const auto& m : models::list_models()) std::printf("%-28s %s\n", m.name.c_str(), m.description.c_str());
      return;
    }
    if (summary.model.empty() == summary.config.empty())
      throw nn::Error("summary: give exactly one of --model NAME or --config FILE (--list shows the names)");
    auto net = summary.config.empty() ? models::build_model(summary.model) : models::build_model_from_config(summary.config);
    long size = summary.size;
    if (size == 0) {
      size = 112;
      for (const auto& m : models::list_models())
        if (m.name == summary.model) size = m.input_size;
    }
    models::print_summary(models::summarize(*net, size, summary.batch), std::cout, summary.detail);
  });

  infer::ImportOptions import;
  auto* import_cmd = app.add_subcommand("import", "Map pretrained weights (.pth, TF.js, safetensors) onto a model");
  import_cmd->add_option("--from", import.from, "Input format (default: detected)")
      ->check(CLI::IsMember({"pth", "tfjs", "safetensors"}));
  import_cmd->add_option("--map", import.map, "Key map (REFERENCE.md §2): identity, evolve_ir, resnet_caffe, ...")
      ->required();
  import_cmd->add_option("--model", import.model, "Target model (default: the map's own)");
  import_cmd->add_flag("--strict", import.strict, "Fail on any unused, missing or mismatched key");
  import_cmd->add_option("IN", import.in, "Source weights")->required();
  import_cmd->add_option("OUT", import.out, "Output .safetensors")->required();
  import_cmd->callback([&] { infer::run_import(import, std::cout); });

  std::string inspect_path;
  auto* inspect_cmd = app.add_subcommand("inspect", "Names, shapes, dtypes, sizes and metadata of a weights file");
  inspect_cmd->add_option("FILE", inspect_path, "A .safetensors, .pth or TF.js manifest")->required();
  inspect_cmd->callback([&] { infer::run_inspect(inspect_path, std::cout); });

  infer::EmbedOptions embed;
  auto* embed_cmd = app.add_subcommand("embed", "Face descriptors of images, as JSON (face-api's FaceRecognitionNet)");
  embed_cmd->add_option("--model", embed.model, "Model (faceapi)");
  embed_cmd->add_option("--weights", embed.weights,
                        "face-api's model folder (face_recognition_model-weights_manifest.json) or the manifest")
      ->required();
  embed_cmd->add_option("images", embed.images, "Face crops (150x150 go in unchanged, others are padded and resized)")
      ->required();
  embed_cmd->callback([&] { infer::run_embed(embed, std::cout); });

  auto* lists_cmd = app.add_subcommand("lists", "CASIA-SURF list files: statistics and attack-type folds");
  lists_cmd->require_subcommand(1);
  const auto on_bad_policy = [](const std::string& name) {
    return name == "skip" ? infer::OnBadSample::skip : infer::OnBadSample::fail;
  };
  const char* on_bad_help = "fail: stop at the first bad line; skip: leave bad lines out and report them";
  std::string stats_on_bad = "fail";
  std::vector<std::string> stats_paths;
  auto* stats_cmd = lists_cmd->add_subcommand("stats", "Rows, real/fake, attack types, splits and subjects of lists");
  stats_cmd->add_option("LIST", stats_paths, "List files (CSV, plain or .gz)")->required();
  stats_cmd->add_option("--on-bad-sample", stats_on_bad, on_bad_help)->check(CLI::IsMember({"fail", "skip"}));
  stats_cmd->callback([&] { infer::run_lists_stats(stats_paths, on_bad_policy(stats_on_bad), std::cout); });

  infer::FoldsOptions folds;
  auto* folds_cmd = lists_cmd->add_subcommand("folds",
      "Attack-type folds (folds_by_fakes): OUT/fold<k>/{train_list.txt,val_list_orgl.txt}");
  folds_cmd->add_option("--from", folds.from, "Training lists whose union is split")->required();
  folds_cmd->add_option("--out", folds.out, "Output directory")->required();
  folds_cmd->add_option("--seed", folds.seed, "Seed of the real-subject groups");
  std::string folds_on_bad = "fail";
  folds_cmd->add_option("--on-bad-sample", folds_on_bad, on_bad_help)->check(CLI::IsMember({"fail", "skip"}));
  folds_cmd->callback([&] {
    folds.on_bad = on_bad_policy(folds_on_bad);
    infer::run_lists_folds(folds, std::cout);
  });

  hardtune::DemoOptions demo;
  auto* demo_cmd = app.add_subcommand("demo",
      "The whole pipeline on synthetic data: synth, folds, train folds x seeds, predict, ensemble, eval");
  demo_cmd->add_option("--out", demo.out, "Working directory (rerunning continues where it stopped)");
  demo_cmd->add_option("--config", demo.config, "Training config");
  demo_cmd->add_option("--folds", demo.folds, "Folds to train")->check(CLI::Range(1, 3));
  demo_cmd->add_option("--seeds", demo.seeds, "Seeds to train");
  demo_cmd->add_option("--epochs", demo.epochs, "Override the config's epochs")->check(CLI::NonNegativeNumber);
  demo_cmd->add_option("--difficulty", demo.difficulty, "Synthetic data: 0 = blatant prints .. 1 = subtle")
      ->check(CLI::Range(0.0, 1.0));
  demo_cmd->add_option("--subjects-train", demo.subjects_train, "Synthetic data: training subjects")->check(CLI::Range(3, 10000));
  demo_cmd->callback([&] { hardtune::run_demo(demo); });

  struct {
    std::string config;
    hardtune::ConfigOverrides overrides;
    hardtune::TrainRunOptions run;
    bool print = false;
  } train;
  auto* train_cmd = app.add_subcommand("train", "Train a HardTune net from a TOML config (configs/README.md)");
  train_cmd->add_option("--config", train.config, "configs/X.toml")->required();
  train_cmd->add_option("--fold", train.overrides.fold, "Fold k: substituted for {fold} in list paths and out");
  train_cmd->add_option("--seed", train.overrides.seed, "Seed (init, shuffling, augmentation)");
  train_cmd->add_option("--out", train.overrides.out, "Run directory (checkpoints, epochs.csv, log.jsonl)");
  train_cmd->add_option("--root", train.overrides.root, "Data root (data.root: {root} in list paths, images)");
  train_cmd->add_option("--epochs", train.overrides.epochs, "Total epochs (cuts or extends the stages)")
      ->check(CLI::PositiveNumber);
  train_cmd->add_option("--device", train.overrides.device, "cpu or cuda (the config's device)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  train_cmd->add_flag("--resume", train.run.resume, "Continue from OUT/last.safetensors, bit-identically");
  train_cmd->add_flag("--force", train.run.force, "With --resume: continue although the config changed");
  train_cmd->add_option("--stop-after", train.run.stop_after, "End this run after N epochs (resume later)")
      ->check(CLI::NonNegativeNumber);
  train_cmd->add_flag("--print-config", train.print, "Print the resolved config and exit");
  train_cmd->callback([&] {
    hardtune::TrainConfig config = hardtune::load_train_config(train.config);
    hardtune::apply_overrides(config, train.overrides);
    if (train.print) {
      std::printf("%s", config.canonical().c_str());
      return;
    }
    std::printf("%s", config.describe().c_str());
    const auto result = hardtune::train(config, train.run);
    if (result.finished) std::printf("train: done; model %s\n", result.model_path.c_str());
  });

  hardtune::PredictOptions predict;
  std::string predict_on_bad = "fail";
  auto* predict_cmd = app.add_subcommand("predict", "Score a list with a trained model (TTA views as columns)");
  predict_cmd->add_option("--weights", predict.weights, "Model file from `hardtune train` (model_<epoch>.safetensors)")
      ->required();
  predict_cmd->add_option("--model", predict.model, "Registry name, when the weights file does not say");
  predict_cmd->add_option("--map", predict.map, "Key map for foreign weights files (default identity)");
  predict_cmd->add_option("--list", predict.list, "List to score (rgb,depth,ir[,label])")->required();
  predict_cmd->add_option("--root", predict.root, "Data root the list's paths are relative to");
  predict_cmd->add_option("--tta", predict.tta, "Views: \"\" (crop0), hflip, 5crop, rotate, joined by _ (default hflip)");
  predict_cmd->add_option("--normalization", predict.normalization, "cifar | half (default: the model file's)")
      ->check(CLI::IsMember({"cifar", "half"}));
  predict_cmd->add_option("--out", predict.out, "Score CSV: rgb,depth,ir,score,<views>")->required();
  predict_cmd->add_option("--submission", predict.submission, "Also write the challenge format <rgb> <depth> <ir> <score>");
  predict_cmd->add_option("--batch", predict.batch, "Batch size")->check(CLI::Range(1, 4096));
  predict_cmd->add_option("--workers", predict.workers, "Decoding threads")->check(CLI::Range(0, 256));
  predict_cmd->add_option("--on-bad-sample", predict_on_bad, on_bad_help)->check(CLI::IsMember({"fail", "skip"}));
  predict_cmd->add_flag("--allow-size-mismatch", predict.allow_size_mismatch,
                        "Accept triplets whose modalities differ in size (each is resized to 125 first)");
  predict_cmd->callback([&] {
    predict.on_bad = on_bad_policy(predict_on_bad);
    hardtune::run_predict(predict, std::cout);
  });

  infer::eval::EvalOptions eval;
  auto* eval_cmd = app.add_subcommand("eval", "Challenge metrics of score files on a labelled list: table, JSON/CSV, ROC/DET, report");
  eval_cmd->add_option("--scores", eval.scores, "Score files (ours, or the original's crop0,crop0_hflip in list order)")
      ->required();
  eval_cmd->add_option("--list", eval.list, "Labelled list (rgb,depth,ir,label)")->required();
  eval_cmd->add_flag("--root-independent", eval.root_independent,
                     "Match paths from the split folder (Training/, Val/, Test/) on, ignoring what is above it");
  eval_cmd->add_option("--meta", eval.meta, "Attack type per rgb path (CSV with rgb,type; synth's meta.csv)");
  eval_cmd->add_option("--threshold", eval.threshold, "Accept as real iff score >= threshold (default 0.5)");
  eval_cmd->add_option("--bootstrap", eval.bootstrap, "Bootstrap resamples for 95 % intervals; 0 = none (default 1000)")
      ->check(CLI::NonNegativeNumber);
  eval_cmd->add_option("--seed", eval.seed, "Bootstrap seed");
  eval_cmd->add_option("--out", eval.out, "Directory for metrics.json, metrics.csv, roc/det .svg/.png, report.html");
  eval_cmd->callback([&] { infer::eval::run_eval(eval, std::cout); });

  infer::EnsembleOptions ensemble;
  auto* ensemble_cmd = app.add_subcommand("ensemble",
      "Combine score files: plain or grouped mean, calibration, greedy selection on validation");
  ensemble_cmd->add_option("OUT", ensemble.out, "Output score file (rgb,depth,ir,score)")->required();
  ensemble_cmd->add_option("SCORES", ensemble.scores, "Member score files")->required();
  ensemble_cmd->add_option("--groups", ensemble.groups,
                           "Nested means over members (1-based or paths): \"1,2,3;4,5,6\", \"(1,2,3),(4,5,6);(7,8,9)\"");
  ensemble_cmd->add_option("--calibrate", ensemble.calibrate,
                           "THR or auto: scores below THR become x*0.5/THR (auto: the lowest validation real)");
  ensemble_cmd->add_flag("--greedy", ensemble.greedy, "Greedy forward selection of members on validation");
  ensemble_cmd->add_option("--metric", ensemble.metric, "Greedy's metric")
      ->check(CLI::IsMember({"acer", "eer", "auc", "tpr@1e-2", "tpr@1e-3", "tpr@1e-4"}));
  ensemble_cmd->add_option("--val-list", ensemble.val_list, "Labelled validation list (for auto and --greedy)");
  ensemble_cmd->add_option("--val-scores", ensemble.val_scores, "The members' validation score files, in member order");
  ensemble_cmd->add_option("--list", ensemble.list, "Put members in this list's order and take its paths");
  ensemble_cmd->add_flag("--root-independent", ensemble.root_independent, "Match paths from the split folder on");
  ensemble_cmd->add_option("--submission", ensemble.submission, "Also write the challenge format <rgb> <depth> <ir> <score>");
  ensemble_cmd->callback([&] { infer::run_ensemble(ensemble, std::cout); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hardtune: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
