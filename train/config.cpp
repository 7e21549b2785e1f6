#include "train/config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "libnn/core/check.h"
#include "libnn/optim/adam.h"
#include "libnn/optim/lr_scheduler.h"
#include "libnn/optim/sgd.h"
#include "models/toml_config.h"

namespace hardtune {

namespace {

using models::TomlReader;

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
}

Augmentation parse_augmentation(const std::string& s) {
  return s == "strong" ? Augmentation::strong : s == "weak" ? Augmentation::weak : Augmentation::none;
}

std::string fold_path(const std::string& path, const std::optional<int>& fold, const std::string& key) {
  std::string out = path;
  if (out.find("{fold}") != std::string::npos) {
    NN_CHECK(fold, key, " = \"", path, "\" contains {fold} but no fold is set (data.fold or --fold)");
    replace_all(out, "{fold}", std::to_string(*fold));
  }
  return out;
}

std::string with_root(const std::string& root, std::string path) {
  std::string r = root;
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  replace_all(path, "{root}", r);
  return path;
}

void read_model(TomlReader& root, TrainConfig& c) {
  auto model = root.table("model");
  NN_CHECK(model, c.source, ": no [model] table (name = \"...\", see configs/README.md)");
  c.model = models::read_model_spec(*model);
}

void read_pretrained(TomlReader& root, PretrainedConfig& p) {
  auto t = root.table("pretrained");
  if (!t) return;
  p.path = t->string("path", p.path);
  p.map = t->string("map", p.map);
  p.strict = t->boolean("strict", p.strict);
  t->finish();
}

void read_data(TomlReader& root, DataConfig& d, const std::string& source) {
  auto t = root.table("data");
  NN_CHECK(t, source, ": no [data] table (root, train_list, val_list; see configs/README.md)");
  d.root = t->string("root", d.root);
  d.train_list = t->string("train_list", d.train_list);
  NN_CHECK(!d.train_list.empty(), t->where("train_list"), "required");
  d.val_list = t->string("val_list", d.val_list);
  if (t->has("fold")) d.fold = static_cast<int>(t->integer_in("fold", 1, 0, 1000));
  d.on_bad_sample = t->choice("on_bad_sample", "fail", {"fail", "skip"}) == "skip" ? infer::OnBadSample::skip
                                                                                  : infer::OnBadSample::fail;
  d.balanced_sampling = t->boolean("balanced_sampling", d.balanced_sampling);
  d.allow_size_mismatch = t->boolean("allow_size_mismatch", d.allow_size_mismatch);
  t->finish();
}

void read_optimizer(TomlReader& root, OptimizerConfig& o) {
  auto t = root.table("optimizer");
  if (!t) return;
  o.type = t->choice("type", o.type, {"adam", "sgd"});
  o.lr = t->real("lr", o.lr);
  NN_CHECK(o.lr > 0, t->where("lr"), "must be > 0");
  o.weight_decay = t->real("weight_decay", o.weight_decay);
  NN_CHECK(o.weight_decay >= 0, t->where("weight_decay"), "must be >= 0");
  if (o.type == "adam") {
    if (auto betas = t->reals("betas")) {
      NN_CHECK(betas->size() == 2 && (*betas)[0] >= 0 && (*betas)[0] < 1 && (*betas)[1] >= 0 && (*betas)[1] < 1,
               t->where("betas"), "expected two numbers in [0, 1)");
      o.beta1 = (*betas)[0], o.beta2 = (*betas)[1];
    }
    o.eps = t->real("eps", o.eps);
    NN_CHECK(o.eps > 0, t->where("eps"), "must be > 0");
  } else {
    o.momentum = t->real("momentum", o.momentum);
    o.dampening = t->real("dampening", o.dampening);
    o.nesterov = t->boolean("nesterov", o.nesterov);
    NN_CHECK(o.momentum >= 0, t->where("momentum"), "must be >= 0");
    NN_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0), t->where("nesterov"),
             "needs momentum > 0 and dampening = 0");
  }
  t->finish();  // adam keys under sgd (and the reverse) are reported as unknown
}

