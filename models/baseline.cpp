#include "models/baseline.h"

#include "libnn/nn/init.h"
#include "libnn/ops/activation.h"
#include "libnn/ops/arith.h"
#include "libnn/ops/pool.h"
#include "libnn/ops/tensor_ops.h"

namespace models {

namespace {

std::shared_ptr<nn::Conv2d> conv(index_t in, index_t out, index_t k, index_t stride, index_t pad, nn::Generator& gen) {
  return std::make_shared<nn::Conv2d>(
      in, out, nn::Conv2d::Options{.kernel = k, .stride = stride, .padding = pad, .bias = false}, gen);
}

// torchvision ResNet's init loop: every conv kaiming_normal(fan_out, relu); BN weight 1, bias 0 (our default).
void torchvision_init(nn::Module& m, nn::Generator& gen) {
  for (auto& [name, module] : m.named_modules())
    if (auto* c = dynamic_cast<nn::Conv2d*>(module))
      nn::init::kaiming_normal_(c->weight, 0.0, nn::init::FanMode::fan_out, "relu", gen);
}

void check_input(const char* net, const char* name, const Tensor& x) {
  NN_CHECK(x.defined() && x.dim() == 4 && x.size(1) == 3, net, ": ", name, " must be (N, 3, H, W), got ",
           x.defined() ? x.describe() : std::string("an undefined tensor"));
}

Tensor global_pool(const Tensor& x) { return nn::ops::adaptive_avg_pool2d(x, 1).flatten(1); }

}  // namespace

ResNetBasicBlock::ResNetBasicBlock(index_t in, index_t c, index_t stride, nn::Generator& gen)
    : nn::Module("ResNetBasicBlock") {
  conv1 = register_module("conv1", conv(in, c, 3, stride, 1, gen));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(c));
  conv2 = register_module("conv2", conv(c, c, 3, 1, 1, gen));
  bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(c));
  if (stride != 1 || in != c) {
    downsample = register_module("downsample", std::make_shared<nn::Sequential>());
    downsample->push_back(conv(in, c, 1, stride, 0, gen));
    downsample->push_back(std::make_shared<nn::BatchNorm2d>(c));
  }
}

Tensor ResNetBasicBlock::forward(const Tensor& x) {
  const Tensor h = nn::ops::relu(nn::conv_bn_act(*conv1, *bn1, nullptr, x));
  const Tensor out = nn::conv_bn_act(*conv2, *bn2, nullptr, h);
  return nn::ops::relu(out + (downsample ? downsample->forward(x) : x));
}

std::shared_ptr<nn::Sequential> make_resnet_layer(index_t in, index_t c, index_t blocks, index_t stride,
                                                  nn::Generator& gen) {
  auto layer = std::make_shared<nn::Sequential>();
  for (index_t i = 0; i < blocks; ++i)
    layer->push_back(std::make_shared<ResNetBasicBlock>(i == 0 ? in : c, c, i == 0 ? stride : 1, gen));
  return layer;
}

ResNet18Stream::ResNet18Stream(index_t w, nn::Generator& gen) : nn::Module("ResNet18Stream") {
  NN_CHECK(w > 0, "ResNet18Stream: width must be positive, got ", w);
  conv1 = register_module("conv1", conv(3, w, 7, 2, 3, gen));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(w));
  layer1 = register_module("layer1", make_resnet_layer(w, w, 2, 1, gen));
  layer2 = register_module("layer2", make_resnet_layer(w, 2 * w, 2, 2, gen));
  layer3 = register_module("layer3", make_resnet_layer(2 * w, 4 * w, 2, 2, gen));
}

Tensor ResNet18Stream::forward(const Tensor& x) {
  Tensor h = nn::ops::max_pool2d(nn::ops::relu(nn::conv_bn_act(*conv1, *bn1, nullptr, x)), 3, 2, 1);
  return layer3->forward(layer2->forward(layer1->forward(h)));
}

CasiaSurfBaseline::CasiaSurfBaseline(const BaselineOptions& o, nn::Generator& gen)
    : MultiModalNet("CasiaSurfBaseline", 8 * o.width) {
  const index_t c3 = 4 * o.width;
  rgb_backbone = register_module("rgb_backbone", std::make_shared<ResNet18Stream>(o.width, gen));
  depth_backbone = register_module("depth_backbone", std::make_shared<ResNet18Stream>(o.width, gen));
  ir_backbone = register_module("ir_backbone", std::make_shared<ResNet18Stream>(o.width, gen));
  rgb_se = register_module("rgb_se", std::make_shared<SEModule>(c3, o.se_reduction));
  depth_se = register_module("depth_se", std::make_shared<SEModule>(c3, o.se_reduction));
  ir_se = register_module("ir_se", std::make_shared<SEModule>(c3, o.se_reduction));
  layer4 = register_module("layer4", make_resnet_layer(3 * c3, 8 * o.width, 2, 2, gen));
  torchvision_init(*this, gen);
}

Tensor CasiaSurfBaseline::features(const Tensor& rgb, const Tensor& depth, const Tensor& ir) {
  check_input("CasiaSurfBaseline", "rgb", rgb);
  check_input("CasiaSurfBaseline", "depth", depth);
  check_input("CasiaSurfBaseline", "ir", ir);
  const Tensor fused =
      nn::ops::cat({rgb_se->forward(rgb_backbone->forward(rgb)), depth_se->forward(depth_backbone->forward(depth)),
                    ir_se->forward(ir_backbone->forward(ir))},
                   1);  // (N, 12w, H/16, W/16)
  return global_pool(layer4->forward(fused));
}

SingleModalityNet::SingleModalityNet(Modality m, const BaselineOptions& o, nn::Generator& gen)
    : MultiModalNet(std::string("SingleModalityNet_") + modality_name(m), 8 * o.width), modality(m) {
  const std::string prefix = modality_name(m);
  backbone = register_module(prefix + "_backbone", std::make_shared<ResNet18Stream>(o.width, gen));
  se = register_module(prefix + "_se", std::make_shared<SEModule>(4 * o.width, o.se_reduction));
  layer4 = register_module("layer4", make_resnet_layer(4 * o.width, 8 * o.width, 2, 2, gen));
  torchvision_init(*this, gen);
}

Tensor SingleModalityNet::features(const Tensor& rgb, const Tensor& depth, const Tensor& ir) {
  const Tensor& x = modality == Modality::rgb ? rgb : modality == Modality::depth ? depth : ir;
  check_input(type_name().c_str(), modality_name(modality), x);
  return global_pool(layer4->forward(se->forward(backbone->forward(x))));
}

}  // namespace models
