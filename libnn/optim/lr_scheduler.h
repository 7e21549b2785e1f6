// Learning-rate schedulers with torch 1.13 semantics (torch.optim.lr_scheduler), driving an Optimizer's
// group lrs, plus HardTune's original CosineRepeatLR.
//
// Construction performs the initial step: last_epoch becomes 0 and the groups' lr is the epoch-0 value
// (the base lr for all of these). Each step() advances one epoch and writes the new lrs into the
// optimizer; so a loop that trains epoch e and then calls step() trains epoch e with lr_e.
// Base lrs are each group's initial_lr, set from its current lr by the first scheduler built on it
// (torch's param_group['initial_lr'], which travels in the optimizer's state_dict).
//
// StepLR and CosineAnnealingLR use torch's recursive ("chainable") get_lr, which reads the group's
// current lr, not the closed form; both are computed in double like Python.
//
// state_dict(): last_epoch (i64), step_count (i64), base_lrs and last_lr (f64 (G)), plus the scheduler's
// own counters (f64 scalars). Resuming = build the scheduler, then load_state_dict(); the optimizer's
// own state (group lrs) must be restored too, since the recursive schedules continue from it.
#pragma once

#include <cstdint>
#include <vector>

#include "libnn/optim/optimizer.h"

namespace nn::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  void step();
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  std::int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }

  StateDict state_dict() const;
  void load_state_dict(const StateDict& dict);

 protected:
  explicit LRScheduler(Optimizer& optimizer);
  // Subclass constructors call this last (the base cannot call virtuals while constructing).
  void initial_step() { step(); }

  // Moves the epoch counters one epoch on (default: ++last_epoch_).
  virtual void advance() { ++last_epoch_; }
  // The lrs for last_epoch_, one per group.
  virtual std::vector<double> get_lr() = 0;
  // Extra counters for state_dict, by name.
  virtual std::vector<std::pair<const char*, double*>> counters() { return {}; }

  Optimizer& optimizer_;
  std::int64_t last_epoch_ = -1;
  std::int64_t step_count_ = 0;  // torch's _step_count: step() calls, the initial one included
  std::vector<double> base_lrs_;
  std::vector<double> last_lr_;
};

// lr = lr * gamma at every epoch that is a multiple of step_size.
class StepLR final : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma = 0.1);

 protected:
  std::vector<double> get_lr() override;

 private:
  std::int64_t step_size_;
  double gamma_;
};

// Cosine from the base lr to eta_min over T_max epochs, then back up (period 2 T_max): torch's
// recursive form, equal to eta_min + (base - eta_min) (1 + cos(pi e / T_max)) / 2 up to rounding.
class CosineAnnealingLR final : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, std::int64_t T_max, double eta_min = 0.0);

 protected:
  std::vector<double> get_lr() override;

 private:
  std::int64_t T_max_;
  double eta_min_;
};

// SGDR: the cosine restarts at the base lr after T_0, T_0 T_mult, T_0 T_mult^2, ... epochs.
class CosineAnnealingWarmRestarts final : public LRScheduler {
 public:
  CosineAnnealingWarmRestarts(Optimizer& optimizer, std::int64_t T_0, std::int64_t T_mult = 1, double eta_min = 0.0);

 protected:
  void advance() override;
  std::vector<double> get_lr() override;
  std::vector<std::pair<const char*, double*>> counters() override { return {{"T_cur", &T_cur_}, {"T_i", &T_i_}}; }

 private:
  std::int64_t T_0_;
  std::int64_t T_mult_;
  double eta_min_;
  double T_cur_ = -1;
  double T_i_;
};

// HardTune's cosine_repeat_lr (utils/optimizer.py, CosineRepeatAnnealingLR), the schedule of every run:
//   lr_e = eta_min + (base - eta_min) (1 + cos(pi (e - T_start) / T_max)) / 2
// and right after computing lr_e, if e - T_start == T_max exactly, a restart: T_start = e,
// T_max = T_max * T_mult. So cycle i has period T_max * T_mult^i (T_mult is a float, 0.5 in the recipe:
// periods 50, 25, 12.5, ...), the restart epoch itself trains at eta_min (the end of the old cycle) and
// the new cycle's lr rises straight to base (1 + cos(pi / T_i)) / 2 on the next epoch. A period that is
// not a whole number of epochs is never hit exactly, so from then on the cosine simply continues past its
// minimum (period 2 T_i), as the original did. Recipe values (T_max 50, T_mult 0.5): e0 2.0e-5,
// e10 1.809e-5, e20 1.309e-5, e29 7.51e-6, e30 6.91e-6, e49 1.97e-8, e50 0.
// The original ran on torch 1.0 (step() before each epoch; the constructor's step(0) was undone); here,
// like the other schedulers, construction sets epoch 0 and step() follows each epoch: the same lr_e.
class CosineRepeatLR final : public LRScheduler {
 public:
  CosineRepeatLR(Optimizer& optimizer, double T_max, double T_mult = 1.0, double eta_min = 0.0);

 protected:
  std::vector<double> get_lr() override;
  std::vector<std::pair<const char*, double*>> counters() override {
    return {{"T_start", &T_start_}, {"T_max", &T_max_}};
  }

 private:
  double T_max_;
  double T_mult_;
  double eta_min_;
  double T_start_ = 0;
};

}  // namespace nn::optim