void read_schedule(TomlReader& root, ScheduleConfig& s) {
  auto t = root.table("schedule");
  if (!t) return;
  s.type = t->choice("type", s.type, {"cosine_repeat", "cosine", "step", "constant"});
  if (s.type == "cosine_repeat" || s.type == "cosine") {
    s.T_max = t->real("T_max", s.T_max);
    NN_CHECK(s.T_max >= 1, t->where("T_max"), "must be >= 1 (epochs)");
    if (s.type == "cosine") NN_CHECK(s.T_max == static_cast<double>(static_cast<std::int64_t>(s.T_max)),
                                     t->where("T_max"), "must be a whole number of epochs for cosine");
    if (s.type == "cosine_repeat") {
      s.T_mult = t->real("T_mult", s.T_mult);
      NN_CHECK(s.T_mult > 0, t->where("T_mult"), "must be > 0");
    }
    s.eta_min = t->real("eta_min", s.eta_min);
    NN_CHECK(s.eta_min >= 0, t->where("eta_min"), "must be >= 0");
  } else if (s.type == "step") {
    s.step_size = t->integer_in("step_size", s.step_size, 1, 1 << 20);
    s.gamma = t->real("gamma", s.gamma);
    NN_CHECK(s.gamma > 0, t->where("gamma"), "must be > 0");
  }
  t->finish();
}

void read_stages(TomlReader& root, std::vector<StageConfig>& stages, const std::string& source) {
  for (TomlReader& t : root.tables("stage")) {
    StageConfig s;
    NN_CHECK(t.has("epochs"), t.where("epochs"), "required");
    s.epochs = static_cast<int>(t.integer_in("epochs", 0, 1, 100000));
    s.augmentation = parse_augmentation(t.choice("augmentation", "strong", {"strong", "weak", "none"}));
    s.normalization =
        t.choice("normalization", "cifar", {"cifar", "half"}) == "half" ? NormalizationKind::half : NormalizationKind::cifar;
    s.restart_scheduler = t.boolean("restart_scheduler", false);
    t.finish();
    stages.push_back(s);
  }
  NN_CHECK(!stages.empty(), source, ": no [[stage]] (at least one: epochs, augmentation, normalization)");
}

void read_checkpoint(TomlReader& root, CheckpointPolicy& p) {
  auto t = root.table("checkpoint");
  if (!t) return;
  p.every_epoch = t->boolean("every_epoch", p.every_epoch);
  p.keep_last = static_cast<int>(t->integer_in("keep_last", p.keep_last, 0, 1 << 20));
  if (auto keep = t->reals("keep_epochs")) {
    p.keep_epochs.clear();
    for (double e : *keep) {
      NN_CHECK(e >= 0 && e == static_cast<double>(static_cast<int>(e)), t->where("keep_epochs"),
               "expected epoch numbers (integers >= 0)");
      p.keep_epochs.push_back(static_cast<int>(e));
    }
  }
  p.best = t->boolean("best", p.best);
  t->finish();
}

// ---- canonical form ----

toml::array int_array(const std::vector<int>& v) {
  toml::array a;
  for (int x : v) a.push_back(static_cast<std::int64_t>(x));
  return a;
}

toml::array real_array(const std::vector<double>& v) {
  toml::array a;
  for (double x : v) a.push_back(x);
  return a;
}

// Every leaf as "dotted.key" -> its TOML text ([[stage]] entries as stage.0.epochs, ...).
void flatten(const toml::node& node, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (const auto* t = node.as_table()) {
    for (const auto& [k, v] : *t) flatten(v, prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str()), out);
  } else if (const auto* a = node.as_array(); a && a->is_array_of_tables()) {
    for (std::size_t i = 0; i < a->size(); ++i) flatten(*a->get(i), prefix + "." + std::to_string(i), out);
  } else {
    std::ostringstream s;
    node.visit([&](const auto& v) { s << v; });
    out[prefix] = s.str();
  }
}

bool result_neutral(const std::string& key) {
  // The device moves the run, not its recipe: a run started on the CPU may resume on a GPU.
  return key == "out" || key == "workers" || key == "log_every" || key == "device" || key.starts_with("checkpoint.");
}

}  // namespace

const char* augmentation_name(Augmentation a) {
  return a == Augmentation::strong ? "strong" : a == Augmentation::weak ? "weak" : "none";
}

const char* normalization_name(NormalizationKind n) { return n == NormalizationKind::cifar ? "cifar" : "half"; }

std::optional<data::AugmentConfig> augment_config(Augmentation a) {
  if (a == Augmentation::strong) return data::AugmentConfig::strong();
  if (a == Augmentation::weak) return data::AugmentConfig::weak();
  return std::nullopt;
}

infer::Normalization normalization(NormalizationKind n) {
  return n == NormalizationKind::cifar ? infer::Normalization::cifar() : infer::Normalization::half();
}

std::string DataConfig::train_list_path() const { return with_root(root, fold_path(train_list, fold, "data.train_list")); }
std::string DataConfig::val_list_path() const { return with_root(root, fold_path(val_list, fold, "data.val_list")); }

