// torch.optim.SGD (1.13): momentum, dampening, Nesterov, L2 weight decay added to the gradient.
// The momentum buffer starts as a copy of the first gradient (dampening is not applied to it).
// The per-element update is kern::sgd_step_cpu (kernels/cpu/optim.h); a group's CUDA parameters take one
// fused multi-tensor step (kern::sgd_step_multi_cuda), bitwise the per-tensor one.
#pragma once

#include "libnn/optim/optimizer.h"

namespace nn::optim {

struct SgdOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;  // needs momentum > 0 and dampening == 0
};

class SGD final : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, SgdOptions options);
  explicit SGD(std::vector<ParamGroup<SgdOptions>> groups);

  SgdOptions& options(std::size_t group) { return options_.at(group); }
  const SgdOptions& options(std::size_t group) const { return options_.at(group); }

 protected:
  std::vector<HyperRef> hyper(std::size_t group) override;
  void update(std::size_t group, Tensor& param, const Tensor& grad, ParamState& state) override;
  void update_group(std::size_t group, std::span<const ParamUpdate> updates) override;

 private:
  std::vector<SgdOptions> options_;
};

}  // namespace nn::optim
