// `hardtune train`: the reference's training loop (REFERENCE.md §3.3) on our engine.
//
// Per epoch: train on the shuffled, augmented training list; step the LR schedule; score the validation
// list (loss, challenge metrics); log; write a checkpoint atomically. Stages (exp1_2stage's STRONG then
// WEAK augmentation) switch the pipeline and may restart the schedule, as the reference's stage 2 did.
// Resuming loads model, optimizer, schedule and progress from the last checkpoint and continues
// bit-identically: every batch is a pure function of (seed, epoch) (data/loader.h).
#pragma once

#include <string>
#include <vector>

#include "train/config.h"

namespace hardtune {

struct TrainRunOptions {
  bool resume = false;  // continue from <out>/last.safetensors
  bool force = false;   // resume even when the config differs in keys that change the results
  int stop_after = 0;   // > 0: end this run after that many epochs (time-boxed jobs; --resume continues)
  bool quiet = false;   // no progress lines (tests)
};

struct EpochRecord {
  int epoch = 0, stage = 0;
  double lr = 0, train_loss = 0, train_accuracy = 0, triplets_per_second = 0;
  double val_loss = 0, val_accuracy = 0, val_acer = 0, val_tpr_1e2 = 0, val_tpr_1e3 = 0, val_tpr_1e4 = 0;
  long skipped = 0;  // bad samples left out so far
};

struct TrainResult {
  std::vector<EpochRecord> epochs;  // every epoch of the run so far, resumed ones included
  std::string model_path;           // the last epoch's model (model_<epoch>.safetensors)
  bool finished = false;            // false when stop_after ended the run early
};

TrainResult train(const TrainConfig& config, const TrainRunOptions& run = {});

}  // namespace hardtune
