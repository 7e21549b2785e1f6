// The deterministic image transforms of the reference (REFERENCE.md §4.4; torchvision 0.2.1 on Pillow) and the
// test/val pipeline with its TTA views (§5.1). Images are u8 (H, W, 3) RGB tensors, results of the pipeline
// f32 (3, 112, 112). Each u8 step reproduces Pillow's integer arithmetic, so outputs equal Pillow's
// byte for byte (tests/reference/make_transforms.py).
#pragma once

#include <array>
#include <string>
#include <vector>

#include "libnn/core/tensor.h"

namespace infer {

// PIL Image.resize(BILINEAR): separable triangle filter whose support grows with the downscale factor
// (antialiasing), 22-bit fixed-point coefficients, horizontal pass first, each pass rounded to u8.
nn::Tensor pil_resize_bilinear(const nn::Tensor& image, nn::index_t height, nn::index_t width);

// PIL Image.rotate(angle, BILINEAR, expand=False, center=None), counter-clockwise in degrees, about
// (W/2, H/2) as Pillow 9 does, black outside the source; 0/180 (and 90/270 of a square) are exact transposes.
nn::Tensor pil_rotate_bilinear(const nn::Tensor& image, double angle_degrees);

// image[top : top + height, left : left + width]; the box must lie inside the image.
nn::Tensor crop(const nn::Tensor& image, nn::index_t top, nn::index_t left, nn::index_t height, nn::index_t width);
// torchvision 0.2.1 center_crop: offsets round((H - size) / 2), round((W - size) / 2), halves to even
// (Python 3), so 125 -> 112 starts at 6.
nn::Tensor center_crop(const nn::Tensor& image, nn::index_t size);
// torchvision five_crop order: 0 centre, 1 top-left, 2 top-right, 3 bottom-left, 4 bottom-right.
nn::Tensor five_crop(const nn::Tensor& image, nn::index_t size, int index);
nn::Tensor hflip(const nn::Tensor& image);

struct Normalization {
  std::array<float, 3> mean, std;
  static Normalization cifar() { return {{0.4914f, 0.4822f, 0.4465f}, {0.2023f, 0.1994f, 0.2010f}}; }  // ResNet
  static Normalization half() { return {{0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}}; }                   // IR-50
  static Normalization named(const std::string& name);  // "cifar" | "half"
  // The reference's choice for a network: half for the IR families, cifar for the ResNet ones (§4.4).
  static std::string default_for_model(const std::string& model_name);
};

// ToTensor + Normalize: u8 (H, W, 3) -> f32 (3, H, W), ((x / 255) - mean) / std, all in f32 like torch.
nn::Tensor to_tensor_normalized(const nn::Tensor& image, const Normalization& norm);

// One test-time view: Resize(125, 125) -> rotate(rotate_degrees) -> hflip? -> crop 112 (five_crop index).
struct TestView {
  int crop_index = 0;
  bool hflip = false;
  double rotate_degrees = 0.0;
  std::string name() const;  // the score column of inference.py: crop{i}[_hflip] or rotate{a}[_hflip]
};

constexpr nn::index_t kResizeSide = 125;
constexpr nn::index_t kCropSide = 112;

// The views of inference.py's --tta string (tokens split on '_': hflip, 5crop, rotate; "" = crop0 only),
// in its column order: crop{i}, crop{i}_hflip for each crop, then rotate{-10,10}[_hflip] on the centre crop.
std::vector<TestView> tta_views(const std::string& tta);

// u8 (112, 112, 3): the view before ToTensor.
nn::Tensor test_view_u8(const nn::Tensor& image, const TestView& view);
// f32 (3, 112, 112) for one modality, and for (rgb, depth, ir) at once (the same view for all three).
nn::Tensor test_transform(const nn::Tensor& image, const Normalization& norm, const TestView& view = {});
std::array<nn::Tensor, 3> test_transform(const std::array<nn::Tensor, 3>& rgb_depth_ir, const Normalization& norm,
                                         const TestView& view = {});

}  // namespace infer
