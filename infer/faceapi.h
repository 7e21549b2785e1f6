// face-api's face-recognition pipeline without JavaScript (../shared/spec/FACEAPI_NET.md): the pretrained
// weights from face-api's own TF.js files, an image turned into the network input exactly as
// computeFaceDescriptor builds it, and descriptors. Input images are RGB (H, W, 3), u8 or float 0..255, already
// cropped to the face (face-api's detector and aligner are not part of this).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/faceapi.h"

namespace infer {

// face-api's NetInput.toBatchTensor(150, isCenter = true) on one image: a 150x150 image passes unchanged;
// any other is padded to a square (pad_to_square) and resized with resize_bilinear(150, 150, legacy mapping).
// -> f32 (150, 150, 3), values still 0..255.
nn::Tensor faceapi_resize(const nn::Tensor& image);
// The network input: faceapi_normalize(faceapi_resize(image)) -> f32 (1, 3, 150, 150).
nn::Tensor faceapi_input(const nn::Tensor& image);

// `weights` is a folder holding face_recognition_model-weights_manifest.json, or a file (that manifest, or
// safetensors / .pth with our names, e.g. from `hardtune import --map faceapi`).
std::string faceapi_manifest_path(const std::string& weights);
// FaceRecognitionNet in eval mode with those weights (TF.js through the "faceapi" key map, others by name).
// Strict: every tensor of the file must be used and every parameter set, else the error lists what did not.
std::shared_ptr<models::FaceRecognitionNet> load_faceapi_net(const std::string& weights);

// One 128-d descriptor per image (any sizes), computed without gradients in batches of up to 16.
std::vector<std::vector<float>> faceapi_descriptors(models::FaceRecognitionNet& net,
                                                    const std::vector<nn::Tensor>& images);

}  // namespace infer
