// Optimizer: parameter groups, per-parameter state, step / zero_grad, and checkpoint export, following
// torch.optim.Optimizer (1.13).
//
// - step() runs under NoGradGuard and skips parameters whose grad is undefined (frozen ones, or ones the
//   loss did not reach), exactly like PyTorch: their state, step count included, does not advance.
// - zero_grad() sets every grad to undefined (torch's set_to_none=True).
// - Parameter state is indexed like torch's state_dict: parameters numbered 0, 1, ... over the groups in
//   order. state_dict() entries:
//     param_groups.<g>.<hyper>    f64 scalar: lr, weight_decay and the optimizer's own hyper-parameters
//     param_groups.<g>.initial_lr f64 scalar, once an LR scheduler has set it (torch's 'initial_lr')
//     param_groups.<g>.params     i64 (n): the parameter numbers of the group
//     state.<k>.step              i64 scalar: updates applied to parameter k (after its first update)
//     state.<k>.<buffer>          momentum_buffer, exp_avg, exp_avg_sq: tensors shaped like parameter k
//   load_state_dict() restores hyper-parameters and state (converted to the parameter's dtype), after
//   checking that groups and parameter shapes match.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "libnn/core/tensor.h"
#include "libnn/nn/state_dict.h"

namespace nn::optim {

// One parameter's state (torch's optimizer.state[p]). Buffers stay undefined until the first update.
struct ParamState {
  std::int64_t step = 0;
  std::deque<std::pair<std::string, Tensor>> buffers;  // a deque: buffer() references stay valid

  Tensor& buffer(const std::string& name);  // finds or adds (undefined) the named buffer
  Tensor find(const std::string& name) const;
};

// A group of parameters sharing hyper-parameters; Options is the optimizer's options struct.
template <typename Options>
struct ParamGroup {
  std::vector<Tensor> params;
  Options options;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  void step();
  void zero_grad();

  const std::string& name() const { return name_; }
  std::size_t num_groups() const { return groups_.size(); }
  const std::vector<Tensor>& params(std::size_t group) const { return groups_.at(group).params; }

  double lr(std::size_t group = 0) const;
  void set_lr(std::size_t group, double lr);
  std::vector<double> lrs() const;
  double weight_decay(std::size_t group = 0) const;
  void set_weight_decay(std::size_t group, double weight_decay);
  // The lr an LR scheduler started from (torch's param_group['initial_lr']); kept across checkpoints.
  std::optional<double> initial_lr(std::size_t group) const { return groups_.at(group).initial_lr; }
  void set_initial_lr(std::size_t group, double lr) { groups_.at(group).initial_lr = lr; }

  // The state of a parameter of this optimizer (throws for a tensor it does not hold).
  const ParamState& state(const Tensor& param) const;

  StateDict state_dict() const;
  void load_state_dict(const StateDict& dict);

 protected:
  explicit Optimizer(std::string name) : name_(std::move(name)) {}

  // A hyper-parameter of a group, by name, pointing into the subclass's options. Exactly one of the
  // pointers is set. The list starts with lr and weight_decay.
  struct HyperRef {
    const char* name;
    double* real = nullptr;
    bool* flag = nullptr;
  };

  // A parameter of a group that takes this step, with its defined gradient and its state.
  struct ParamUpdate {
    Tensor& param;
    Tensor grad;
    ParamState& state;
  };

  // Subclass constructors call this once per group, in order, after storing the group's options.
  void add_group(std::vector<Tensor> params);
  virtual std::vector<HyperRef> hyper(std::size_t group) = 0;
  // Updates one parameter in place, given its (defined, same shape and dtype) gradient.
  virtual void update(std::size_t group, Tensor& param, const Tensor& grad, ParamState& state) = 0;
  // Updates the parameters of a group that have gradients (none of the others), in group order. The
  // default calls update() on each; an override may batch them, as the CUDA multi-tensor kernels do.
  virtual void update_group(std::size_t group, std::span<const ParamUpdate> updates);
  // For update_group overrides that batch the CUDA parameters: calls update() on each CPU parameter and
  // returns the CUDA ones, their gradients checked by check_update_args and made contiguous.
  std::vector<ParamUpdate> update_cpu_params(std::size_t group, std::span<const ParamUpdate> updates);

 private:
  struct Group {
    std::vector<Tensor> params;
    std::size_t first = 0;  // number of its first parameter
    std::optional<double> initial_lr;
  };
  std::vector<HyperRef> hyper_of(std::size_t group) const { return const_cast<Optimizer*>(this)->hyper(group); }
  double& lr_ref(std::size_t group) const;
  double& weight_decay_ref(std::size_t group) const;

  std::string name_;
  std::vector<Group> groups_;
  std::vector<ParamState> state_;  // by parameter number
};

// Checks (and converts in one place) what every update kernel needs: a contiguous f32/f64 tensor
// and a gradient of the same shape, dtype and device. Returns the gradient made contiguous.
Tensor check_update_args(const char* op, const Tensor& param, const Tensor& grad);

}  // namespace nn::optim
