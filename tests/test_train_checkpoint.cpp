// Training checkpoints (train/checkpoint.h): a checkpoint restored into freshly built objects gives back
// the exact state (model, Adam moments, scheduler, generators, progress), so the next step is bit-identical;
// a changed config is refused with the differing keys unless forced; wrong files are clear errors.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <memory>

#include "libnn/nn/layers.h"
#include "libnn/ops/loss.h"
#include "libnn/optim/adam.h"
#include "libnn/optim/lr_scheduler.h"
#include "train/checkpoint.h"
#include "train/config.h"

namespace fs = std::filesystem;
using namespace nn;
using hardtune::TrainingProgress;
using hardtune::TrainingState;

namespace {

// A training run in miniature: the HardTune stage pattern, Adam with the recipe's betas, CosineRepeatLR.
struct Run {
  std::shared_ptr<Sequential> net = std::make_shared<Sequential>();
  std::unique_ptr<optim::Adam> adam;
  std::unique_ptr<optim::CosineRepeatLR> schedule;
  Generator data_gen;

  explicit Run(std::uint64_t seed) : data_gen(seed + 100) {
    manual_seed(seed);
    net->push_back(std::make_shared<Conv2d>(3, 4, Conv2d::Options{.kernel = 3, .bias = false}));
    net->push_back(std::make_shared<BatchNorm2d>(4));
    net->push_back(std::make_shared<PReLU>(4));
    net->push_back(std::make_shared<AdaptiveAvgPool2d>(1));
    net->push_back(std::make_shared<Flatten>());
    net->push_back(std::make_shared<Linear>(4, 2));
    adam = std::make_unique<optim::Adam>(net->parameters(), optim::AdamOptions{.lr = 1e-2, .beta1 = 0.5, .beta2 = 0.999});
    schedule = std::make_unique<optim::CosineRepeatLR>(*adam, 4.0, 0.5);
  }

  TrainingState state() { return {net.get(), adam.get(), schedule.get(), {{"data", &data_gen}, {"default", &default_generator()}}}; }

  void step() {
    const Tensor x = Tensor::normal({4, 3, 6, 6}, 0.0, 1.0, data_gen);
    const Tensor y = Tensor::from_labels(std::vector<std::int64_t>{0, 1, 1, 0});
    adam->zero_grad();
    Tensor loss = ops::cross_entropy(net->forward(x), y);
    loss.backward();
    adam->step();
  }
};

void check_equal(const StateDict& a, const StateDict& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CAPTURE(a[i].first);
    CHECK(a[i].first == b[i].first);
    CHECK(a[i].second.dtype() == b[i].second.dtype());
    CHECK(a[i].second.to_vector() == b[i].second.to_vector());
  }
}

std::string config_text(double lr) {
  return hardtune::parse_train_config(nn::str("[model]\nname = \"resnet34_dlas_a_tiny\"\n[data]\ntrain_list = \"t\"\n"
                                              "[optimizer]\nlr = ", lr, "\n[[stage]]\nepochs = 4\n"),
                                      "test.toml")
      .canonical();
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("hardtune_test_ckpt_" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

}  // namespace

TEST_CASE("checkpoint/round_trip_restores_everything_and_resumes_bit_identically") {
  TempDir dir;
  const std::string path = (dir.path / "last.safetensors").string();
  const std::string config = config_text(1e-2);

  Run a(1);
  for (int epoch = 0; epoch < 2; ++epoch) {
    a.step();
    a.step();
    a.schedule->step();
  }
  default_generator().reserve(17);  // as if augmentation had drawn from it
  const TrainingProgress progress{.epoch = 2, .stage = 1, .best_val_loss = 0.1 + 0.2, .best_epoch = 1};
  hardtune::save_checkpoint(path, a.state(), progress, config);
  const auto default_state = std::pair{default_generator().seed(), default_generator().offset()};
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path)) ++files;
  CHECK(files == 1);  // written atomically: no temporary left behind

  Run b(2);  // other weights, fresh optimizer and scheduler, other generators
  b.step();
  manual_seed(99);
  const TrainingProgress loaded = hardtune::load_checkpoint(path, b.state(), config);
  CHECK(loaded == progress);  // best_val_loss bit-exact through its %.17g text
  check_equal(a.net->state_dict(), b.net->state_dict());
  check_equal(a.adam->state_dict(), b.adam->state_dict());
  check_equal(a.schedule->state_dict(), b.schedule->state_dict());
  CHECK(b.adam->lr(0) == a.adam->lr(0));
  CHECK(b.data_gen.seed() == a.data_gen.seed());
  CHECK(b.data_gen.offset() == a.data_gen.offset());
  CHECK(std::pair{default_generator().seed(), default_generator().offset()} == default_state);

  // The next epoch is the same in both.
  for (Run* r : {&a, &b}) {
    r->step();
    r->schedule->step();
  }
  check_equal(a.net->state_dict(), b.net->state_dict());
  check_equal(a.adam->state_dict(), b.adam->state_dict());

  const auto info = hardtune::read_checkpoint(path);
  CHECK(info.config == config);
  CHECK(info.file.contains("model.0.weight"));
  CHECK(info.file.contains("optimizer.state.0.exp_avg"));
  CHECK(info.file.contains("scheduler.last_epoch"));
}

TEST_CASE("checkpoint/config_mismatch_lists_the_keys_unless_forced") {
  TempDir dir;
  const std::string path = (dir.path / "last.safetensors").string();
  Run a(1);
  a.step();
  hardtune::save_checkpoint(path, a.state(), {.epoch = 1}, config_text(1e-2));

  Run b(2);
  CHECK_THROWS_WITH_AS(hardtune::load_checkpoint(path, b.state(), config_text(1e-3)),
                       doctest::Contains("written with another config (checkpoint -> now):\n  optimizer.lr: 0.01 -> 0.001"),
                       nn::Error);
  CHECK(hardtune::load_checkpoint(path, b.state(), config_text(1e-3), /*force=*/true).epoch == 1);
  check_equal(a.net->state_dict(), b.net->state_dict());
  CHECK(hardtune::load_checkpoint(path, b.state(), "").epoch == 1);  // no config given: nothing to compare
}

TEST_CASE("checkpoint/errors_name_the_file") {
  TempDir dir;
  const std::string plain = (dir.path / "weights.safetensors").string();
  Run a(1);
  save_state_dict(a.net->state_dict(), plain);
  CHECK_THROWS_WITH_AS(hardtune::load_checkpoint(plain, a.state(), ""),
                       doctest::Contains((plain + ": not a complete training checkpoint (no metadata \"format\")").c_str()), nn::Error);

  const std::string path = (dir.path / "last.safetensors").string();
  hardtune::save_checkpoint(path, a.state(), {}, "");
  auto other = std::make_shared<Sequential>();
  other->push_back(std::make_shared<Linear>(3, 2));
  CHECK_THROWS_WITH_AS(hardtune::load_checkpoint(path, {.model = other.get(), .optimizer = nullptr, .scheduler = nullptr, .generators = {}}, ""),
                       doctest::Contains((path + ": cannot restore the model: ").c_str()), nn::Error);
  Run c(3);
  TrainingState with_rng = c.state();
  with_rng.generators.emplace_back("augment", &c.data_gen);
  CHECK_THROWS_WITH_AS(hardtune::load_checkpoint(path, with_rng, ""), doctest::Contains("no metadata \"rng.augment\""),
                       nn::Error);
  CHECK_THROWS_WITH_AS(hardtune::read_checkpoint((dir.path / "missing.safetensors").string()),
                       doctest::Contains("missing.safetensors"), nn::Error);
}
