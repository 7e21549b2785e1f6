#include "models/faceapi_dlas.h"

namespace models {

FaceApiStream::FaceApiStream(nn::Generator& gen) : Stream("FaceApiStream") { trunk.build(*this, gen); }

DlasFamily faceapi_family(nn::Generator& gen) {
  DlasFamily f;
  f.name = "FaceApiDLAS";
  f.level_channels = {64, 128, 256};
  f.out_channels = 256;
  nn::Generator* g = &gen;
  f.make_stream = [g](bool with_attention) -> std::shared_ptr<Stream> {
    NN_CHECK(!with_attention, "faceapi_family: only DLAS-A is defined (no channel attention in face-api's net)");
    return std::make_shared<FaceApiStream>(*g);
  };
  f.make_stage = [g](int stage, index_t in_channels) -> std::shared_ptr<nn::Module> {
    switch (stage) {
      case 2:
        return faceapi_group("conv128", in_channels, 128, 2, *g);
      case 3:
        return faceapi_group("conv256", in_channels, 256, 2, *g);
      case 4: {
        auto group = std::make_shared<FaceApiGroup>();
        group->register_module("conv256_down_out", std::make_shared<FaceApiResidual>(in_channels, 256, true, *g));
        return group;
      }
      default:
        throw nn::Error(nn::str("faceapi_family: no stage ", stage, " (DLAS uses stages 2, 3 and 4)"));
    }
  };
  return f;
}

}  // namespace models
