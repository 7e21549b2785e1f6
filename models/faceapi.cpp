#include "models/faceapi.h"

#include "libnn/ops/activation.h"
#include "libnn/ops/arith.h"
#include "libnn/ops/conv.h"
#include "libnn/ops/pool.h"
#include "libnn/ops/tensor_ops.h"

namespace models {

FaceApiConvUnit::FaceApiConvUnit(index_t in, index_t out, index_t kernel, index_t stride, bool same_padding, bool relu_,
                                 nn::Generator& gen)
    : nn::Module("FaceApiConvUnit"), relu(relu_) {
  NN_CHECK(!same_padding || (stride == 1 && kernel % 2 == 1), "FaceApiConvUnit: SAME padding is only implemented ",
           "for odd kernels at stride 1 (got kernel ", kernel, ", stride ", stride, ")");
  conv = register_module(
      "conv", std::make_shared<nn::Conv2d>(
                  in, out,
                  nn::Conv2d::Options{
                      .kernel = kernel, .stride = stride, .padding = same_padding ? kernel / 2 : 0, .bias = true},
                  gen));
  scale = register_module("scale", std::make_shared<ChannelAffine>(out));
}

Tensor FaceApiConvUnit::forward(const Tensor& x) {
  Tensor y = scale->forward(conv->forward(x));
  return relu ? nn::ops::relu(y) : y;
}

FaceApiResidual::FaceApiResidual(index_t in, index_t out, bool down_, nn::Generator& gen)
    : nn::Module("FaceApiResidual"), down(down_), in_channels(in), out_channels(out) {
  if (down)
    NN_CHECK(in == out || out == 2 * in || (in > out && in % out == 0), "FaceApiResidual: a down block maps ", in,
             " channels to ", out, "; its parameter-free shortcut needs out == in, out == 2 in or in == k out");
  else
    NN_CHECK(in == out, "FaceApiResidual: a plain block keeps its channels, got ", in, " -> ", out);
  conv1 = register_module("conv1", std::make_shared<FaceApiConvUnit>(in, out, 3, down ? 2 : 1, !down, true, gen));
  conv2 = register_module("conv2", std::make_shared<FaceApiConvUnit>(out, out, 3, 1, true, false, gen));
}

Tensor FaceApiResidual::forward(const Tensor& x) {
  Tensor main = conv2->forward(conv1->forward(x));
  if (!down) return nn::ops::relu(main + x);

  Tensor pooled = nn::ops::avg_pool2d(x, 2, 2);
  const index_t N = main.size(0), C = main.size(1);
  if (main.size(2) != pooled.size(2) || main.size(3) != pooled.size(3)) {
    // face-api pads by exactly one row (bottom) and then one column (right) whenever the sizes differ.
    main = nn::ops::cat({main, Tensor::zeros({N, C, 1, main.size(3)}, main.dtype())}, 2);
    main = nn::ops::cat({main, Tensor::zeros({N, C, main.size(2), 1}, main.dtype())}, 3);
    NN_CHECK(main.size(2) == pooled.size(2) && main.size(3) == pooled.size(3), type_name(), ": input ", x.shape(),
             " gives a main branch that does not match the pooled shortcut ", pooled.shape(),
             " even after face-api's one-row, one-column zero padding");
  }
  if (out_channels == 2 * in_channels) {
    pooled = nn::ops::cat({pooled, Tensor::zeros(pooled.shape(), pooled.dtype())}, 1);
  } else if (in_channels > out_channels) {
    Tensor sum = pooled.slice(1, 0, out_channels).contiguous();
    for (index_t k = out_channels; k < in_channels; k += out_channels)
      sum = sum + pooled.slice(1, k, k + out_channels).contiguous();
    pooled = sum;
  }
  return nn::ops::relu(pooled + main);
}

Tensor FaceApiGroup::forward(const Tensor& x) {
  Tensor h = x;
  for (const auto& [name, block] : named_children()) h = block->forward(h);
  return h;
}

std::shared_ptr<FaceApiGroup> faceapi_group(const std::string& prefix, index_t in, index_t out, int residuals,
                                            nn::Generator& gen) {
  auto group = std::make_shared<FaceApiGroup>();
  group->register_module(prefix + "_down", std::make_shared<FaceApiResidual>(in, out, true, gen));
  for (int i = 1; i <= residuals; ++i)
    group->register_module(prefix + "_" + std::to_string(i), std::make_shared<FaceApiResidual>(out, out, false, gen));
  return group;
}

void FaceApiTrunk::build(nn::Module& owner, nn::Generator& gen) {
  conv32_down = owner.register_module("conv32_down", std::make_shared<FaceApiConvUnit>(3, 32, 7, 2, false, true, gen));
  const struct {
    const char* prefix;
    index_t in, out;
    int residuals;
  } groups[] = {{"conv32", 32, 32, 3}, {"conv64", 32, 64, 3}, {"conv128", 64, 128, 2}, {"conv256", 128, 256, 2}};
  for (std::size_t s = 0; s < stages.size(); ++s) {
    const auto& g = groups[s];
    if (s > 0)  // conv32 has no down block: the stem and the max pool reduce before it
      stages[s].push_back(owner.register_module(std::string(g.prefix) + "_down",
                                                std::make_shared<FaceApiResidual>(g.in, g.out, true, gen)));
    for (int i = 1; i <= g.residuals; ++i)
      stages[s].push_back(owner.register_module(std::string(g.prefix) + "_" + std::to_string(i),
                                                std::make_shared<FaceApiResidual>(g.out, g.out, false, gen)));
  }
}

Stream::Levels FaceApiTrunk::levels(const Tensor& x) const {
  NN_CHECK(x.dim() == 4 && x.size(1) == 3, "FaceRecognitionNet: input must be (N, 3, H, W), got ", x.describe());
  Tensor h = nn::ops::max_pool2d(conv32_down->forward(x), 3, 2);
  std::array<Tensor, 4> out;
  for (std::size_t s = 0; s < stages.size(); ++s) {
    for (const auto& block : stages[s]) h = block->forward(h);
    out[s] = h;
  }
  return {out[1], out[2], out[3]};
}

FaceRecognitionNet::FaceRecognitionNet(nn::Generator& gen) : nn::Module("FaceRecognitionNet") {
  trunk.build(*this, gen);
  conv256_down_out = register_module("conv256_down_out", std::make_shared<FaceApiResidual>(256, 256, true, gen));
  fc = register_module("fc", std::make_shared<nn::Linear>(256, 128, false, gen));
}

Tensor FaceRecognitionNet::forward(const Tensor& x) {
  const Tensor h = conv256_down_out->forward(trunk.levels(x).l3);
  return fc->forward(nn::ops::adaptive_avg_pool2d(h, 1).flatten(1));
}

Tensor faceapi_normalize(const Tensor& images) {
  NN_CHECK(images.defined() && (images.dim() == 3 || images.dim() == 4) && images.size(-1) == 3,
           "faceapi_normalize: images must be RGB (H, W, 3) or (N, H, W, 3), got ",
           images.defined() ? images.describe() : std::string("an undefined tensor"));
  NN_CHECK(images.device().is_cpu(), "faceapi_normalize: images must be on the CPU, got ", images.describe());
  const Tensor src = images.dim() == 3 ? images.reshape({1, images.size(0), images.size(1), 3}) : images;
  const index_t N = src.size(0), H = src.size(1), W = src.size(2);
  // Every value goes through float32 first, as face-api casts its batch tensor before normalizing.
  const Tensor f = src.dtype() == nn::DType::f32 ? src.contiguous() : src.to(nn::DType::f32).contiguous();
  const float* in = f.data<float>();
  Tensor out = Tensor::empty({N, 3, H, W}, nn::DType::f32);
  float* o = out.data<float>();
  for (index_t n = 0; n < N; ++n)
    for (index_t c = 0; c < 3; ++c)
      for (index_t p = 0; p < H * W; ++p) {
        const float centered = in[(n * H * W + p) * 3 + c] - kFaceApiMeanRgb[static_cast<std::size_t>(c)];
        o[(n * 3 + c) * H * W + p] = centered / 255.0f;
      }
  return out;
}

}  // namespace models
