#include "libnn/optim/lr_scheduler.h"

#include <cmath>
#include <numbers>

namespace nn::optim {

namespace {

// Python's a % b for b > 0: never negative.
std::int64_t py_mod(std::int64_t a, std::int64_t b) { return ((a % b) + b) % b; }

}  // namespace

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer) {
  for (std::size_t g = 0; g < optimizer.num_groups(); ++g) {
    if (!optimizer.initial_lr(g)) optimizer.set_initial_lr(g, optimizer.lr(g));
    base_lrs_.push_back(*optimizer.initial_lr(g));
  }
}

void LRScheduler::step() {
  ++step_count_;
  advance();
  const std::vector<double> lrs = get_lr();
  for (std::size_t g = 0; g < lrs.size(); ++g) optimizer_.set_lr(g, lrs[g]);
  last_lr_ = optimizer_.lrs();
}

StateDict LRScheduler::state_dict() const {
  StateDict out;
  out.emplace_back("last_epoch", Tensor::full({}, static_cast<double>(last_epoch_), DType::i64));
  out.emplace_back("step_count", Tensor::full({}, static_cast<double>(step_count_), DType::i64));
  out.emplace_back("base_lrs", Tensor::from_vector({static_cast<index_t>(base_lrs_.size())}, base_lrs_, DType::f64));
  out.emplace_back("last_lr", Tensor::from_vector({static_cast<index_t>(last_lr_.size())}, last_lr_, DType::f64));
  for (const auto& [name, value] : const_cast<LRScheduler*>(this)->counters())
    out.emplace_back(name, Tensor::full({}, *value, DType::f64));
  return out;
}

void LRScheduler::load_state_dict(const StateDict& dict) {
  auto get = [&](const std::string& key) {
    const Tensor t = find_entry(dict, key);
    NN_CHECK(t.defined(), "LRScheduler.load_state_dict: missing ", key);
    return t;
  };
  const auto groups = static_cast<index_t>(base_lrs_.size());
  const Tensor base = get("base_lrs"), last = get("last_lr");
  NN_CHECK(base.numel() == groups && last.numel() == groups, "LRScheduler.load_state_dict: state for ",
           base.numel(), " parameter groups, the optimizer has ", groups);
  const auto counters = this->counters();
  for (const auto& [name, value] : counters) get(name);
  NN_CHECK(dict.size() == 4 + counters.size(), "LRScheduler.load_state_dict: ", dict.size(), " entries, expected ",
           4 + counters.size());

  last_epoch_ = static_cast<std::int64_t>(get("last_epoch").item());
  step_count_ = static_cast<std::int64_t>(get("step_count").item());
  base_lrs_ = base.to_vector();
  last_lr_ = last.to_vector();
  for (const auto& [name, value] : counters) *value = get(name).item();
}

// ---- StepLR

StepLR::StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  NN_CHECK(step_size > 0, "StepLR: step_size must be positive, got ", step_size);
  initial_step();
}

std::vector<double> StepLR::get_lr() {
  std::vector<double> lrs = optimizer_.lrs();
  if (last_epoch_ == 0 || last_epoch_ % step_size_ != 0) return lrs;
  for (double& lr : lrs) lr *= gamma_;
  return lrs;
}

// ---- CosineAnnealingLR

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, std::int64_t T_max, double eta_min)
    : LRScheduler(optimizer), T_max_(T_max), eta_min_(eta_min) {
  NN_CHECK(T_max > 0, "CosineAnnealingLR: T_max must be positive, got ", T_max);
  initial_step();
}

std::vector<double> CosineAnnealingLR::get_lr() {
  constexpr double pi = std::numbers::pi;
  std::vector<double> lrs = optimizer_.lrs();
  const double e = static_cast<double>(last_epoch_), T = static_cast<double>(T_max_);
  if (last_epoch_ == 0) return lrs;
  if (step_count_ == 1 && last_epoch_ > 0) {  // built with last_epoch > 0 (kept for parity; unused here)
    for (std::size_t g = 0; g < lrs.size(); ++g)
      lrs[g] = eta_min_ + (base_lrs_[g] - eta_min_) * (1 + std::cos(e * pi / T)) / 2;
  } else if (py_mod(last_epoch_ - 1 - T_max_, 2 * T_max_) == 0) {
    for (std::size_t g = 0; g < lrs.size(); ++g)
      lrs[g] = lrs[g] + (base_lrs_[g] - eta_min_) * (1 - std::cos(pi / T)) / 2;
  } else {
    for (double& lr : lrs)
      lr = (1 + std::cos(pi * e / T)) / (1 + std::cos(pi * (e - 1) / T)) * (lr - eta_min_) + eta_min_;
  }
  return lrs;
}

// ---- CosineAnnealingWarmRestarts

CosineAnnealingWarmRestarts::CosineAnnealingWarmRestarts(Optimizer& optimizer, std::int64_t T_0, std::int64_t T_mult,
                                                         double eta_min)
    : LRScheduler(optimizer), T_0_(T_0), T_mult_(T_mult), eta_min_(eta_min), T_i_(static_cast<double>(T_0)) {
  NN_CHECK(T_0 > 0, "CosineAnnealingWarmRestarts: expected positive T_0, got ", T_0);
  NN_CHECK(T_mult >= 1, "CosineAnnealingWarmRestarts: expected integer T_mult >= 1, got ", T_mult);
  initial_step();
}

void CosineAnnealingWarmRestarts::advance() {
  if (last_epoch_ < 0) {  // the initial step: torch's step(epoch=0)
    T_i_ = static_cast<double>(T_0_);
    T_cur_ = 0;
    last_epoch_ = 0;
    return;
  }
  ++last_epoch_;
  T_cur_ += 1;
  if (T_cur_ >= T_i_) {
    T_cur_ -= T_i_;
    T_i_ *= static_cast<double>(T_mult_);
  }
}

std::vector<double> CosineAnnealingWarmRestarts::get_lr() {
  std::vector<double> lrs;
  for (double base : base_lrs_)
    lrs.push_back(eta_min_ + (base - eta_min_) * (1 + std::cos(std::numbers::pi * T_cur_ / T_i_)) / 2);
  return lrs;
}

// ---- CosineRepeatLR

CosineRepeatLR::CosineRepeatLR(Optimizer& optimizer, double T_max, double T_mult, double eta_min)
    : LRScheduler(optimizer), T_max_(T_max), T_mult_(T_mult), eta_min_(eta_min) {
  NN_CHECK(T_max > 0, "CosineRepeatLR: T_max must be positive, got ", T_max);
  NN_CHECK(T_mult > 0, "CosineRepeatLR: T_mult must be positive, got ", T_mult);
  initial_step();
}

std::vector<double> CosineRepeatLR::get_lr() {
  const double e = static_cast<double>(last_epoch_);
  std::vector<double> lrs;
  for (double base : base_lrs_)
    lrs.push_back(eta_min_ + (base - eta_min_) * (1 + std::cos(std::numbers::pi * (e - T_start_) / T_max_)) / 2);
  if (e - T_start_ == T_max_) {  // restart after this epoch
    T_start_ = e;
    T_max_ *= T_mult_;
  }
  return lrs;
}

}  // namespace nn::optim
