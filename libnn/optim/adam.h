// torch.optim.Adam and AdamW (1.13, amsgrad off). Adam adds weight_decay * param to the gradient (L2);
// AdamW decays the parameter itself, param *= 1 - lr * weight_decay, before the Adam update.
// State per parameter: step, exp_avg, exp_avg_sq (zeros before the first update).
// The per-element updates are kern::adam_step_cpu / adamw_step_cpu (kernels/cpu/optim.h); a group's CUDA
// parameters take one fused multi-tensor step (kern::adam_step_multi_cuda), bitwise the per-tensor one.
#pragma once

#include "libnn/optim/optimizer.h"

namespace nn::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // AdamW's own default is 1e-2: AdamOptions{.weight_decay = 1e-2}
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, AdamOptions options);
  explicit Adam(std::vector<ParamGroup<AdamOptions>> groups);

  AdamOptions& options(std::size_t group) { return options_.at(group); }
  const AdamOptions& options(std::size_t group) const { return options_.at(group); }

 protected:
  Adam(std::string name, std::vector<ParamGroup<AdamOptions>> groups, bool decoupled);
  std::vector<HyperRef> hyper(std::size_t group) override;
  void update(std::size_t group, Tensor& param, const Tensor& grad, ParamState& state) override;
  void update_group(std::size_t group, std::span<const ParamUpdate> updates) override;

 private:
  std::vector<AdamOptions> options_;
  bool decoupled_;
};

class AdamW final : public Adam {
 public:
  AdamW(std::vector<Tensor> params, AdamOptions options = {.weight_decay = 1e-2});
  explicit AdamW(std::vector<ParamGroup<AdamOptions>> groups);
};

}  // namespace nn::optim