int TrainConfig::total_epochs() const {
  int n = 0;
  for (const auto& s : stages) n += s.epochs;
  return n;
}

std::size_t TrainConfig::stage_of(int epoch) const {
  NN_CHECK(epoch >= 0 && epoch < total_epochs(), source, ": epoch ", epoch, " is outside the run's ", total_epochs(),
           " epochs");
  for (std::size_t s = 0;; ++s) {
    if (epoch < stage_start(s) + stages[s].epochs) return s;
  }
}

int TrainConfig::stage_start(std::size_t stage) const {
  int start = 0;
  for (std::size_t s = 0; s < stage; ++s) start += stages.at(s).epochs;
  return start;
}

int TrainConfig::schedule_start(int epoch) const {
  for (std::size_t s = stage_of(epoch) + 1; s-- > 0;)
    if (stages[s].restart_scheduler) return stage_start(s);
  return 0;
}

std::string TrainConfig::out_dir() const {
  std::string o = out;
  replace_all(o, "{name}", name);
  replace_all(o, "{seed}", std::to_string(seed));
  return fold_path(o, data.fold, source + ": out");
}

TrainConfig parse_train_config(const std::string& text, const std::string& source, const std::string& default_name) {
  const toml::table doc = models::parse_toml_text(text, source);
  TomlReader root(doc, source);
  TrainConfig c;
  c.source = source;
  c.name = root.string("name", default_name);
  read_model(root, c);
  read_pretrained(root, c.pretrained);
  read_data(root, c.data, source);
  const std::int64_t seed = root.integer("seed", static_cast<std::int64_t>(c.seed));
  NN_CHECK(seed >= 0, root.where("seed"), "must be >= 0");
  c.seed = static_cast<std::uint64_t>(seed);
  read_optimizer(root, c.optimizer);
  read_schedule(root, c.schedule);
  c.batch_size = static_cast<int>(root.integer_in("batch_size", c.batch_size, 1, 1 << 20));
  c.workers = static_cast<int>(root.integer_in("workers", c.workers, 0, 1024));
  c.drop_last = root.boolean("drop_last", c.drop_last);
  if (auto w = root.reals("class_weights")) {
    NN_CHECK(static_cast<models::index_t>(w->size()) == c.model.options.num_classes, root.where("class_weights"),
             "expected ", c.model.options.num_classes, " weights (one per class, fake first), got ", w->size());
    for (double x : *w) NN_CHECK(x >= 0, root.where("class_weights"), "weights must be >= 0");
    c.class_weights = *w;
  }
  c.freeze_epoch = static_cast<int>(root.integer_in("freeze_epoch", c.freeze_epoch, 0, 100000));
  read_stages(root, c.stages, source);
  read_checkpoint(root, c.checkpoint);
  c.log_every = static_cast<int>(root.integer_in("log_every", c.log_every, 1, 1 << 30));
  c.out = root.string("out", c.out);
  c.device = root.choice("device", c.device, {"cpu", "cuda"});
  c.precision = root.choice("precision", c.precision, {"fp32", "tf32", "bf16"});
  root.finish();
  return c;
}

TrainConfig load_train_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  NN_CHECK(in, path, ": cannot open the training config");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_train_config(text.str(), path, std::filesystem::path(path).stem().string());
}

std::unique_ptr<nn::optim::Optimizer> make_optimizer(const OptimizerConfig& c, std::vector<nn::Tensor> params) {
  if (c.type == "sgd")
    return std::make_unique<nn::optim::SGD>(std::move(params), nn::optim::SgdOptions{.lr = c.lr,
                                                                                    .momentum = c.momentum,
                                                                                    .dampening = c.dampening,
                                                                                    .weight_decay = c.weight_decay,
                                                                                    .nesterov = c.nesterov});
  NN_CHECK(c.type == "adam", "make_optimizer: unknown optimizer type \"", c.type, "\"");
  return std::make_unique<nn::optim::Adam>(
      std::move(params),
      nn::optim::AdamOptions{.lr = c.lr, .beta1 = c.beta1, .beta2 = c.beta2, .eps = c.eps, .weight_decay = c.weight_decay});
}

std::unique_ptr<nn::optim::LRScheduler> make_scheduler(const ScheduleConfig& c, nn::optim::Optimizer& optimizer) {
  if (c.type == "cosine_repeat") return std::make_unique<nn::optim::CosineRepeatLR>(optimizer, c.T_max, c.T_mult, c.eta_min);
  if (c.type == "cosine")
    return std::make_unique<nn::optim::CosineAnnealingLR>(optimizer, static_cast<std::int64_t>(c.T_max), c.eta_min);
  if (c.type == "step") return std::make_unique<nn::optim::StepLR>(optimizer, c.step_size, c.gamma);
  NN_CHECK(c.type == "constant", "make_scheduler: unknown schedule type \"", c.type, "\"");
  return nullptr;
}

