#include "libnn/optim/sgd.h"

#include "kernels/cpu/optim.h"
#include "kernels/cuda/optim.h"
#include "libnn/core/dispatch.h"

namespace nn::optim {

namespace {

void check_options(const SgdOptions& o) {
  NN_CHECK(o.lr >= 0, "SGD: invalid learning rate ", o.lr);
  NN_CHECK(o.momentum >= 0, "SGD: invalid momentum ", o.momentum);
  NN_CHECK(o.weight_decay >= 0, "SGD: invalid weight_decay ", o.weight_decay);
  NN_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0),
           "SGD: Nesterov momentum requires a momentum and zero dampening");
}

}  // namespace

SGD::SGD(std::vector<Tensor> params, SgdOptions options) : SGD({ParamGroup<SgdOptions>{std::move(params), options}}) {}

SGD::SGD(std::vector<ParamGroup<SgdOptions>> groups) : Optimizer("SGD") {
  NN_CHECK(!groups.empty(), "SGD: no parameter groups");
  for (auto& g : groups) {
    check_options(g.options);
    options_.push_back(g.options);
    add_group(std::move(g.params));
  }
}

std::vector<Optimizer::HyperRef> SGD::hyper(std::size_t group) {
  SgdOptions& o = options_.at(group);
  return {{"lr", &o.lr}, {"weight_decay", &o.weight_decay}, {"momentum", &o.momentum},
          {"dampening", &o.dampening}, {"nesterov", nullptr, &o.nesterov}};
}

void SGD::update(std::size_t group, Tensor& param, const Tensor& grad_in, ParamState& state) {
  const SgdOptions& o = options_[group];
  const Tensor grad = check_update_args("SGD", param, grad_in);
  kern::SgdParams kp;
  kp.lr = o.lr;
  kp.momentum = o.momentum;
  kp.dampening = o.dampening;
  kp.weight_decay = o.weight_decay;
  kp.nesterov = o.nesterov;
  Tensor& buf = state.buffer("momentum_buffer");
  const bool first = !buf.defined();
  if (o.momentum != 0 && first) buf = Tensor::empty(param.shape(), param.dtype(), param.device());
  dispatch_floating(param.dtype(), "SGD", [&]<typename T>() {
    NN_KERNEL(param.device(), sgd_step, kp, param.numel(), param.data<T>(), grad.data<T>(),
              o.momentum != 0 ? buf.data<T>() : static_cast<T*>(nullptr), first);
  });
  ++state.step;
}

}  // namespace nn::optim
