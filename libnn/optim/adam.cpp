#include "libnn/optim/adam.h"

#include <cstdint>
#include <map>
#include <utility>

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

kern::AdamParams kernel_params(const AdamOptions& o) {
  kern::AdamParams kp;
  kp.lr = o.lr;
  kp.beta1 = o.beta1;
  kp.beta2 = o.beta2;
  kp.eps = o.eps;
  kp.weight_decay = o.weight_decay;
  return kp;
}

// Zeros the moment buffers on a parameter's first update and counts the step about to be taken.
// Returns (exp_avg, exp_avg_sq).
std::pair<Tensor, Tensor> begin_update(const Tensor& param, ParamState& state) {
  Tensor& m = state.buffer("exp_avg");
  Tensor& v = state.buffer("exp_avg_sq");
  if (!m.defined()) m = Tensor::zeros(param.shape(), param.dtype(), param.device());
  if (!v.defined()) v = Tensor::zeros(param.shape(), param.dtype(), param.device());
  ++state.step;
  return {m, v};
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
  const kern::AdamParams kp = kernel_params(options_[group]);
  const Tensor grad = check_update_args(name().c_str(), param, grad_in);
  const std::pair<Tensor, Tensor> moments = begin_update(param, state);  // clang 14 cannot capture a binding
  const Tensor &m = moments.first, &v = moments.second;
  dispatch_floating(param.dtype(), name().c_str(), [&]<typename T>() {
    if (decoupled_)
      NN_KERNEL(param.device(), adamw_step, kp, param.numel(), state.step, param.data<T>(), grad.data<T>(), m.data<T>(),
                v.data<T>(), static_cast<T*>(nullptr));
    else
      NN_KERNEL(param.device(), adam_step, kp, param.numel(), state.step, param.data<T>(), grad.data<T>(), m.data<T>(),
                v.data<T>(), static_cast<T*>(nullptr));
  });
}

void Adam::update_group(std::size_t group, std::span<const ParamUpdate> updates) {
  const std::vector<ParamUpdate> on_cuda = update_cpu_params(group, updates);
  if (on_cuda.empty()) return;
  const kern::AdamParams kp = kernel_params(options_[group]);
  std::vector<std::pair<Tensor, Tensor>> moments;
  for (const ParamUpdate& u : on_cuda) moments.push_back(begin_update(u.param, u.state));
  for (const DType dtype : {DType::f32, DType::f64}) {
    dispatch_floating(dtype, name().c_str(), [&]<typename T>() {
      // The kernel takes one step count per launch, and a parameter that missed a gradient lags behind
      // the rest of its group: one launch list per count keeps every parameter on its own trajectory.
      std::map<std::int64_t, std::vector<kern::AdamTensor<T>>> by_step;
      for (std::size_t i = 0; i < on_cuda.size(); ++i) {
        const ParamUpdate& u = on_cuda[i];
        if (u.param.dtype() != dtype) continue;
        by_step[u.state.step].push_back({.n = u.param.numel(),
                                         .param = u.param.data<T>(),
                                         .grad = u.grad.data<T>(),
                                         .exp_avg = moments[i].first.data<T>(),
                                         .exp_avg_sq = moments[i].second.data<T>()});
      }
      for (const auto& [step, list] : by_step) {
        const std::span<const kern::AdamTensor<T>> tensors(list);
        if (decoupled_)
          NN_CUDA(adamw_step_multi_cuda<T>, kp, step, tensors);
        else
          NN_CUDA(adam_step_multi_cuda<T>, kp, step, tensors);
      }
    });
  }
}

AdamW::AdamW(std::vector<Tensor> params, AdamOptions options)
    : Adam("AdamW", {ParamGroup<AdamOptions>{std::move(params), options}}, true) {}

AdamW::AdamW(std::vector<ParamGroup<AdamOptions>> groups) : Adam("AdamW", std::move(groups), true) {}

}  // namespace nn::optim
