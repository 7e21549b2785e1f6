#include "models/blocks/attention.h"

#include "libnn/ops/activation.h"
#include "libnn/ops/arith.h"
#include "libnn/ops/pool.h"

namespace models {

SEModule::SEModule(index_t channels, index_t reduction) : nn::Module("SEModule") {
  NN_CHECK(reduction > 0 && channels % reduction == 0, "SEModule: ", channels, " channels not divisible by reduction ",
           reduction);
  fc1 = register_module("fc1", std::make_shared<nn::Conv2d>(channels, channels / reduction,
                                                             nn::Conv2d::Options{.kernel = 1, .bias = false}));
  fc2 = register_module("fc2", std::make_shared<nn::Conv2d>(channels / reduction, channels,
                                                             nn::Conv2d::Options{.kernel = 1, .bias = false}));
}

Tensor SEModule::forward(const Tensor& x) {
  const Tensor s = nn::ops::adaptive_avg_pool2d(x, 1);
  const Tensor gate = nn::ops::sigmoid(fc2->forward(nn::ops::relu(fc1->forward(s))));
  return nn::ops::mul(x, gate);
}

ChannelAttention::ChannelAttention(index_t channels, index_t hidden) : nn::Module("ChannelAttention") {
  se_fc1 = register_module("se_fc1", std::make_shared<nn::Conv2d>(channels, hidden, nn::Conv2d::Options{.kernel = 1}));
  se_fc2 = register_module("se_fc2", std::make_shared<nn::Conv2d>(hidden, channels, nn::Conv2d::Options{.kernel = 1}));
}

Tensor ChannelAttention::forward(const Tensor& x) {
  const Tensor max_path = nn::ops::relu(se_fc1->forward(nn::ops::global_max_pool2d(x)));
  const Tensor avg_path = nn::ops::relu(se_fc1->forward(nn::ops::adaptive_avg_pool2d(x, 1)));
  const Tensor gate = nn::ops::sigmoid(se_fc2->forward(max_path + avg_path));
  return nn::ops::mul(x, gate);
}

}  // namespace models
