// face-api's FaceRecognitionNet as a DLAS backbone family (registry name faceapi_dlas_a, input 150x150).
// A stream is the net's trunk (models/faceapi.h): L1 = the conv64 group (64 ch, 17x17), L2 = conv128 (128 ch,
// 8x8), L3 = conv256 (256 ch, 4x4), parameters named as in FaceRecognitionNet so the TF.js weights copy in by
// name (weights_import map "faceapi_dlas"). Stages, with face-api's block names inside:
//   make_stage(2, C) = conv128_down (C -> 128) + conv128_1..2      (agg_layer1: 17x17 -> 8x8)
//   make_stage(3, C) = conv256_down (C -> 256) + conv256_1..2      (agg_layer2: 8x8 -> 4x4)
//   make_stage(4, C) = conv256_down_out (C -> 256)                 (agg_layer3 on 256, layer4 on 768: 4x4 -> 2x2)
// layer4's parameter-free shortcut maps 768 -> 256 channels by summing the three streams' pooled L3 (see
// FaceApiResidual). The feature is 256-d (out_channels = 256).
#pragma once

#include "models/faceapi.h"

namespace models {

class FaceApiStream : public Stream {
 public:
  explicit FaceApiStream(nn::Generator& gen = nn::default_generator());
  Levels levels(const Tensor& x) override { return trunk.levels(x); }
  Tensor forward(const Tensor& x) override { return levels(x).l3; }

  FaceApiTrunk trunk;
};

// DLAS-A only: the family has no channel attention (make_stream(true) throws). `gen` must outlive the family.
DlasFamily faceapi_family(nn::Generator& gen = nn::default_generator());

}  // namespace models
