// The training configuration of `hardtune train --config X.toml` (issue 6): the TOML schema, its strict
// parsing, command-line overrides, a human description and a canonical serialisation. configs/README.md
// documents every key; configs/*.toml reproduce the reference's experiments (REFERENCE.md §3).
//
// Parsing is strict (models/toml_config.h): an unknown key anywhere is an error naming the file and the
// key, a wrong type names the key and the expected type, and values are range-checked here, so a typo
// never trains silently with a default.
//
// Epochs are counted over the whole run (0-based) and split into stages ([[stage]], in order): each stage
// has its own augmentation and normalisation and may restart the LR schedule (a fresh scheduler at the
// stage's first epoch, as the reference's stage-2 resume did, §3.3).
//
// canonical() writes the resolved config (overrides applied, defaults filled in) as TOML with sorted keys:
// a checkpoint stores it, and resuming compares it (config_differences) with the config of the new run.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "infer/data/lists.h"
#include "infer/transforms.h"
#include "models/registry.h"
#include "train/data/augment.h"

namespace nn::optim {
class Optimizer;
class LRScheduler;
}  // namespace nn::optim

namespace hardtune {

enum class Augmentation { strong, weak, none };
enum class NormalizationKind { cifar, half };

const char* augmentation_name(Augmentation a);
const char* normalization_name(NormalizationKind n);
// The augmentation parameters of a stage (none: nullopt, the deterministic test transform is used).
std::optional<data::AugmentConfig> augment_config(Augmentation a);
infer::Normalization normalization(NormalizationKind n);

struct PretrainedConfig {
  std::string path;  // "" = train from the registry's init
  std::string map = "identity";  // a weights_import key map (`hardtune import --help` lists them)
  bool strict = false;
};

struct DataConfig {
  std::string root;  // the images: list entries are relative to it (string-concatenated, like the reference)
  std::string train_list, val_list;  // "{root}" becomes root, "{fold}" the fold; else relative to the cwd
  std::optional<int> fold;           // required when a path holds "{fold}" (else using the path throws)
  infer::OnBadSample on_bad_sample = infer::OnBadSample::fail;
  bool balanced_sampling = false;    // draw real and fake equally often (the reference's fake_class_weight != 1)
  bool allow_size_mismatch = false;  // accept triplets whose modalities differ in size (data/dataset.h)

  // The list paths with "{root}" and "{fold}" substituted.
  std::string train_list_path() const;
  std::string val_list_path() const;
};

struct OptimizerConfig {
  std::string type = "adam";  // adam | sgd
  double lr = 2e-5;
  double weight_decay = 0.0;
  double beta1 = 0.5, beta2 = 0.999, eps = 1e-8;  // adam (recipe values, REFERENCE.md §3.1)
  double momentum = 0.0, dampening = 0.0;         // sgd
  bool nesterov = false;
};

struct ScheduleConfig {
  std::string type = "cosine_repeat";  // cosine_repeat | cosine | step | constant
  double T_max = 50, T_mult = 0.5, eta_min = 0.0;  // cosine_repeat (T_max, T_mult, eta_min), cosine (T_max, eta_min)
  std::int64_t step_size = 15;  // step
  double gamma = 0.5;           // step
};

struct StageConfig {
  int epochs = 0;
  Augmentation augmentation = Augmentation::strong;
  NormalizationKind normalization = NormalizationKind::cifar;
  bool restart_scheduler = false;  // a fresh scheduler (epoch 0 of the schedule) at this stage's first epoch
};

struct CheckpointPolicy {
  bool every_epoch = true;   // write epoch_<e>.safetensors after every epoch (the resume point is last.safetensors)
  int keep_last = 0;         // keep only the newest N epoch files (0 = all)
  std::vector<int> keep_epochs;  // epoch files never deleted (the reference submitted model_30)
  bool best = true;          // best.safetensors: the lowest validation loss so far
};

struct TrainConfig {
  std::string source;  // the file it came from (messages only; not part of canonical())
  std::string name;    // the run's name: key `name`, else the config file's stem
  models::ModelSpec model;
  PretrainedConfig pretrained;
  DataConfig data;
  std::uint64_t seed = 1;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  int batch_size = 128;
  int workers = 2;
  bool drop_last = true;  // effectively always true in the reference (§3.3)
  std::vector<double> class_weights;  // cross-entropy weight per class; empty = unweighted (the recipe)
  int freeze_epoch = 0;  // epochs < freeze_epoch train nothing but BN running stats (REFERENCE.md §3.3)
  std::vector<StageConfig> stages;
  CheckpointPolicy checkpoint;
  int log_every = 20;  // a progress line every N batches
  std::string out = "runs/{name}";  // "{name}", "{fold}" and "{seed}" substituted
  std::string device = "cpu";       // cpu | cuda (the GPU's kernels; the data pipeline stays on the CPU)
  // How the GPU's convs and GEMMs multiply: fp32 | tf32 | bf16 (bf16 operands, fp32 accumulation and fp32
  // master weights and activations). The CPU always computes in fp32.
  std::string precision = "tf32";

  int total_epochs() const;
  // The stage epoch e (0-based over the run) belongs to, and the epoch its scheduler started at.
  std::size_t stage_of(int epoch) const;
  int stage_start(std::size_t stage) const;
  int schedule_start(int epoch) const;  // the first epoch of the latest stage at or before epoch that restarts

  std::string out_dir() const;  // out with substitutions
  std::string describe() const;  // a readable multi-line summary of the resolved config
  std::string canonical() const;  // TOML, sorted keys, every value explicit
};

TrainConfig load_train_config(const std::string& path);
// source: a name for messages; default_name: the name when the text has no `name` key.
TrainConfig parse_train_config(const std::string& text, const std::string& source,
                               const std::string& default_name = "config");

// The optimizer of [optimizer] over params (the trainable ones: a frozen head is not given to it, §3.3).
std::unique_ptr<nn::optim::Optimizer> make_optimizer(const OptimizerConfig& config, std::vector<nn::Tensor> params);
// The scheduler of [schedule] on optimizer (nullptr for constant). Built at epoch 0 and again at the first
// epoch of every stage with restart_scheduler (TrainConfig::schedule_start): epoch e then trains with the
// lr of schedule epoch e - schedule_start(e), and step() follows each epoch.
std::unique_ptr<nn::optim::LRScheduler> make_scheduler(const ScheduleConfig& config, nn::optim::Optimizer& optimizer);

// Command-line overrides (`hardtune train --fold --seed --out --epochs --device`); unset fields change nothing.
struct ConfigOverrides {
  std::optional<int> fold;
  std::optional<std::uint64_t> seed;
  std::optional<std::string> out;
  std::optional<std::string> root;  // data.root
  // Total epochs: stages past it are dropped and the one it falls in is cut; beyond the configured total
  // the last stage is extended.
  std::optional<int> epochs;
  std::optional<std::string> device;  // cpu | cuda
};
void apply_overrides(TrainConfig& config, const ConfigOverrides& overrides);

// The dotted keys whose values differ between two canonical() texts ("a.b: x -> y"), ignoring keys that
// cannot change the trained weights: out, workers, log_every, device, checkpoint.*.
std::vector<std::string> config_differences(const std::string& canonical_a, const std::string& canonical_b);

}  // namespace hardtune
