#include "infer/faceapi.h"

#include <algorithm>
#include <filesystem>

#include "infer/image.h"
#include "infer/weights.h"
#include "libnn/autograd/grad_mode.h"
#include "libnn/ops/tensor_ops.h"

namespace infer {

nn::Tensor faceapi_resize(const nn::Tensor& image) {
  NN_CHECK(image.defined() && image.dim() == 3 && image.size(2) == 3, "faceapi: an image must be RGB (H, W, 3), got ",
           image.defined() ? image.describe() : std::string("an undefined tensor"));
  constexpr nn::index_t S = models::kFaceApiInputSize;
  if (image.size(0) == S && image.size(1) == S) return image.to(nn::DType::f32).contiguous();
  const nn::Tensor square = pad_to_square(image);
  return square.size(0) == S ? square : resize_bilinear(square, S, S, false, false);
}

nn::Tensor faceapi_input(const nn::Tensor& image) { return models::faceapi_normalize(faceapi_resize(image)); }

std::string faceapi_manifest_path(const std::string& weights) {
  std::error_code ec;
  if (std::filesystem::is_directory(weights, ec))
    return (std::filesystem::path(weights) / "face_recognition_model-weights_manifest.json").string();
  return weights;
}

std::shared_ptr<models::FaceRecognitionNet> load_faceapi_net(const std::string& weights) {
  // face-api's own TF.js files, or what `hardtune import --map faceapi` (or a .pth with our names) holds.
  const std::string path = faceapi_manifest_path(weights);
  const weights_import::WeightsFile file = weights_import::read_weights_file(path);
  auto net = std::make_shared<models::FaceRecognitionNet>();
  load_weights_into(*net, file, path, file.format == "tfjs" ? "faceapi" : "identity", true);
  net->freeze_for_inference();
  return net;
}

std::vector<std::vector<float>> faceapi_descriptors(models::FaceRecognitionNet& net,
                                                    const std::vector<nn::Tensor>& images) {
  constexpr std::size_t kBatch = 16;
  nn::NoGradGuard no_grad;
  std::vector<std::vector<float>> out;
  for (std::size_t start = 0; start < images.size(); start += kBatch) {
    std::vector<nn::Tensor> inputs;
    for (std::size_t i = start; i < std::min(images.size(), start + kBatch); ++i)
      inputs.push_back(faceapi_input(images[i]));
    const nn::Tensor d = net.forward(inputs.size() == 1 ? inputs[0] : nn::ops::cat(inputs, 0)).contiguous();
    const float* p = d.data<float>();
    for (nn::index_t n = 0; n < d.size(0); ++n) out.emplace_back(p + n * d.size(1), p + (n + 1) * d.size(1));
  }
  return out;
}

}  // namespace infer
