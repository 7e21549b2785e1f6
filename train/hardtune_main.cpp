// The `hardtune` command line. Each subcommand returns non-zero with a one-line reason on failure.
#include <omp.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "libnn/core/check.h"
#include "libnn/core/device.h"
#include "train/smoke.h"

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
