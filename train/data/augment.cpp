// Pillow's colour arithmetic transcribed (Blend.c, Convert.c rgb2hsv_row / hsv2rgb, ImageStat): the float vs
// double types of each C expression are kept, since they decide the rounding. Built with -ffp-contract=off.
#include "train/data/augment.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "libnn/core/check.h"

namespace hardtune::data {

namespace {

using nn::index_t;

const std::uint8_t* checked_rgb(const nn::Tensor& image, const char* op) {
  NN_CHECK(image.defined() && image.dim() == 3 && image.size(2) == 3 && image.dtype() == nn::DType::u8 &&
               image.is_contiguous(),
           op, ": image must be a contiguous u8 (H, W, 3), got ",
           image.defined() ? image.describe() : std::string("undefined"));
  return image.data<std::uint8_t>();
}

std::uint8_t luma(const std::uint8_t* p) {
  return std::uint8_t((p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16);
}

int clip8(int v) { return v <= 0 ? 0 : v < 256 ? v : 255; }

// Image.blend(degenerate, image, alpha): alpha is a C float in Pillow.
template <typename Degenerate>
nn::Tensor blend(const nn::Tensor& image, double factor, const char* op, Degenerate degenerate) {
  const std::uint8_t* in = checked_rgb(image, op);
  NN_CHECK(std::isfinite(factor) && factor >= 0.0, op, ": factor must be >= 0, got ", factor);
  const float alpha = static_cast<float>(factor);
  nn::Tensor out = nn::Tensor::empty(image.shape(), nn::DType::u8);
  std::uint8_t* o = out.data<std::uint8_t>();
  const index_t n = image.size(0) * image.size(1);
  const bool interpolate = alpha >= 0 && alpha <= 1.0;
  for (index_t i = 0; i < n; ++i) {
    const int d = degenerate(in + i * 3);
    for (int c = 0; c < 3; ++c) {
      const float t = float(d) + alpha * float(int(in[i * 3 + c]) - d);
      o[i * 3 + c] = interpolate ? std::uint8_t(t) : t <= 0.0f ? 0 : t >= 255.0f ? 255 : std::uint8_t(t);
    }
  }
  return out;
}

void rgb2hsv(const std::uint8_t* in, std::uint8_t* out) {
  const std::uint8_t r = in[0], g = in[1], b = in[2];
  const std::uint8_t maxc = std::max(r, std::max(g, b)), minc = std::min(r, std::min(g, b));
  std::uint8_t uh = 0, us = 0;
  if (minc != maxc) {
    const float cr = float(maxc - minc);
    const float s = cr / float(maxc);
    const float rc = float(maxc - r) / cr, gc = float(maxc - g) / cr, bc = float(maxc - b) / cr;
    float h;
    if (r == maxc)
      h = bc - gc;
    else if (g == maxc)
      h = float(2.0 + rc - bc);
    else
      h = float(4.0 + gc - rc);
    h = float(std::fmod(h / 6.0 + 1.0, 1.0));
    uh = std::uint8_t(clip8(int(h * 255.0)));
    us = std::uint8_t(clip8(int(s * 255.0)));
  }
  out[0] = uh, out[1] = us, out[2] = maxc;
}

void hsv2rgb(const std::uint8_t* in, std::uint8_t* out) {
  const std::uint8_t h = in[0], s = in[1], v = in[2];
  if (s == 0) {
    out[0] = out[1] = out[2] = v;
    return;
  }
  const int i = int(std::floor(float(h) * 6.0 / 255.0));
  const float f = float(float(h) * 6.0 / 255.0 - float(i));
  const float fs = float(float(s) / 255.0);
  const auto up = std::uint8_t(clip8(int(std::round(float(v) * (1.0 - fs)))));
  const auto uq = std::uint8_t(clip8(int(std::round(float(v) * (1.0 - fs * f)))));
  const auto ut = std::uint8_t(clip8(int(std::round(float(v) * (1.0 - fs * (1.0 - f))))));
  const std::uint8_t table[6][3] = {{v, ut, up}, {uq, v, up}, {up, v, ut}, {up, uq, v}, {ut, up, v}, {v, up, uq}};
  std::memcpy(out, table[i % 6], 3);
}

// One uniform per word slot of the sample's counters.
class SampleDraws {
 public:
  SampleDraws(std::uint64_t seed, std::uint64_t sample_index) : gen_(seed), base_(sample_index * kBlocksPerSample) {}
  void skip_to(std::uint64_t slot) {
    while (next_ < slot) (*this)();
  }
  double operator()() {
    NN_CHECK(next_ < kBlocksPerSample * 4, "augment: a sample used more than its ", kBlocksPerSample * 4, " draws");
    if (next_ % 4 == 0) words_ = gen_.block(base_ + next_ / 4);
    return nn::Generator::to_unit(words_[next_++ % 4]);
  }

 private:
  nn::Generator gen_;
  std::uint64_t base_, next_ = 0;
  std::array<std::uint32_t, 4> words_{};
};

nn::Tensor apply_jitter(const nn::Tensor& image, JitterOp op, double factor) {
  switch (op) {
    case JitterOp::brightness: return adjust_brightness(image, factor);
    case JitterOp::contrast: return adjust_contrast(image, factor);
    case JitterOp::saturation: return adjust_saturation(image, factor);
    case JitterOp::hue: return adjust_hue(image, factor);
  }
  return image;
}

}  // namespace

nn::Tensor adjust_brightness(const nn::Tensor& image, double factor) {
  return blend(image, factor, "adjust_brightness", [](const std::uint8_t*) { return 0; });
}

nn::Tensor adjust_contrast(const nn::Tensor& image, double factor) {
  const std::uint8_t* in = checked_rgb(image, "adjust_contrast");
  const index_t n = image.size(0) * image.size(1);
  std::int64_t sum = 0;
  for (index_t i = 0; i < n; ++i) sum += luma(in + i * 3);
  const int mean = static_cast<int>(double(sum) / double(n) + 0.5);  // ImageStat's histogram mean
  return blend(image, factor, "adjust_contrast", [mean](const std::uint8_t*) { return mean; });
}

nn::Tensor adjust_saturation(const nn::Tensor& image, double factor) {
  return blend(image, factor, "adjust_saturation", [](const std::uint8_t* p) { return int(luma(p)); });
}

nn::Tensor adjust_hue(const nn::Tensor& image, double hue_factor) {
  const std::uint8_t* in = checked_rgb(image, "adjust_hue");
  NN_CHECK(hue_factor >= -0.5 && hue_factor <= 0.5, "adjust_hue: hue_factor must be in [-0.5, 0.5], got ", hue_factor);
  // torchvision: np_h += np.uint8(hue_factor * 255), a C cast that truncates, then wraps modulo 256.
  const auto shift = static_cast<std::uint8_t>(static_cast<std::int64_t>(std::trunc(hue_factor * 255)) & 255);
  nn::Tensor out = nn::Tensor::empty(image.shape(), nn::DType::u8);
  std::uint8_t* o = out.data<std::uint8_t>();
  const index_t n = image.size(0) * image.size(1);
  for (index_t i = 0; i < n; ++i) {
    std::uint8_t hsv[3];
    rgb2hsv(in + i * 3, hsv);
    hsv[0] = std::uint8_t(hsv[0] + shift);
    hsv2rgb(hsv, o + i * 3);
  }
  return out;
}

nn::Tensor to_grayscale3(const nn::Tensor& image) {
  const std::uint8_t* in = checked_rgb(image, "to_grayscale3");
  nn::Tensor out = nn::Tensor::empty(image.shape(), nn::DType::u8);
  std::uint8_t* o = out.data<std::uint8_t>();
  for (index_t i = 0; i < image.size(0) * image.size(1); ++i) o[i * 3] = o[i * 3 + 1] = o[i * 3 + 2] = luma(in + i * 3);
  return out;
}

nn::Tensor resized_crop(const nn::Tensor& image, index_t top, index_t left, index_t height, index_t width,
                        index_t size) {
  return infer::pil_resize_bilinear(infer::crop(image, top, left, height, width), size, size);
}

SampleParams draw_sample_params(const AugmentConfig& cfg, std::uint64_t seed, std::uint64_t sample_index,
                                index_t resize_side) {
  SampleDraws u(seed, sample_index);
  SampleParams p;
  // Word slots: 0 angle, 1..50 crop (5 per try), 51 flip, 52 jitter?, 53..56 factors, 57..59 order, 60 grey.
  p.angle = -cfg.rotation_degrees + 2.0 * cfg.rotation_degrees * u();
  p.box = random_resized_crop_box(resize_side, resize_side, cfg, [&] { return u(); });
  u.skip_to(51);  // an early accepted try leaves crop slots unread
  p.hflip = u() < cfg.flip_p;
  p.jitter = u() < cfg.jitter_p;
  const auto factor = [&](double x) { return std::max(0.0, 1.0 - x) + (1.0 + x - std::max(0.0, 1.0 - x)) * u(); };
  p.factors[0] = factor(cfg.brightness);
  p.factors[1] = factor(cfg.contrast);
  p.factors[2] = factor(cfg.saturation);
  p.factors[3] = -cfg.hue + 2.0 * cfg.hue * u();
  for (int i = 3; i > 0; --i) {  // Fisher-Yates, like random.shuffle
    const int j = std::min(i, static_cast<int>(u() * (i + 1)));
    std::swap(p.order[i], p.order[j]);
  }
  p.grayscale = u() < cfg.grayscale_p;
  return p;
}

std::array<nn::Tensor, 3> augment_u8(const std::array<nn::Tensor, 3>& rgb_depth_ir, const SampleParams& p) {
  std::array<nn::Tensor, 3> out;
  for (int m = 0; m < 3; ++m) {
    nn::Tensor x = infer::pil_rotate_bilinear(rgb_depth_ir[m], p.angle);
    x = infer::pil_resize_bilinear(x, infer::kResizeSide, infer::kResizeSide);
    x = resized_crop(x, p.box.top, p.box.left, p.box.height, p.box.width, infer::kCropSide);
    if (p.hflip) x = infer::hflip(x);
    if (m == 0) {
      if (p.jitter)
        for (JitterOp op : p.order) x = apply_jitter(x, op, p.factors[static_cast<int>(op)]);
      if (p.grayscale) x = to_grayscale3(x);
    }
    out[m] = std::move(x);
  }
  return out;
}

std::array<nn::Tensor, 3> augment(const std::array<nn::Tensor, 3>& rgb_depth_ir, const AugmentConfig& cfg,
                                  const infer::Normalization& norm, std::uint64_t seed, std::uint64_t sample_index) {
  std::array<nn::Tensor, 3> out = augment_u8(rgb_depth_ir, draw_sample_params(cfg, seed, sample_index));
  for (nn::Tensor& t : out) t = infer::to_tensor_normalized(t, norm);
  return out;
}

}  // namespace hardtune::data