void apply_overrides(TrainConfig& c, const ConfigOverrides& o) {
  if (o.fold) {
    NN_CHECK(*o.fold >= 0, "--fold must be >= 0");
    c.data.fold = *o.fold;
  }
  if (o.seed) c.seed = *o.seed;
  if (o.out) c.out = *o.out;
  if (o.root) c.data.root = *o.root;
  if (o.device) {
    NN_CHECK(*o.device == "cpu" || *o.device == "cuda", "--device must be cpu or cuda, got '", *o.device, "'");
    c.device = *o.device;
  }
  if (o.epochs) {
    NN_CHECK(*o.epochs >= 1, "--epochs must be >= 1");
    int left = *o.epochs;
    std::vector<StageConfig> kept;
    for (const auto& s : c.stages) {
      if (left == 0) break;
      kept.push_back(s);
      kept.back().epochs = std::min(s.epochs, left);
      left -= kept.back().epochs;
    }
    kept.back().epochs += left;  // beyond the configured total: the last stage runs longer
    c.stages = std::move(kept);
  }
}

std::string TrainConfig::canonical() const {
  toml::table t;
  t.insert("name", name);
  t.insert("seed", static_cast<std::int64_t>(seed));
  t.insert("batch_size", batch_size);
  t.insert("workers", workers);
  t.insert("drop_last", drop_last);
  if (!class_weights.empty()) t.insert("class_weights", real_array(class_weights));
  t.insert("freeze_epoch", freeze_epoch);
  t.insert("log_every", log_every);
  t.insert("out", out);
  t.insert("device", device);
  t.insert("precision", precision);
  t.insert("model", toml::table{{"name", model.name},
                                {"head", model.options.head},
                                {"num_classes", static_cast<std::int64_t>(model.options.num_classes)},
                                {"frozen_head", model.options.frozen_head}});
  t.insert("pretrained", toml::table{{"path", pretrained.path}, {"map", pretrained.map}, {"strict", pretrained.strict}});
  toml::table d{{"root", data.root},
                {"train_list", data.train_list},
                {"val_list", data.val_list},
                {"on_bad_sample", data.on_bad_sample == infer::OnBadSample::skip ? "skip" : "fail"},
                {"balanced_sampling", data.balanced_sampling},
                {"allow_size_mismatch", data.allow_size_mismatch}};
  if (data.fold) d.insert("fold", *data.fold);
  t.insert("data", std::move(d));
  toml::table opt{{"type", optimizer.type}, {"lr", optimizer.lr}, {"weight_decay", optimizer.weight_decay}};
  if (optimizer.type == "adam") {
    opt.insert("betas", toml::array{optimizer.beta1, optimizer.beta2});
    opt.insert("eps", optimizer.eps);
  } else {
    opt.insert("momentum", optimizer.momentum);
    opt.insert("dampening", optimizer.dampening);
    opt.insert("nesterov", optimizer.nesterov);
  }
  t.insert("optimizer", std::move(opt));
  toml::table sched{{"type", schedule.type}};
  if (schedule.type == "cosine_repeat" || schedule.type == "cosine") {
    sched.insert("T_max", schedule.T_max);
    sched.insert("eta_min", schedule.eta_min);
    if (schedule.type == "cosine_repeat") sched.insert("T_mult", schedule.T_mult);
  } else if (schedule.type == "step") {
    sched.insert("step_size", schedule.step_size);
    sched.insert("gamma", schedule.gamma);
  }
  t.insert("schedule", std::move(sched));
  toml::array st;
  for (const auto& s : stages)
    st.push_back(toml::table{{"epochs", s.epochs},
                             {"augmentation", augmentation_name(s.augmentation)},
                             {"normalization", normalization_name(s.normalization)},
                             {"restart_scheduler", s.restart_scheduler}});
  t.insert("stage", std::move(st));
  t.insert("checkpoint", toml::table{{"every_epoch", checkpoint.every_epoch},
                                     {"keep_last", checkpoint.keep_last},
                                     {"keep_epochs", int_array(checkpoint.keep_epochs)},
                                     {"best", checkpoint.best}});
  std::ostringstream s;
  s << toml::toml_formatter(t);
  return s.str() + "\n";
}

