#include "libnn/optim/sgd.h"

#include <utility>

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

kern::SgdParams kernel_params(const SgdOptions& o) {
  kern::SgdParams kp;
  kp.lr = o.lr;
  kp.momentum = o.momentum;
  kp.dampening = o.dampening;
  kp.weight_decay = o.weight_decay;
  kp.nesterov = o.nesterov;
  return kp;
}

// The momentum buffer of this update (undefined without momentum) and whether it holds no state yet, in
// which case the kernel initialises it from the gradient (PyTorch clones the gradient into it).
std::pair<Tensor, bool> momentum_buffer(const SgdOptions& o, const Tensor& param, ParamState& state) {
  Tensor& buf = state.buffer("momentum_buffer");
  const bool first = !buf.defined();
  if (o.momentum != 0 && first) buf = Tensor::empty(param.shape(), param.dtype(), param.device());
  return {o.momentum != 0 ? buf : Tensor(), first};
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
  const kern::SgdParams kp = kernel_params(o);
  // Not a structured binding: clang 14 (the fuzz build) cannot capture one in the lambda.
  const std::pair<Tensor, bool> momentum = momentum_buffer(o, param, state);
  const Tensor& buf = momentum.first;
  const bool first = momentum.second;
  dispatch_floating(param.dtype(), "SGD", [&]<typename T>() {
    NN_KERNEL(param.device(), sgd_step, kp, param.numel(), param.data<T>(), grad.data<T>(),
              buf.defined() ? buf.data<T>() : static_cast<T*>(nullptr), first);
  });
  ++state.step;
}

void SGD::update_group(std::size_t group, std::span<const ParamUpdate> updates) {
  const std::vector<ParamUpdate> on_cuda = update_cpu_params(group, updates);
  if (on_cuda.empty()) return;
  const SgdOptions& o = options_[group];
  const kern::SgdParams kp = kernel_params(o);
  std::vector<std::pair<Tensor, bool>> buffers;
  for (const ParamUpdate& u : on_cuda) buffers.push_back(momentum_buffer(o, u.param, u.state));
  for (const DType dtype : {DType::f32, DType::f64}) {
    dispatch_floating(dtype, "SGD", [&]<typename T>() {
      std::vector<kern::SgdTensor<T>> list;
      for (std::size_t i = 0; i < on_cuda.size(); ++i) {
        const ParamUpdate& u = on_cuda[i];
        const auto& [buf, first] = buffers[i];
        if (u.param.dtype() != dtype) continue;
        list.push_back({.n = u.param.numel(),
                        .param = u.param.data<T>(),
                        .grad = u.grad.data<T>(),
                        .momentum_buf = buf.defined() ? buf.data<T>() : nullptr,
                        .first_step = first});
      }
      const std::span<const kern::SgdTensor<T>> tensors(list);
      if (!tensors.empty()) NN_CUDA(sgd_step_multi_cuda<T>, kp, tensors);
    });
  }
  for (const ParamUpdate& u : on_cuda) ++u.state.step;
}

}  // namespace nn::optim
