#include "train/checkpoint.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "libnn/core/check.h"
#include "libnn/nn/state_dict.h"
#include "train/config.h"

namespace hardtune {

namespace {

std::string exact(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

const std::string& field(const nn::io::Safetensors& file, const std::string& key) {
  const auto it = file.metadata.find(key);
  NN_CHECK(it != file.metadata.end(), file.source, ": not a complete training checkpoint (no metadata \"", key, "\")");
  return it->second;
}

long long integer_field(const nn::io::Safetensors& file, const std::string& key) {
  const std::string& s = field(file, key);
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  NN_CHECK(!s.empty() && *end == 0 && errno == 0, file.source, ": metadata \"", key, "\" = \"", s, "\" is not an integer");
  return v;
}

double real_field(const nn::io::Safetensors& file, const std::string& key) {
  const std::string& s = field(file, key);
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  NN_CHECK(!s.empty() && *end == 0, file.source, ": metadata \"", key, "\" = \"", s, "\" is not a number");
  return v;
}

// Runs restore, prefixing any error with the file and the part.
template <typename F>
void restoring(const std::string& path, const char* part, F&& restore) {
  try {
    restore();
  } catch (const nn::Error& e) {
    throw nn::Error(nn::str(path, ": cannot restore the ", part, ": ", e.what()));
  }
}

}  // namespace

void save_checkpoint(const std::string& path, const TrainingState& state, const TrainingProgress& progress,
                     const std::string& config, const nn::io::Metadata& extra) {
  nn::StateDict all;
  auto add = [&](const nn::StateDict& part, const char* prefix) {
    for (auto& kv : nn::with_prefix(part, prefix)) all.push_back(std::move(kv));
  };
  if (state.model) add(state.model->state_dict(), "model.");
  if (state.optimizer) add(state.optimizer->state_dict(), "optimizer.");
  if (state.scheduler) add(state.scheduler->state_dict(), "scheduler.");
  nn::io::Metadata meta{{"format", kCheckpointFormat},
                        {"epoch", std::to_string(progress.epoch)},
                        {"stage", std::to_string(progress.stage)},
                        {"best_val_loss", exact(progress.best_val_loss)},
                        {"best_epoch", std::to_string(progress.best_epoch)},
                        {"config", config}};
  for (const auto& [key, value] : extra) meta.emplace(key, value);  // never overrides the checkpoint's own keys
  for (const auto& [name, gen] : state.generators)
    meta["rng." + name] = std::to_string(gen->seed()) + " " + std::to_string(gen->offset());
  nn::save_state_dict(all, path, meta);
}

CheckpointInfo read_checkpoint(const std::string& path) {
  CheckpointInfo info{{}, {}, nn::io::load_safetensors(path)};
  const auto& file = info.file;
  const std::string& format = field(file, "format");
  NN_CHECK(format == kCheckpointFormat, path, ": checkpoint format \"", format, "\", this build reads \"",
           kCheckpointFormat, "\"");
  info.progress.epoch = static_cast<int>(integer_field(file, "epoch"));
  info.progress.stage = static_cast<int>(integer_field(file, "stage"));
  info.progress.best_val_loss = real_field(file, "best_val_loss");
  info.progress.best_epoch = static_cast<int>(integer_field(file, "best_epoch"));
  info.config = field(file, "config");
  return info;
}

TrainingProgress load_checkpoint(const std::string& path, const TrainingState& state, const std::string& config,
                                 bool force) {
  CheckpointInfo info = read_checkpoint(path);
  if (!config.empty() && !force) {
    const auto diff = config_differences(info.config, config);
    if (!diff.empty()) {
      std::string list;
      for (const auto& d : diff) list += "\n  " + d;
      throw nn::Error(nn::str(path, ": the checkpoint was written with another config (checkpoint -> now):", list,
                              "\nresume with the same config, or force it"));
    }
  }
  const auto& tensors = info.file.tensors;
  if (state.model) restoring(path, "model", [&] { state.model->load_state_dict(nn::strip_prefix(tensors, "model.")); });
  if (state.optimizer)
    restoring(path, "optimizer", [&] { state.optimizer->load_state_dict(nn::strip_prefix(tensors, "optimizer.")); });
  if (state.scheduler)
    restoring(path, "scheduler", [&] { state.scheduler->load_state_dict(nn::strip_prefix(tensors, "scheduler.")); });
  for (const auto& [name, gen] : state.generators) {
    const std::string& s = field(info.file, "rng." + name);
    std::istringstream in(s);
    std::uint64_t seed = 0, offset = 0;
    NN_CHECK((in >> seed >> offset) && (in >> std::ws).eof(), path, ": metadata \"rng.", name, "\" = \"", s,
             "\" is not \"<seed> <offset>\"");
    gen->set_state(seed, offset);
  }
  return info.progress;
}

}  // namespace hardtune
