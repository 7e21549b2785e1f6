#include "libnn/nn/layers.h"

#include <cmath>

#include "libnn/autograd/grad_mode.h"
#include "libnn/core/trace.h"
#include "libnn/nn/init.h"
#include "libnn/ops/activation.h"
#include "libnn/ops/batch_norm.h"
#include "libnn/ops/dropout.h"
#include "libnn/ops/pool.h"

namespace nn {

namespace {
// torch's reset_parameters for Conv2d and Linear: kaiming_uniform(a = sqrt(5)) gives U(±1/sqrt(fan_in)).
void default_init(Tensor& weight, Tensor& bias, Generator& gen) {
  init::kaiming_uniform_(weight, std::sqrt(5.0), init::FanMode::fan_in, "leaky_relu", gen);
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(init::fans(weight).fan_in));
    init::uniform_(bias, -bound, bound, gen);
  }
}

ops::Size2 or_kernel(ops::Size2 stride, ops::Size2 kernel) { return stride == ops::Size2(0) ? kernel : stride; }
}  // namespace

Conv2d::Conv2d(index_t in_channels, index_t out_channels, const Options& o, Generator& gen)
    : Module("Conv2d"), conv{o.stride, o.padding, o.dilation, o.groups} {
  NN_CHECK(o.groups >= 1 && in_channels % o.groups == 0 && out_channels % o.groups == 0, "Conv2d(", in_channels,
           ", ", out_channels, "): channels must be divisible by groups ", o.groups);
  weight = register_parameter("weight",
                              Tensor::empty({out_channels, in_channels / o.groups, o.kernel.h, o.kernel.w}));
  bias = register_parameter("bias", o.bias ? Tensor::empty({out_channels}) : Tensor());
  default_init(weight, bias, gen);
}

Tensor Conv2d::forward(const Tensor& x) {
  if (frozen_for_inference() && !autograd::GradMode::is_enabled() && !trace::enabled())
    return ops::conv2d_fused(x, weight, conv, {.scale = {}, .shift = bias, .act = ops::Activation::none, .slope = {}},
                             prepared_weights());
  return ops::conv2d(x, weight, bias, conv);
}

Linear::Linear(index_t in_features, index_t out_features, bool with_bias, Generator& gen) : Module("Linear") {
  weight = register_parameter("weight", Tensor::empty({out_features, in_features}));
  bias = register_parameter("bias", with_bias ? Tensor::empty({out_features}) : Tensor());
  default_init(weight, bias, gen);
}

Tensor Linear::forward(const Tensor& x) { return ops::linear(x, weight, bias); }

BatchNorm2d::BatchNorm2d(index_t num_features, double eps_, double momentum_)
    : Module("BatchNorm2d"), eps(eps_), momentum(momentum_) {
  weight = register_parameter("weight", Tensor::ones({num_features}));
  bias = register_parameter("bias", Tensor::zeros({num_features}));
  running_mean = register_buffer("running_mean", Tensor::zeros({num_features}));
  running_var = register_buffer("running_var", Tensor::ones({num_features}));
  num_batches_tracked = register_buffer("num_batches_tracked", Tensor::zeros({}, DType::i64));
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  NN_CHECK(x.dim() == 4, "BatchNorm2d: expected (N, C, H, W) input, got ", x.describe());
  if (is_training()) {
    NoGradGuard no_grad;
    ++*num_batches_tracked.data<std::int64_t>();
  }
  return ops::batch_norm(x, running_mean, running_var, weight, bias, is_training(), momentum, eps);
}

PReLU::PReLU(index_t num_parameters, double init) : Module("PReLU") {
  weight = register_parameter("weight", Tensor::full({num_parameters}, init));
}

Tensor PReLU::forward(const Tensor& x) { return ops::prelu(x, weight); }

Tensor ReLU::forward(const Tensor& x) { return ops::relu(x); }
Tensor Sigmoid::forward(const Tensor& x) { return ops::sigmoid(x); }

