// The individual key maps; weights_import/key_maps.cpp lists them by name.
#pragma once

#include "weights_import/key_maps.h"

namespace weights_import::maps {

// face.evoLVe Backbone (input_layer, body.N, output_layer) -> an IR DLAS-A net (REFERENCE.md §2.2).
nn::StateDict evolve_ir_to_dlas(SourceDict& source, const nn::StateDict& target);
bool evolve_ir_leaves_to_init(const std::string& target_key);

// Single-stream ResNetCaffe (conv1, bn1, relu, layer1..layer4, fc / se_block) -> ResNet34DLAS (§2.1).
nn::StateDict resnet_caffe_to_dlas(SourceDict& source, const nn::StateDict& target);
bool resnet_caffe_leaves_to_init(const std::string& target_key);

// face-api's TF.js FaceRecognitionNet (load_tfjs of face_recognition_model-weights_manifest.json) ->
// models::FaceRecognitionNet: `<layer>/conv/filters` HWIO -> `<layer>.conv.weight` OIHW, `/conv/bias` ->
// `.conv.bias`, `/scale/weights` -> `.scale.weight`, `/scale/biases` -> `.scale.bias` (layer = conv32_down or
// <block>.conv1|conv2), `fc` [256, 128] -> `fc.weight` [128, 256].
nn::StateDict faceapi_to_net(SourceDict& source, const nn::StateDict& target);

// The same source -> faceapi_dlas_a (models/faceapi_dlas.h): the trunk (conv32_down .. conv256_2) copied
// into every stream; agg_layer1.agg_layer <- the conv128 group, agg_layer2.agg_layer <- the conv256 group,
// agg_layer3.agg_layer <- conv256_down_out, layer4 <- conv256_down_out with conv1's filters tiled once per
// stream along the inputs (no scaling, as REFERENCE.md §2 does for the reference nets). `fc` (the
// descriptor projection) is ignored on purpose; the fusion convs and the classifier are left to init.
nn::StateDict faceapi_to_dlas(SourceDict& source, const nn::StateDict& target);
bool faceapi_dlas_leaves_to_init(const std::string& target_key);

}  // namespace weights_import::maps

namespace weights_import::maps {

// ---- shared by the maps
// The stream prefixes ("rgb_backbone.", ...) the target has, in rgb, depth, ir order.
std::vector<std::string> stream_prefixes(const nn::StateDict& target);
bool has_prefix(const nn::StateDict& dict, const std::string& prefix);
// Every source key under `from` becomes `to` + the rest of its name; num_batches_tracked only when asked.
void copy_tree(SourceDict& source, const std::string& from, const std::string& to, nn::StateDict& out,
               bool with_num_batches_tracked);
// t repeated `times` along dim. layer4 reads the concatenation of the streams, so its input-side tensors are
// the pretrained ones once per stream, unscaled (REFERENCE.md §2).
nn::Tensor tile(const nn::Tensor& t, int dim, std::size_t times);

}  // namespace weights_import::maps
