// Training checkpoints: everything a run needs to continue bit-identically, in one safetensors file written
// atomically (temp file, fsync, rename: a crash leaves the old checkpoint or the new one, never half).
//
// Tensors: model.* (the module's state dict, head included), optimizer.* and scheduler.* (their
// state_dicts, libnn/optim). Metadata (strings): format = "hardtune-checkpoint/1", epoch (epochs completed
// = the next epoch to train), stage, best_val_loss (%.17g: exact), best_epoch, rng.<name> = "<seed>
// <offset>" for each generator (Philox: its whole state), config (the run's canonical config, TOML).
// A checkpoint is also a weights file: infer/weights.h loads its model.* entries.
//
// Loading checks the format, restores every part that was given (strict: a model key missing from the
// file, or one the model lacks, is an error), and compares the stored config with the current one: any
// difference in a key that can change the results (train/config.h config_differences) is an error
// listing the keys, unless forced.
//
// Scheduler restarts: a checkpoint written at the end of a stage holds the finished stage's scheduler. When
// the next stage restarts the schedule (TrainConfig::schedule_start), the trainer builds a fresh scheduler
// and passes scheduler = nullptr to load_checkpoint, as the reference's stage-2 resume did (§3.3).
#pragma once

#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "libnn/core/rng.h"
#include "libnn/io/safetensors.h"
#include "libnn/nn/module.h"
#include "libnn/optim/lr_scheduler.h"
#include "libnn/optim/optimizer.h"

namespace hardtune {

inline constexpr const char* kCheckpointFormat = "hardtune-checkpoint/1";

// Where training stands, beside the tensors.
struct TrainingProgress {
  int epoch = 0;  // epochs completed: the next epoch to train
  int stage = 0;  // the stage of the last completed epoch
  double best_val_loss = std::numeric_limits<double>::infinity();
  int best_epoch = -1;

  bool operator==(const TrainingProgress&) const = default;
};

// The live objects a checkpoint is saved from and restored into. Null parts are neither saved nor loaded.
struct TrainingState {
  nn::Module* model = nullptr;
  nn::optim::Optimizer* optimizer = nullptr;
  nn::optim::LRScheduler* scheduler = nullptr;
  std::vector<std::pair<std::string, nn::Generator*>> generators;  // by name, e.g. {"default", &default_generator()}
};

// extra: more metadata (e.g. train/model_file.h's, so predict can rebuild the model from the file alone).
void save_checkpoint(const std::string& path, const TrainingState& state, const TrainingProgress& progress,
                     const std::string& config, const nn::io::Metadata& extra = {});

struct CheckpointInfo {
  TrainingProgress progress;
  std::string config;
  nn::io::Safetensors file;
};
// Reads and checks a checkpoint without restoring anything (`hardtune inspect`, choosing what to resume).
CheckpointInfo read_checkpoint(const std::string& path);

// Restores the given parts from path and returns its progress. config: the current run's canonical config
// ("" skips the comparison); force: load despite differences.
TrainingProgress load_checkpoint(const std::string& path, const TrainingState& state, const std::string& config,
                                 bool force = false);

}  // namespace hardtune
