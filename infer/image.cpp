#include "infer/image.h"

#include <stb/stb_image.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <vector>

namespace infer {

namespace {

// (H, W, C) as a contiguous f64 buffer: exact for u8 and f32 inputs, so later arithmetic matches tfjs's.
std::vector<double> values_hwc(const nn::Tensor& image, const char* op) {
  NN_CHECK(image.defined() && image.dim() == 3, op, ": image must be (H, W, C), got ",
           image.defined() ? image.describe() : std::string("an undefined tensor"));
  return image.to_vector();
}

// stb_image decodes a JPEG cut short without complaint (the missing scan data comes out grey), where PIL
// refuses it ("image file is truncated"). A complete JPEG has an EOI marker after its last scan's SOS;
// 0xFF inside entropy-coded data is always followed by 0x00, so FF D9 there can only be the EOI.
bool jpeg_truncated(const std::vector<unsigned char>& b) {
  if (b.size() < 4 || b[0] != 0xFF || b[1] != 0xD8) return false;  // not a JPEG
  std::size_t last_sos = 0;
  for (std::size_t i = b.size() - 1; i > 1; --i)
    if (b[i - 1] == 0xFF && b[i] == 0xDA) {
      last_sos = i;
      break;
    }
  if (last_sos == 0) return false;  // no scan at all: stb_image reports that itself
  for (std::size_t i = last_sos + 1; i + 1 < b.size(); ++i)
    if (b[i] == 0xFF && b[i + 1] == 0xD9) return false;
  return true;
}

}  // namespace

nn::Tensor load_image_rgb(const std::string& path) {
  std::error_code ec;
  NN_CHECK(std::filesystem::is_regular_file(path, ec), path, ": no such image file");
  std::ifstream in(path, std::ios::binary);
  NN_CHECK(in, path, ": cannot open the image");
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  NN_CHECK(!ec, path, ": cannot read the file size (", ec.message(), ")");
  NN_CHECK(size <= static_cast<std::uintmax_t>(std::numeric_limits<int>::max()), path, ": file too large");
  std::vector<unsigned char> bytes(static_cast<std::size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  NN_CHECK(static_cast<std::uintmax_t>(in.gcount()) == size, path, ": read error");
  NN_CHECK(!bytes.empty(), path, ": empty file, not an image");
  NN_CHECK(!jpeg_truncated(bytes), path, ": truncated JPEG (no end-of-image marker after the last scan)");
  int w = 0, h = 0, channels = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> pixels(
      stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &channels, 3), stbi_image_free);
  NN_CHECK(pixels, path, ": cannot decode the image (", stbi_failure_reason(), ")");
  NN_CHECK(w > 0 && h > 0, path, ": image has zero size (", w, "x", h, ")");
  nn::Tensor out = nn::Tensor::empty({h, w, 3}, nn::DType::u8);
  std::memcpy(out.raw_data(), pixels.get(), static_cast<std::size_t>(h) * static_cast<std::size_t>(w) * 3);
  return out;
}

nn::Tensor pad_to_square(const nn::Tensor& image) {
  const std::vector<double> v = values_hwc(image, "pad_to_square");
  const nn::index_t H = image.size(0), W = image.size(1), C = image.size(2), S = std::max(H, W);
  const nn::index_t diff = S - std::min(H, W);
  const nn::index_t before = diff - (diff + 1) / 2;  // JS Math.round(diff / 2) goes after
  const nn::index_t top = H < W ? before : 0, left = W < H ? before : 0;
  nn::Tensor out = nn::Tensor::zeros({S, S, C}, nn::DType::f32);
  float* o = out.data<float>();
  for (nn::index_t y = 0; y < H; ++y)
    for (nn::index_t x = 0; x < W; ++x)
      for (nn::index_t c = 0; c < C; ++c)
        o[((y + top) * S + x + left) * C + c] = static_cast<float>(v[static_cast<std::size_t>((y * W + x) * C + c)]);
  return out;
}

nn::Tensor resize_bilinear(const nn::Tensor& image, nn::index_t out_h, nn::index_t out_w, bool align_corners,
                           bool half_pixel_centers) {
  const std::vector<double> v = values_hwc(image, "resize_bilinear");
  const nn::index_t H = image.size(0), W = image.size(1), C = image.size(2);
  NN_CHECK(out_h > 0 && out_w > 0 && H > 0 && W > 0, "resize_bilinear: cannot resize ", image.shape(), " to ", out_h,
           "x", out_w);
  NN_CHECK(!(align_corners && half_pixel_centers),
           "resize_bilinear: align_corners and half_pixel_centers exclude each other");
  // tfjs: ratio = effectiveIn / effectiveOut in double, corners excluded when aligning them.
  const double ratio_h =
      double(align_corners && out_h > 1 ? H - 1 : H) / double(align_corners && out_h > 1 ? out_h - 1 : out_h);
  const double ratio_w =
      double(align_corners && out_w > 1 ? W - 1 : W) / double(align_corners && out_w > 1 ? out_w - 1 : out_w);
  struct Tap {
    nn::index_t lo, hi;
    double frac;
  };
  const auto taps = [&](nn::index_t n_out, nn::index_t n_in, double ratio) {
    std::vector<Tap> t(static_cast<std::size_t>(n_out));
    for (nn::index_t i = 0; i < n_out; ++i) {
      const double src = half_pixel_centers ? ratio * (double(i) + 0.5) - 0.5 : ratio * double(i);
      const double floor_src = std::max(0.0, std::floor(src));
      t[static_cast<std::size_t>(i)] = {static_cast<nn::index_t>(floor_src),
                                        std::min(n_in - 1, static_cast<nn::index_t>(std::ceil(src))), src - floor_src};
    }
    return t;
  };
  const std::vector<Tap> rows = taps(out_h, H, ratio_h), cols = taps(out_w, W, ratio_w);
  nn::Tensor out = nn::Tensor::empty({out_h, out_w, C}, nn::DType::f32);
  float* o = out.data<float>();
  const auto at = [&](nn::index_t y, nn::index_t x, nn::index_t c) {
    return v[static_cast<std::size_t>((y * W + x) * C + c)];
  };
  for (const Tap& r : rows)
    for (const Tap& q : cols)
      for (nn::index_t c = 0; c < C; ++c) {
        const double top = at(r.lo, q.lo, c) + (at(r.lo, q.hi, c) - at(r.lo, q.lo, c)) * q.frac;
        const double bottom = at(r.hi, q.lo, c) + (at(r.hi, q.hi, c) - at(r.hi, q.lo, c)) * q.frac;
        *o++ = static_cast<float>(top + (bottom - top) * r.frac);
      }
  return out;
}

}  // namespace infer
