#include "infer/embed.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "infer/faceapi.h"
#include "infer/image.h"

namespace infer {

void run_embed(const EmbedOptions& options, std::ostream& out) {
  NN_CHECK(options.model == "faceapi", "embed: unknown model \"", options.model, "\"; known models: faceapi");
  NN_CHECK(!options.weights.empty(), "embed: --weights is required (face-api's model folder or its manifest)");
  NN_CHECK(!options.images.empty(), "embed: no images given");
  auto net = load_faceapi_net(options.weights);
  std::vector<nn::Tensor> images;
  for (const auto& path : options.images) images.push_back(load_image_rgb(path));
  const auto descriptors = faceapi_descriptors(*net, images);

  std::string text = "[";
  char number[32];
  for (std::size_t i = 0; i < descriptors.size(); ++i) {
    text += i ? ",\n " : "\n ";
    text += "{\"image\": " + nlohmann::json(options.images[i]).dump() + ", \"descriptor\": [";
    for (std::size_t k = 0; k < descriptors[i].size(); ++k) {
      std::snprintf(number, sizeof number, "%s%.9g", k ? ", " : "", static_cast<double>(descriptors[i][k]));
      text += number;
    }
    text += "]}";
  }
  out << text << "\n]\n";
}

}  // namespace infer
