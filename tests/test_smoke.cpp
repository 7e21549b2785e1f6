// The smoke training run: it learns, and a run stopped after an epoch and resumed from its checkpoint
// ends with exactly the weights of an uninterrupted run.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <string>

#include "libnn/io/safetensors.h"
#include "train/smoke.h"

namespace fs = std::filesystem;

TEST_CASE("smoke/learns_and_resumes_exactly") {
  // Per process: test runs from several build trees may share /tmp.
  const fs::path dir = fs::temp_directory_path() / ("hardtune_test_smoke_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  hardtune::SmokeOptions o;
  o.epochs = 3;
  o.steps_per_epoch = 6;
  o.batch = 8;
  o.image_size = 16;
  o.eval_samples = 32;

  o.out = (dir / "straight").string();
  const auto straight = hardtune::run_smoke(o);
  CHECK(straight.last_loss < straight.first_loss);

  o.out = (dir / "resumed").string();
  o.stop_after = 1;
  hardtune::run_smoke(o);
  CHECK_FALSE(fs::exists(dir / "resumed" / "model.safetensors"));
  o.stop_after = 0;
  o.resume = true;
  const auto resumed = hardtune::run_smoke(o);
  CHECK(resumed.eval_accuracy == straight.eval_accuracy);

  const auto a = nn::io::load_safetensors((dir / "straight" / "model.safetensors").string());
  const auto b = nn::io::load_safetensors((dir / "resumed" / "model.safetensors").string());
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (std::size_t i = 0; i < a.tensors.size(); ++i) {
    CAPTURE(a.tensors[i].first);
    CHECK(a.tensors[i].second.to_vector() == b.tensors[i].second.to_vector());
  }
  fs::remove_all(dir);
}