MaxPool2d::MaxPool2d(ops::Size2 k, ops::Size2 s, ops::Size2 p)
    : Module("MaxPool2d"), kernel(k), stride(or_kernel(s, k)), padding(p) {}
Tensor MaxPool2d::forward(const Tensor& x) { return ops::max_pool2d(x, kernel, stride, padding); }

AvgPool2d::AvgPool2d(ops::Size2 k, ops::Size2 s, ops::Size2 p)
    : Module("AvgPool2d"), kernel(k), stride(or_kernel(s, k)), padding(p) {}
Tensor AvgPool2d::forward(const Tensor& x) { return ops::avg_pool2d(x, kernel, stride, padding); }

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) { return ops::adaptive_avg_pool2d(x, output_size); }

Tensor conv_bn_act(Conv2d& conv, BatchNorm2d& bn, Module* act, const Tensor& x) {
  auto* prelu = dynamic_cast<PReLU*>(act);
  const bool known_act = !act || prelu || dynamic_cast<ReLU*>(act);
  const bool inference = !conv.is_training() && !bn.is_training() && !autograd::GradMode::is_enabled();
  // A trace (model summaries) wants to see each layer, so it gets the unfused path.
  if (!inference || !known_act || trace::enabled()) {
    Tensor y = bn.forward(conv.forward(x));
    return act ? act->forward(y) : y;
  }
  // scale = gamma / sqrt(var + eps), shift = beta - mean * scale (+ the conv's bias, scaled), in double.
  const std::vector<double> gamma = bn.weight.to_vector(), beta = bn.bias.to_vector();
  const std::vector<double> mean = bn.running_mean.to_vector(), var = bn.running_var.to_vector();
  const std::vector<double> bias = conv.bias.defined() ? conv.bias.to_vector() : std::vector<double>(gamma.size());
  std::vector<double> scale(gamma.size()), shift(gamma.size());
  for (std::size_t k = 0; k < gamma.size(); ++k) {
    scale[k] = gamma[k] / std::sqrt(var[k] + bn.eps);
    shift[k] = beta[k] + (bias[k] - mean[k]) * scale[k];
  }
  const index_t K = bn.weight.numel();
  ops::ConvEpilogue e;
  e.scale = Tensor::from_vector({K}, scale, x.dtype()).to(x.device());
  e.shift = Tensor::from_vector({K}, shift, x.dtype()).to(x.device());
  e.act = prelu ? ops::Activation::prelu : act ? ops::Activation::relu : ops::Activation::none;
  if (prelu) e.slope = prelu->weight;
  return ops::conv2d_fused(x, conv.weight, conv.conv, e, conv.prepared_weights());
}

Tensor Sequential::forward(const Tensor& x) {
  const auto& children = named_children();
  auto child = [&](std::size_t i) { return i < children.size() ? children[i].second.get() : nullptr; };
  Tensor y = x;
  for (std::size_t i = 0; i < children.size(); ++i) {
    auto* conv = dynamic_cast<Conv2d*>(child(i));
    auto* bn = dynamic_cast<BatchNorm2d*>(child(i + 1));
    if (!conv || !bn) {
      y = child(i)->forward(y);
      continue;
    }
    Module* act = child(i + 2);
    if (!dynamic_cast<PReLU*>(act) && !dynamic_cast<ReLU*>(act)) act = nullptr;
    y = conv_bn_act(*conv, *bn, act, y);
    i += act ? 2 : 1;
  }
  return y;
}

Dropout::Dropout(double p_, Generator& gen) : Module("Dropout"), p(p_), gen_(&gen) {
  NN_CHECK(p >= 0.0 && p < 1.0, "Dropout: p must be in [0, 1), got ", p);
}
Tensor Dropout::forward(const Tensor& x) { return ops::dropout(x, p, is_training(), *gen_); }

}  // namespace nn
