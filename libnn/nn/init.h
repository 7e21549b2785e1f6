// Weight initialisation with torch.nn.init's formulas (fan computation, gains), drawing from a Philox
// Generator. The values differ from PyTorch's (another RNG); the distributions are the same.
#pragma once

#include <string>

#include "libnn/core/rng.h"
#include "libnn/core/tensor.h"

namespace nn::init {

enum class FanMode { fan_in, fan_out };

struct Fans {
  index_t fan_in, fan_out;
};
// torch.nn.init._calculate_fan_in_and_fan_out: dim 1 is the input, dim 0 the output, the rest the receptive field.
Fans fans(const Tensor& t);

// torch.nn.init.calculate_gain for "linear", "conv2d", "sigmoid", "relu", "leaky_relu" (with a), "tanh".
double gain(const std::string& nonlinearity, double a = 0.0);

void uniform_(Tensor& t, double lo, double hi, Generator& gen = default_generator());
void normal_(Tensor& t, double mean, double stddev, Generator& gen = default_generator());
void constant_(Tensor& t, double value);
void kaiming_uniform_(Tensor& t, double a = 0.0, FanMode mode = FanMode::fan_in,
                      const std::string& nonlinearity = "leaky_relu", Generator& gen = default_generator());
void kaiming_normal_(Tensor& t, double a = 0.0, FanMode mode = FanMode::fan_in,
                     const std::string& nonlinearity = "leaky_relu", Generator& gen = default_generator());
void xavier_uniform_(Tensor& t, double gain = 1.0, Generator& gen = default_generator());

}  // namespace nn::init
