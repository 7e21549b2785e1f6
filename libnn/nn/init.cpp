#include "libnn/nn/init.h"

#include <cmath>

#include "libnn/autograd/grad_mode.h"

namespace nn::init {

Fans fans(const Tensor& t) {
  NN_CHECK(t.dim() >= 2, "init: fan in and fan out need at least 2 dimensions, got ", t.describe());
  index_t receptive = 1;
  for (int d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

double gain(const std::string& nonlinearity, double a) {
  if (nonlinearity == "linear" || nonlinearity == "conv2d" || nonlinearity == "sigmoid") return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1.0 + a * a));
  throw Error(str("init: unsupported nonlinearity \"", nonlinearity, "\""));
}

void uniform_(Tensor& t, double lo, double hi, Generator& gen) {
  NoGradGuard no_grad;
  t.copy_(Tensor::uniform(t.shape(), lo, hi, gen, t.dtype() == DType::f64 ? DType::f64 : DType::f32));
}

void normal_(Tensor& t, double mean, double stddev, Generator& gen) {
  NoGradGuard no_grad;
  t.copy_(Tensor::normal(t.shape(), mean, stddev, gen, t.dtype() == DType::f64 ? DType::f64 : DType::f32));
}

void constant_(Tensor& t, double value) {
  NoGradGuard no_grad;
  t.fill_(value);
}

namespace {
double kaiming_std(const Tensor& t, double a, FanMode mode, const std::string& nonlinearity) {
  const Fans f = fans(t);
  const index_t fan = mode == FanMode::fan_in ? f.fan_in : f.fan_out;
  NN_CHECK(fan > 0, "init: zero fan for ", t.describe());
  return gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan));
}
}  // namespace

void kaiming_uniform_(Tensor& t, double a, FanMode mode, const std::string& nonlinearity, Generator& gen) {
  const double bound = std::sqrt(3.0) * kaiming_std(t, a, mode, nonlinearity);
  uniform_(t, -bound, bound, gen);
}

void kaiming_normal_(Tensor& t, double a, FanMode mode, const std::string& nonlinearity, Generator& gen) {
  normal_(t, 0.0, kaiming_std(t, a, mode, nonlinearity), gen);
}

void xavier_uniform_(Tensor& t, double g, Generator& gen) {
  const Fans f = fans(t);
  const double bound = g * std::sqrt(6.0 / static_cast<double>(f.fan_in + f.fan_out));
  uniform_(t, -bound, bound, gen);
}

}  // namespace nn::init
