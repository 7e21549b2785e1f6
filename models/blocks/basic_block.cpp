#include "models/blocks/basic_block.h"

#include <cmath>

#include "libnn/nn/init.h"
#include "libnn/ops/arith.h"

namespace models {

namespace {
const nn::Conv2d::Options kBlockConv{.kernel = 3, .padding = 1, .bias = false};
const nn::Conv2d::Options kStageConv{.kernel = 3, .padding = 0, .bias = false};
}  // namespace

BasicBlock::BasicBlock(index_t c, nn::Generator& gen, bool reference_init) : nn::Module("BasicBlock") {
  conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(c, c, kBlockConv, gen));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(c));
  relu1 = register_module("relu1", std::make_shared<nn::PReLU>(c));
  conv2 = register_module("conv2", std::make_shared<nn::Conv2d>(c, c, kBlockConv, gen));
  bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(c));
  relu2 = register_module("relu2", std::make_shared<nn::PReLU>(c));
  if (reference_init) {
    nn::init::normal_(conv1->weight, 0.0, 0.01, gen);
    nn::init::normal_(conv2->weight, 0.0, 0.01, gen);
  }
}

Tensor BasicBlock::forward(const Tensor& x) {
  Tensor out = nn::conv_bn_act(*conv1, *bn1, relu1.get(), x);
  out = nn::conv_bn_act(*conv2, *bn2, relu2.get(), out);
  return out + x;
}

std::shared_ptr<nn::Sequential> caffe_stage(index_t in, index_t out, int blocks, nn::Generator& gen,
                                            bool reference_init) {
  NN_CHECK(in > 0 && out > 0 && blocks >= 0, "caffe_stage(", in, ", ", out, ", ", blocks, "): bad configuration");
  auto stage = std::make_shared<nn::Sequential>();
  auto conv = stage->push_back(std::make_shared<nn::Conv2d>(in, out, kStageConv, gen));
  if (reference_init) {
    const double s = std::sqrt(3.0 / static_cast<double>(nn::init::fans(conv->weight).fan_in));
    nn::init::uniform_(conv->weight, -s, s, gen);
  }
  stage->push_back(std::make_shared<nn::BatchNorm2d>(out));
  stage->push_back(std::make_shared<nn::PReLU>(out));
  stage->push_back(std::make_shared<nn::MaxPool2d>(2, 2));
  for (int i = 0; i < blocks; ++i) stage->push_back(std::make_shared<BasicBlock>(out, gen, reference_init));
  return stage;
}

}  // namespace models
