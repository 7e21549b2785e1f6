// The key maps of weights_import/key_maps.h, one function each (the registry table in key_maps.cpp names
// them). Every map is a pure function: source dict (names and layouts as the foreign file has them) ->
// target dict (our module's names and layouts); source keys it neither uses nor deliberately ignores go to
// report.unused.
#pragma once

#include <string>

#include "weights_import/key_maps.h"

namespace weights_import {

// face-api's TF.js FaceRecognitionNet (load_tfjs of face_recognition_model-weights_manifest.json) ->
// models::FaceRecognitionNet: `<layer>/conv/filters` HWIO -> `<layer>.conv.weight` OIHW, `/conv/bias` ->
// `.conv.bias`, `/scale/weights` -> `.scale.weight`, `/scale/biases` -> `.scale.bias` (layer = conv32_down or
// <block>/conv1|conv2), `fc` [256, 128] -> `fc.weight` [128, 256].
nn::StateDict map_faceapi(const nn::StateDict& source, MapReport& report);

// The same source -> faceapi_dlas_a (models/faceapi_dlas.h): the trunk (conv32_down .. conv256_2) copied
// identically into rgb_, depth_ and ir_backbone; agg_layer1.agg_layer <- the conv128 group,
// agg_layer2.agg_layer <- the conv256 group, agg_layer3.agg_layer <- conv256_down_out, layer4 <-
// conv256_down_out with conv1's filters tiled 3x along the input dim ([256, 768, 3, 3], no 1/3 scaling, as
// REFERENCE.md §2 does for the reference nets). `fc` (the descriptor projection) is ignored on purpose.
// The fusion convs and the classifier have no pretrained source: see faceapi_dlas_left_to_init.
nn::StateDict map_faceapi_dlas(const nn::StateDict& source, MapReport& report);

// True for the faceapi_dlas_a keys that map_faceapi_dlas leaves to their initialisation by design:
// agg_layer{1,2,3}.conv1.* (the 1x1 fusion convs) and classifier.*.
bool faceapi_dlas_left_to_init(const std::string& target_key);

}  // namespace weights_import