std::string TrainConfig::describe() const {
  // Paths still holding {fold} (no fold chosen yet) are shown as written.
  auto shown = [](const auto& resolve, const std::string& raw) {
    try {
      return resolve();
    } catch (const nn::Error&) {
      return raw;
    }
  };
  std::ostringstream s;
  s << "run " << name << " (" << source << "), seed " << seed << ", out " << shown([&] { return out_dir(); }, out) << "\n";
  s << "  model " << model.name << ", head " << model.options.head << (model.options.frozen_head ? " (frozen)" : "")
    << ", " << model.options.num_classes << " classes\n";
  s << "  pretrained " << (pretrained.path.empty() ? "none (registry init)" : pretrained.path + " via map " + pretrained.map +
                                                                                 (pretrained.strict ? " (strict)" : ""))
    << "\n";
  s << "  data: root " << data.root << ", train " << shown([&] { return data.train_list_path(); }, data.train_list)
    << ", val " << (data.val_list.empty() ? "none" : shown([&] { return data.val_list_path(); }, data.val_list))
    << (data.fold ? ", fold " + std::to_string(*data.fold) : "") << ", bad samples: "
    << (data.on_bad_sample == infer::OnBadSample::skip ? "skip" : "fail")
    << (data.balanced_sampling ? ", balanced sampling" : "")
    << (data.allow_size_mismatch ? ", modality sizes may differ" : "") << "\n";
  s << "  device " << device << (device == "cuda" ? ", " + precision + " products" : "") << "\n";
  s << "  batch " << batch_size << (drop_last ? " (drop last)" : "") << ", " << workers << " workers";
  if (!class_weights.empty()) {
    s << ", class weights";
    for (double w : class_weights) s << " " << w;
  }
  if (freeze_epoch > 0) s << ", backbone frozen before epoch " << freeze_epoch;
  s << "\n  optimizer " << optimizer.type << " lr " << optimizer.lr << " weight_decay " << optimizer.weight_decay;
  if (optimizer.type == "adam") s << " betas (" << optimizer.beta1 << ", " << optimizer.beta2 << ") eps " << optimizer.eps;
  else s << " momentum " << optimizer.momentum << " dampening " << optimizer.dampening << (optimizer.nesterov ? " nesterov" : "");
  s << "\n  schedule " << schedule.type;
  if (schedule.type == "cosine_repeat" || schedule.type == "cosine") s << " T_max " << schedule.T_max;
  if (schedule.type == "cosine_repeat") s << " T_mult " << schedule.T_mult;
  if (schedule.type == "cosine_repeat" || schedule.type == "cosine") s << " eta_min " << schedule.eta_min;
  if (schedule.type == "step") s << " step_size " << schedule.step_size << " gamma " << schedule.gamma;
  s << "\n";
  for (std::size_t i = 0; i < stages.size(); ++i) {
    const auto& st = stages[i];
    const int start = stage_start(i);
    s << "  stage " << i + 1 << ": epochs " << start << ".." << start + st.epochs - 1 << ", "
      << augmentation_name(st.augmentation) << " augmentation, " << normalization_name(st.normalization)
      << " normalisation" << (st.restart_scheduler ? ", scheduler restarts" : "") << "\n";
  }
  s << "  checkpoints: " << (checkpoint.every_epoch ? "every epoch" : "last only");
  if (checkpoint.keep_last > 0) s << ", keep last " << checkpoint.keep_last;
  if (!checkpoint.keep_epochs.empty()) {
    s << ", keep epochs";
    for (int e : checkpoint.keep_epochs) s << " " << e;
  }
  s << (checkpoint.best ? ", best by val loss" : "") << "; log every " << log_every << " batches\n";
  return s.str();
}

std::vector<std::string> config_differences(const std::string& canonical_a, const std::string& canonical_b) {
  std::map<std::string, std::string> a, b;
  flatten(models::parse_toml_text(canonical_a, "config A"), "", a);
  flatten(models::parse_toml_text(canonical_b, "config B"), "", b);
  std::vector<std::string> out;
  auto note = [&](const std::string& key) {
    if (result_neutral(key)) return;
    const auto ia = a.find(key), ib = b.find(key);
    const std::string va = ia == a.end() ? "(absent)" : ia->second, vb = ib == b.end() ? "(absent)" : ib->second;
    if (va != vb) out.push_back(key + ": " + va + " -> " + vb);
  };
  for (const auto& [k, v] : a) note(k);
  for (const auto& [k, v] : b)
    if (!a.count(k)) note(k);
  return out;
}

}  // namespace hardtune
