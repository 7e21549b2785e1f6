// The random training augmentations of the reference (REFERENCE.md §4.4, torchvision 0.2.1 on Pillow): the
// ops at given parameters (Pillow-exact u8 arithmetic), the parameter draws, and the STRONG / WEAK pipelines
// turning one (rgb, depth, ir) u8 triplet into three normalised f32 (3, 112, 112) tensors.
// Randomness: every sample draws from its own fixed slots of a Philox stream, counter = sample_index *
// kBlocksPerSample, so a sample's augmentation depends only on (seed, sample_index): not on thread count
// nor on the order in which a loader visits samples.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <utility>

#include "infer/transforms.h"
#include "libnn/core/rng.h"
#include "libnn/core/tensor.h"

namespace hardtune::data {

// ---- Ops at fixed parameters (u8 (H, W, 3) -> u8), as torchvision.transforms.functional 0.2.1 on PIL ----

// ImageEnhance.Brightness / Contrast / Color (= saturation): Image.blend(degenerate, image, factor) with
// Pillow's float32 blend (truncation inside [0, 1], clipping when extrapolating). Contrast's degenerate is
// the grey int(mean(L) + 0.5), Color's the L image.
nn::Tensor adjust_brightness(const nn::Tensor& image, double factor);
nn::Tensor adjust_contrast(const nn::Tensor& image, double factor);
nn::Tensor adjust_saturation(const nn::Tensor& image, double factor);
// RGB -> HSV (Pillow), H += uint8(hue_factor * 255) wrapping, HSV -> RGB. hue_factor in [-0.5, 0.5].
nn::Tensor adjust_hue(const nn::Tensor& image, double hue_factor);
// convert("L").convert("RGB"): L = (R 19595 + G 38470 + B 7471 + 2^15) >> 16, copied to 3 channels.
nn::Tensor to_grayscale3(const nn::Tensor& image);
// crop then PIL bilinear resize to size x size (torchvision resized_crop).
nn::Tensor resized_crop(const nn::Tensor& image, nn::index_t top, nn::index_t left, nn::index_t height,
                        nn::index_t width, nn::index_t size);

// ---- Parameters ----

struct AugmentConfig {
  double rotation_degrees;            // angle ~ U(-d, d)
  double scale_min, scale_max;        // RandomResizedCrop area fraction
  double ratio_min = 3.0 / 4.0, ratio_max = 4.0 / 3.0;
  double flip_p = 0.5;
  double jitter_p = 0.2;              // RandomApply(ColorJitter)
  double brightness, contrast, saturation, hue;
  double grayscale_p = 0.2;
  static AugmentConfig strong() { return {45.0, 0.2, 1.0, 3.0 / 4.0, 4.0 / 3.0, 0.5, 0.2, 0.5, 0.5, 0.5, 0.25, 0.2}; }
  static AugmentConfig weak() { return {30.0, 0.5, 1.0, 3.0 / 4.0, 4.0 / 3.0, 0.5, 0.2, 0.25, 0.25, 0.25, 0.125, 0.2}; }
};

struct CropBox {
  nn::index_t top = 0, left = 0, height = 0, width = 0;
};

enum class JitterOp : std::uint8_t { brightness, contrast, saturation, hue };

// Everything random about one sample. Geometry is shared by the three modalities, colour is rgb only.
struct SampleParams {
  double angle = 0.0;
  CropBox box;
  bool hflip = false;
  bool jitter = false;
  std::array<double, 4> factors{1.0, 1.0, 1.0, 0.0};  // indexed by JitterOp; hue is a shift
  std::array<JitterOp, 4> order{JitterOp::brightness, JitterOp::contrast, JitterOp::saturation, JitterOp::hue};
  bool grayscale = false;
};

// Philox counters one sample owns (its draws sit at fixed word slots inside them).
constexpr std::uint64_t kBlocksPerSample = 16;

// torchvision 0.2.1 RandomResizedCrop.get_params on a width x height image, with uniforms u() in (0, 1):
// 10 tries of (area U(scale), aspect U(ratio), w = round(sqrt(A r)), h = round(sqrt(A / r)) halves to even,
// swap with p 0.5, accept if it fits, then top/left uniform integers as random.randint); else the centred
// square of the shorter side. Each try reads 5 uniforms, top/left included even when rejected (fixed slots).
template <typename Uniform>
CropBox random_resized_crop_box(nn::index_t height, nn::index_t width, const AugmentConfig& cfg, Uniform&& u);

// The draws of sample sample_index; crop box for a resize_side^2 rgb image (the crop follows Resize(125)).
SampleParams draw_sample_params(const AugmentConfig& cfg, std::uint64_t seed, std::uint64_t sample_index,
                                nn::index_t resize_side = infer::kResizeSide);

// rotate -> Resize(125) -> resized crop 112 -> hflip -> (rgb: jitter ops in order, grayscale), u8 out.
std::array<nn::Tensor, 3> augment_u8(const std::array<nn::Tensor, 3>& rgb_depth_ir, const SampleParams& p);
// augment_u8 of the drawn parameters, then ToTensor + Normalize: three f32 (3, 112, 112).
std::array<nn::Tensor, 3> augment(const std::array<nn::Tensor, 3>& rgb_depth_ir, const AugmentConfig& cfg,
                                  const infer::Normalization& norm, std::uint64_t seed, std::uint64_t sample_index);

// ---- template definition ----

template <typename Uniform>
CropBox random_resized_crop_box(nn::index_t height, nn::index_t width, const AugmentConfig& cfg, Uniform&& u) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double area = double(height) * double(width);
    const double target = (cfg.scale_min + (cfg.scale_max - cfg.scale_min) * u()) * area;
    const double ratio = cfg.ratio_min + (cfg.ratio_max - cfg.ratio_min) * u();
    auto w = static_cast<nn::index_t>(std::nearbyint(std::sqrt(target * ratio)));
    auto h = static_cast<nn::index_t>(std::nearbyint(std::sqrt(target / ratio)));
    if (u() < 0.5) std::swap(w, h);
    const double u_top = u(), u_left = u();  // drawn every try: fixed slots
    if (w <= width && h <= height) {
      const auto pick = [](double x, nn::index_t hi) {
        return std::min(hi, static_cast<nn::index_t>(x * double(hi + 1)));
      };
      return {pick(u_top, height - h), pick(u_left, width - w), h, w};
    }
  }
  const nn::index_t side = std::min(width, height);
  return {(height - side) / 2, (width - side) / 2, side, side};
}

}  // namespace hardtune::data
