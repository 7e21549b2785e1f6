#include "models/resnet_caffe.h"

#include <cmath>

#include "libnn/nn/init.h"

namespace models {

ResNetCaffeStream::ResNetCaffeStream(const ResNetCaffeConfig& cfg, bool with_attention, nn::Generator& gen)
    : Stream("ResNetCaffe") {
  const auto& w = cfg.widths;
  conv1 = register_module("conv1",
                          std::make_shared<nn::Conv2d>(3, w[0], nn::Conv2d::Options{.kernel = 3, .bias = false}, gen));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(w[0]));
  relu = register_module("relu", std::make_shared<nn::PReLU>(w[0]));
  // The per-layer inits are overridden below, so the stages skip them.
  layer1 = register_module("layer1", caffe_stage(w[0], w[1], cfg.blocks[0], gen, false));
  layer2 = register_module("layer2", caffe_stage(w[1], w[2], cfg.blocks[1], gen, false));
  layer3 = register_module("layer3", caffe_stage(w[2], w[3], cfg.blocks[2], gen, false));
  if (with_attention) {
    NN_CHECK(w[1] % 4 == 0 && w[2] % 4 == 0 && w[3] % 4 == 0,
             "ResNetCaffeStream: attention needs widths divisible by 4");
    ch_att1 = register_module("ch_att1", std::make_shared<ChannelAttention>(w[1], w[1] / 4));
    ch_att2 = register_module("ch_att2", std::make_shared<ChannelAttention>(w[2], w[2] / 4));
    ch_att3 = register_module("ch_att3", std::make_shared<ChannelAttention>(w[3], w[3] / 4));
  }
  // The reference's final loop over self.modules(): every conv, kaiming_normal(fan_out, relu).
  for (auto& [name, m] : named_modules()) {
    if (auto* conv = dynamic_cast<nn::Conv2d*>(m)) {
      nn::init::kaiming_normal_(conv->weight, 0.0, nn::init::FanMode::fan_out, "relu", gen);
      if (conv->bias.defined()) {  // only the attention convs; redrawn so that the stream depends on gen alone
        const double bound = 1.0 / std::sqrt(static_cast<double>(nn::init::fans(conv->weight).fan_in));
        nn::init::uniform_(conv->bias, -bound, bound, gen);
      }
    }
  }
}

Stream::Levels ResNetCaffeStream::levels(const Tensor& x) {
  Tensor h = nn::conv_bn_act(*conv1, *bn1, relu.get(), x);
  Tensor l1 = layer1->forward(h);
  if (ch_att1) l1 = ch_att1->forward(l1);
  Tensor l2 = layer2->forward(l1);
  if (ch_att2) l2 = ch_att2->forward(l2);
  Tensor l3 = layer3->forward(l2);
  if (ch_att3) l3 = ch_att3->forward(l3);
  return {l1, l2, l3};
}

DlasFamily resnet_caffe_family(const ResNetCaffeConfig& cfg, nn::Generator& gen) {
  DlasFamily f;
  f.name = "ResNet34DLAS";
  f.level_channels = {cfg.widths[1], cfg.widths[2], cfg.widths[3]};
  f.out_channels = cfg.widths[4];
  nn::Generator* g = &gen;
  f.make_stream = [cfg, g](bool with_attention) -> std::shared_ptr<Stream> {
    return std::make_shared<ResNetCaffeStream>(cfg, with_attention, *g);
  };
  f.make_stage = [cfg, g](int stage, index_t in_channels) -> std::shared_ptr<nn::Module> {
    NN_CHECK(stage >= 1 && stage <= 4, "resnet_caffe_family: no stage ", stage);
    return caffe_stage(in_channels, cfg.widths[static_cast<std::size_t>(stage)],
                       cfg.blocks[static_cast<std::size_t>(stage - 1)], *g);
  };
  return f;
}

}  // namespace models
