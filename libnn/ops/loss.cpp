// log_softmax, cross_entropy and l2_normalize: forward and backward side by side.
// cross_entropy is recorded as two nodes, log_softmax then the weighted/smoothed NLL on the log-probs,
// mirroring kern::cross_entropy_*: each backward stays simple and the log-probs are the saved tensor.
#include "libnn/ops/loss.h"

#include <cstdint>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/softmax_loss.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/softmax_loss.h"
#include "libnn/autograd/node.h"
#include "libnn/core/dispatch.h"
#include "libnn/ops/common.h"

namespace nn::ops {

namespace {

constexpr std::int64_t kIgnoreIndex = -100;  // PyTorch's default ignore_index

// The NLL part of cross_entropy, from log-probabilities logp (N, C) -> scalar.
Tensor nll_from_log_probs(const Tensor& logp, const Tensor& target, const Tensor& weight, double label_smoothing) {
  const kern::CrossEntropyParams p{.N = logp.size(0),
                                   .C = logp.size(1),
                                   .label_smoothing = label_smoothing,
                                   .has_weight = weight.defined(),
                                   .ignore_index = kIgnoreIndex};
  Tensor loss = Tensor::empty({}, logp.dtype(), logp.device());
  dispatch_floating(logp.dtype(), "cross_entropy", [&]<typename T>() {
    NN_KERNEL(logp.device(), cross_entropy_forward, p, logp.data<T>(), target.data<std::int64_t>(),
              weight.defined() ? weight.data<T>() : nullptr, loss.data<T>());
  });
  if (autograd::needs_grad({&logp}))
    autograd::record(loss, "cross_entropy", {logp},
                     [p, logp, target, weight](const Tensor& dloss_in, const autograd::GradMask&) {
                       const Tensor dloss = dloss_in.contiguous();
                       Tensor dlogp = Tensor::empty(logp.shape(), logp.dtype(), logp.device());
                       dispatch_floating(logp.dtype(), "cross_entropy_backward", [&]<typename T>() {
                         NN_KERNEL(logp.device(), cross_entropy_backward, p, logp.data<T>(),
                                   target.data<std::int64_t>(), weight.defined() ? weight.data<T>() : nullptr,
                                   dloss.data<T>(), dlogp.data<T>());
                       });
                       return autograd::Grads{dlogp};
                     });
  return loss;
}

}  // namespace

Tensor log_softmax(const Tensor& x_in) {
  check_floating(x_in, "log_softmax", "x");
  check_dim(x_in, 2, "log_softmax", "x");
  const Tensor x = x_in.contiguous();
  const index_t N = x.size(0), C = x.size(1);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch_floating(x.dtype(), "log_softmax",
                    [&]<typename T>() { NN_KERNEL(x.device(), log_softmax_forward, N, C, x.data<T>(), y.data<T>()); });
  if (autograd::needs_grad({&x_in}))
    autograd::record(y, "log_softmax", {x_in}, [y_saved = y.detach()](const Tensor& dy_in, const autograd::GradMask&) {
      const Tensor dy = dy_in.contiguous();
      Tensor dx = Tensor::empty(y_saved.shape(), y_saved.dtype(), y_saved.device());
      dispatch_floating(dy.dtype(), "log_softmax_backward", [&]<typename T>() {
        NN_KERNEL(dy.device(), log_softmax_backward, y_saved.size(0), y_saved.size(1), dy.data<T>(), y_saved.data<T>(),
                  dx.data<T>());
      });
      return autograd::Grads{dx};
    });
  return y;
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target_in, const Tensor& weight_in, double label_smoothing) {
  check_floating(logits, "cross_entropy", "logits");
  check_dim(logits, 2, "cross_entropy", "logits");
  const index_t N = logits.size(0), C = logits.size(1);
  check_defined(target_in, "cross_entropy", "target");
  NN_CHECK(target_in.dtype() == DType::i64 && target_in.dim() == 1 && target_in.size(0) == N,
           "cross_entropy: target must be i64 (N) = (", N, ") for logits ", logits.shape(), ", got ",
           target_in.describe());
  if (weight_in.defined()) {
    check_floating(weight_in, "cross_entropy", "weight");
    check_same(logits, weight_in, "cross_entropy");
    NN_CHECK(weight_in.dim() == 1 && weight_in.size(0) == C, "cross_entropy: weight ", weight_in.shape(),
             " must be (C) = (", C, ") for logits ", logits.shape());
  }
  NN_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0,
           "cross_entropy: label_smoothing must be between 0.0 and 1.0, got ", label_smoothing);

  NN_CHECK(target_in.device() == logits.device(), "cross_entropy: target on ", target_in.device(), ", logits on ",
           logits.device());
  const Tensor target = target_in.contiguous();
  const Tensor target_host = target.to(Device::cpu());  // PyTorch checks on the device; we check before launching
  const std::int64_t* t = target_host.data<std::int64_t>();
  for (index_t i = 0; i < N; ++i)
    NN_CHECK((t[i] >= 0 && t[i] < C) || t[i] == kIgnoreIndex, "cross_entropy: target ", t[i], " at index ", i,
             " is out of range for ", C, " classes (logits ", logits.shape(), ")");

  const Tensor weight = weight_in.defined() ? weight_in.contiguous().detach() : Tensor();
  return nll_from_log_probs(log_softmax(logits), target, weight, label_smoothing);
}

Tensor l2_normalize(const Tensor& x_in, int dim_in, double eps) {
  check_floating(x_in, "l2_normalize", "x");
  check_dim(x_in, 2, "l2_normalize", "x");
  const int dim = wrap_dim(dim_in, 2, "l2_normalize");
  NN_CHECK(eps > 0, "l2_normalize: eps must be positive, got ", eps);
  if (dim == 0) return l2_normalize(x_in.transpose(0, 1), 1, eps).transpose(0, 1);

  const Tensor x = x_in.contiguous();
  const index_t N = x.size(0), D = x.size(1);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor norm = Tensor::empty({N}, x.dtype(), x.device());  // ||x_row||, saved for the backward
  dispatch_floating(x.dtype(), "l2_normalize", [&]<typename T>() {
    NN_KERNEL(x.device(), l2_normalize_forward, N, D, x.data<T>(), y.data<T>(), norm.data<T>(), eps);
  });
  if (autograd::needs_grad({&x_in}))
    autograd::record(y, "l2_normalize", {x_in}, [x, norm, eps](const Tensor& dy_in, const autograd::GradMask&) {
      const Tensor dy = dy_in.contiguous();
      Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
      dispatch_floating(x.dtype(), "l2_normalize_backward", [&]<typename T>() {
        NN_KERNEL(dy.device(), l2_normalize_backward, x.size(0), x.size(1), dy.data<T>(), x.data<T>(), norm.data<T>(),
                  dx.data<T>(), eps);
      });
      return autograd::Grads{dx};
    });
  return y;
}

}  // namespace nn::ops
