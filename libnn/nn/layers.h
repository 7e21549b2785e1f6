// The standard layers, as thin Modules over libnn/ops with torch.nn's parameter names, default
// initialisation distributions and buffers (BatchNorm2d's running_mean, running_var, num_batches_tracked),
// so a PyTorch state_dict loads into them unchanged.
#pragma once

#include "libnn/core/rng.h"
#include "libnn/nn/module.h"
#include "libnn/ops/conv.h"

namespace nn {

class Conv2d : public Module {
 public:
  struct Options {
    ops::Size2 kernel = 3;
    ops::Size2 stride = 1;
    ops::Size2 padding = 0;
    ops::Size2 dilation = 1;
    index_t groups = 1;
    bool bias = true;
  };
  // torch.nn.Conv2d's default init: kaiming_uniform(a = sqrt(5)) weight, U(±1/sqrt(fan_in)) bias.
  Conv2d(index_t in_channels, index_t out_channels, const Options& options, Generator& gen = default_generator());
  // Frozen and without autograd, the forward runs on weights prepared once (Module::freeze_for_inference).
  Tensor forward(const Tensor& x) override;
  // What the forward may use when frozen (null otherwise): see ops::PreparedConvWeights.
  ops::PreparedConvWeights* prepared_weights() { return frozen_for_inference() ? &prepared_ : nullptr; }

  Tensor weight, bias;  // (K, C/groups, R, S), (K) or undefined
  ops::Conv2dOptions conv;

 protected:
  void drop_prepared() override { prepared_.clear(); }

 private:
  ops::PreparedConvWeights prepared_;
};

class Linear : public Module {
 public:
  Linear(index_t in_features, index_t out_features, bool bias = true, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;

  Tensor weight, bias;  // (out, in), (out) or undefined
};

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(index_t num_features, double eps = 1e-5, double momentum = 0.1);
  Tensor forward(const Tensor& x) override;  // batch statistics in training mode, running ones in eval

  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  double eps, momentum;
};

class PReLU : public Module {
 public:
  explicit PReLU(index_t num_parameters = 1, double init = 0.25);
  Tensor forward(const Tensor& x) override;

  Tensor weight;  // (num_parameters)
};

class ReLU : public Module {
 public:
  ReLU() : Module("ReLU") {}
  Tensor forward(const Tensor& x) override;
};

class Sigmoid : public Module {
 public:
  Sigmoid() : Module("Sigmoid") {}
  Tensor forward(const Tensor& x) override;
};

class MaxPool2d : public Module {
 public:
  // stride 0 means "equal to the kernel", torch's default.
  explicit MaxPool2d(ops::Size2 kernel, ops::Size2 stride = 0, ops::Size2 padding = 0);
  Tensor forward(const Tensor& x) override;

  ops::Size2 kernel, stride, padding;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(ops::Size2 kernel, ops::Size2 stride = 0, ops::Size2 padding = 0);
  Tensor forward(const Tensor& x) override;

  ops::Size2 kernel, stride, padding;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(ops::Size2 output_size = 1) : Module("AdaptiveAvgPool2d"), output_size(output_size) {}
  Tensor forward(const Tensor& x) override;

  ops::Size2 output_size;
};

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;  // identity in eval mode

  double p;

 private:
  Generator* gen_;
};

// conv -> bn -> act (act: a PReLU, a ReLU, or null), the unit of every ResNet stream. For inference (all
// modules in eval mode, grad mode off, no trace recording) it runs as one ops::conv2d_fused: BN enters as a
// per-channel scale and shift and the activation as the GEMM's epilogue, which saves two passes over the
// activations and their buffers. Otherwise the modules run in turn, exactly as written. Sequential uses
// this for each Conv2d, BatchNorm2d[, PReLU | ReLU] run among its children.
Tensor conv_bn_act(Conv2d& conv, BatchNorm2d& bn, Module* act, const Tensor& x);

class Flatten : public Module {
 public:
  Flatten() : Module("Flatten") {}
  Tensor forward(const Tensor& x) override { return x.flatten(1); }
};

}  // namespace nn
