#include "models/blocks/bottleneck_ir.h"

#include "libnn/ops/arith.h"
#include "models/blocks/attention.h"

namespace models {

BottleneckIR::BottleneckIR(index_t in, index_t depth, index_t stride, bool se, index_t se_reduction)
    : nn::Module(se ? "BottleneckIR_SE" : "BottleneckIR") {
  NN_CHECK(in > 0 && depth > 0 && stride > 0, "BottleneckIR: bad geometry in ", in, " depth ", depth, " stride ",
           stride);
  if (in == depth) {
    shortcut_layer = register_module("shortcut_layer", std::make_shared<nn::MaxPool2d>(1, stride));
  } else {
    auto projection = std::make_shared<nn::Sequential>();
    projection->push_back(
        std::make_shared<nn::Conv2d>(in, depth, nn::Conv2d::Options{.kernel = 1, .stride = stride, .bias = false}));
    projection->push_back(std::make_shared<nn::BatchNorm2d>(depth));
    shortcut_layer = register_module("shortcut_layer", std::move(projection));
  }
  res_layer = register_module("res_layer", std::make_shared<nn::Sequential>());
  res_layer->push_back(std::make_shared<nn::BatchNorm2d>(in));
  res_layer->push_back(
      std::make_shared<nn::Conv2d>(in, depth, nn::Conv2d::Options{.kernel = 3, .padding = 1, .bias = false}));
  res_layer->push_back(std::make_shared<nn::PReLU>(depth));
  res_layer->push_back(std::make_shared<nn::Conv2d>(
      depth, depth, nn::Conv2d::Options{.kernel = 3, .stride = stride, .padding = 1, .bias = false}));
  res_layer->push_back(std::make_shared<nn::BatchNorm2d>(depth));
  if (se) res_layer->push_back(std::make_shared<SEModule>(depth, se_reduction));
}

Tensor BottleneckIR::forward(const Tensor& x) { return res_layer->forward(x) + shortcut_layer->forward(x); }

std::shared_ptr<nn::Sequential> make_ir_stage(index_t in, index_t depth, int units, bool se, index_t se_reduction) {
  NN_CHECK(units > 0, "make_ir_stage: a stage needs at least one unit, got ", units);
  auto stage = std::make_shared<nn::Sequential>();
  stage->push_back(std::make_shared<BottleneckIR>(in, depth, 2, se, se_reduction));
  for (int i = 1; i < units; ++i) stage->push_back(std::make_shared<BottleneckIR>(depth, depth, 1, se, se_reduction));
  return stage;
}

}  // namespace models
