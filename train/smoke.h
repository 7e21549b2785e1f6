// `hardtune smoke`: the engine end to end on a toy task, until the HardTune data pipeline and networks
// land. A small conv net (the HardTune stage pattern: conv, BN, PReLU, max-pool) learns to tell smooth
// "live" blobs from "printed" ones (halftone stripes, colour cast), with Adam, a cosine schedule,
// per-epoch atomic checkpoints and exact resume.
#pragma once

#include <cstdint>
#include <string>

namespace hardtune {

struct SmokeOptions {
  int epochs = 6;
  int steps_per_epoch = 20;
  int batch = 32;
  int image_size = 32;
  int eval_samples = 256;
  double lr = 2e-3;
  std::uint64_t seed = 1;
  std::string out = "runs/smoke";
  bool resume = false;
  int stop_after = 0;  // > 0: end this run after that many epochs (time-boxed jobs; --resume continues)
};

struct SmokeResult {
  double first_loss = 0, last_loss = 0, eval_accuracy = 0;
};

SmokeResult run_smoke(const SmokeOptions& options);

}  // namespace hardtune
