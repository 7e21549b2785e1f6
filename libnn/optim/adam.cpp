#include "libnn/optim/adam.h"

#include "kernels/cpu/optim.h"
#include "kernels/cuda/optim.h"
#include "libnn/core/dispatch.h"

namespace nn::optim {

namespace {

void check_options(const std::string& name, const AdamOptions& o) {
  NN_CHECK(o.lr >= 0, name, ": invalid learning rate ", o.lr);
  NN_CHECK(o.eps >= 0, name, ": invalid epsilon ", o.eps);
  NN_CHECK(o.beta1 >= 0 && o.beta1 < 1, name, ": invalid beta1 ", o.beta1);
  NN_CHECK(o.beta2 >= 0 && o.beta2 < 1, name, ": invalid beta2 ", o.beta2);
  NN_CHECK(o.weight_decay >= 0, name, ": invalid weight_decay ", o.weight_decay);
}

}  // namespace

Adam::Adam(std::vector<Tensor> params, AdamOptions options)
    : Adam("Adam", {ParamGroup<AdamOptions>{std::move(params), options}}, false) {}

Adam::Adam(std::vector<ParamGroup<AdamOptions>> groups) : Adam("Adam", std::move(groups), false) {}

Adam::Adam(std::string name, std::vector<ParamGroup<AdamOptions>> groups, bool decoupled)
    : Optimizer(std::move(name)), decoupled_(decoupled) {
  NN_CHECK(!groups.empty(), this->name(), ": no parameter groups");
  for (auto& g : groups) {
    check_options(this->name(), g.options);
    options_.push_back(g.options);
    add_group(std::move(g.params));
  }
}

std::vector<Optimizer::HyperRef> Adam::hyper(std::size_t group) {
  AdamOptions& o = options_.at(group);
  return {{"lr", &o.lr}, {"weight_decay", &o.weight_decay}, {"beta1", &o.beta1}, {"beta2", &o.beta2},
          {"eps", &o.eps}};
}

void Adam::update(std::size_t group, Tensor& param, const Tensor& grad_in, ParamState& state) {
  const AdamOptions& o = options_[group];
  const Tensor grad = check_update_args(name().c_str(), param, grad_in);
  Tensor& m = state.buffer("exp_avg");
  Tensor& v = state.buffer("exp_avg_sq");
  if (!m.defined()) m = Tensor::zeros(param.shape(), param.dtype(), param.device());
  if (!v.defined()) v = Tensor::zeros(param.shape(), param.dtype(), param.device());
  ++state.step;
  kern::AdamParams kp;
  kp.lr = o.lr;
  kp.beta1 = o.beta1;
  kp.beta2 = o.beta2;
  kp.eps = o.eps;
  kp.weight_decay = o.weight_decay;
  dispatch_floating(param.dtype(), name().c_str(), [&]<typename T>() {
    if (decoupled_)
      NN_KERNEL(param.device(), adamw_step, kp, param.numel(), state.step, param.data<T>(), grad.data<T>(), m.data<T>(),
                v.data<T>(), static_cast<T*>(nullptr));
    else
      NN_KERNEL(param.device(), adam_step, kp, param.numel(), state.step, param.data<T>(), grad.data<T>(), m.data<T>(),
                v.data<T>(), static_cast<T*>(nullptr));
  });
}

AdamW::AdamW(std::vector<Tensor> params, AdamOptions options)
    : Adam("AdamW", {ParamGroup<AdamOptions>{std::move(params), options}}, true) {}

AdamW::AdamW(std::vector<ParamGroup<AdamOptions>> groups) : Adam("AdamW", std::move(groups), true) {}

}  // namespace nn::optim
