// Pillow's u8 arithmetic transcribed (Resample.c, Geometry.c of Pillow 9): the names of the C variables are
// kept where it helps comparing. Built with -ffp-contract=off: Pillow's double sums are not fused.
#include "infer/transforms.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numbers>
#include <sstream>

#include "libnn/core/check.h"

namespace infer {

namespace {

using nn::index_t;

const std::uint8_t* checked_rgb(const nn::Tensor& image, const char* op) {
  NN_CHECK(image.defined() && image.dim() == 3 && image.size(2) == 3 && image.dtype() == nn::DType::u8, op,
           ": image must be u8 (H, W, 3), got ", image.defined() ? image.describe() : std::string("undefined"));
  NN_CHECK(image.is_contiguous(), op, ": image must be contiguous");
  NN_CHECK(image.size(0) > 0 && image.size(1) > 0, op, ": empty image ", image.shape());
  return image.data<std::uint8_t>();
}

nn::Tensor new_rgb(index_t h, index_t w) { return nn::Tensor::empty({h, w, 3}, nn::DType::u8); }

constexpr int kPrecisionBits = 32 - 8 - 2;

// One output pixel's taps along an axis: first source index and fixed-point weights.
struct Kernel {
  int ksize = 0;
  std::vector<int> xmin, count;
  std::vector<std::int32_t> k;  // out_size * ksize
};

// precompute_coeffs + normalize_coeffs_8bpc of Pillow's Resample.c (box = the whole axis).
Kernel precompute_coeffs(int in_size, int out_size) {
  const double scale = double(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;  // bilinear support 1
  Kernel kr;
  kr.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  kr.xmin.resize(out_size), kr.count.resize(out_size), kr.k.assign(std::size_t(out_size) * kr.ksize, 0);
  std::vector<double> w(kr.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      double t = (x + xmin - center + 0.5) * ss;
      t = t < 0 ? -t : t;
      w[x] = t < 1.0 ? 1.0 - t : 0.0;
      ww += w[x];
    }
    for (int x = 0; x < xmax; ++x) {
      const double v = ww != 0.0 ? w[x] / ww : w[x];
      kr.k[std::size_t(xx) * kr.ksize + x] = static_cast<std::int32_t>(
          v < 0 ? -0.5 + v * (1 << kPrecisionBits) : 0.5 + v * (1 << kPrecisionBits));
    }
    kr.xmin[xx] = xmin, kr.count[xx] = xmax;
  }
  return kr;
}

std::uint8_t clip8(std::int64_t in) {
  if (in >= (std::int64_t(1) << kPrecisionBits << 8)) return 255;
  if (in <= 0) return 0;
  return static_cast<std::uint8_t>(in >> kPrecisionBits);
}

// Python's round(x, 15): the double nearest the decimal rounding of x (printf rounds the exact binary value).
double round15(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15f", x);
  return std::strtod(buf, nullptr);
}

// Geometry.c bilinear_filter32RGB at source point (xin, yin); false outside the image.
bool bilinear_sample(const std::uint8_t* in, int W, int H, double xin, double yin, std::uint8_t* out) {
  if (xin < 0.0 || xin >= W || yin < 0.0 || yin >= H) return false;
  xin -= 0.5, yin -= 0.5;
  const int x = xin < 0.0 ? static_cast<int>(std::floor(xin)) : static_cast<int>(xin);
  const int y = yin < 0.0 ? static_cast<int>(std::floor(yin)) : static_cast<int>(yin);
  const double dx = xin - x, dy = yin - y;
  const auto clip = [](int v, int n) { return v < 0 ? 0 : v < n ? v : n - 1; };
  const int x0 = clip(x, W) * 3, x1 = clip(x + 1, W) * 3;
  const std::uint8_t* row0 = in + std::size_t(clip(y, H)) * W * 3;
  const bool has_row1 = y + 1 >= 0 && y + 1 < H;
  const std::uint8_t* row1 = in + std::size_t(has_row1 ? y + 1 : 0) * W * 3;
  for (int b = 0; b < 3; ++b) {
    double v1 = row0[x0 + b] + (int(row0[x1 + b]) - int(row0[x0 + b])) * dx;
    const double v2 = has_row1 ? row1[x0 + b] + (int(row1[x1 + b]) - int(row1[x0 + b])) * dx : v1;
    v1 = v1 + (v2 - v1) * dy;
    out[b] = static_cast<std::uint8_t>(v1);
  }
  return true;
}

// Image.transpose for ROTATE_90 (k = 1), ROTATE_180 (2), ROTATE_270 (3); counter-clockwise quarter turns.
nn::Tensor quarter_turns(const nn::Tensor& image, int k) {
  const std::uint8_t* in = image.data<std::uint8_t>();
  const index_t H = image.size(0), W = image.size(1);
  const index_t oh = k == 2 ? H : W, ow = k == 2 ? W : H;
  nn::Tensor out = new_rgb(oh, ow);
  std::uint8_t* o = out.data<std::uint8_t>();
  for (index_t r = 0; r < oh; ++r)
    for (index_t c = 0; c < ow; ++c) {
      const index_t sy = k == 1 ? c : k == 2 ? H - 1 - r : H - 1 - c;
      const index_t sx = k == 1 ? W - 1 - r : k == 2 ? W - 1 - c : r;
      std::memcpy(o + (r * ow + c) * 3, in + (sy * W + sx) * 3, 3);
    }
  return out;
}

}  // namespace

nn::Tensor pil_resize_bilinear(const nn::Tensor& image, index_t height, index_t width) {
  const std::uint8_t* in = checked_rgb(image, "pil_resize_bilinear");
  const int H = static_cast<int>(image.size(0)), W = static_cast<int>(image.size(1));
  NN_CHECK(height > 0 && width > 0 && height <= 65536 && width <= 65536, "pil_resize_bilinear: bad size ", height,
           "x", width);
  const int oh = static_cast<int>(height), ow = static_cast<int>(width);
  if (oh == H && ow == W) return image.clone();
  const Kernel kh = precompute_coeffs(W, ow), kv = precompute_coeffs(H, oh);
  // Horizontal pass on the rows the vertical pass reads (all rows when it is skipped), rounded to u8.
  const int first = oh != H ? kv.xmin[0] : 0;
  const int last = oh != H ? kv.xmin[oh - 1] + kv.count[oh - 1] : H;
  std::vector<std::uint8_t> temp;
  const std::uint8_t* src = in;
  int src_w = W, src_row0 = 0;
  if (ow != W) {
    temp.resize(std::size_t(last - first) * ow * 3);
    for (int y = first; y < last; ++y) {
      const std::uint8_t* row = in + std::size_t(y) * W * 3;
      std::uint8_t* o = temp.data() + std::size_t(y - first) * ow * 3;
      for (int xx = 0; xx < ow; ++xx) {
        const std::int32_t* k = &kh.k[std::size_t(xx) * kh.ksize];
        const std::uint8_t* p = row + std::size_t(kh.xmin[xx]) * 3;
        std::int64_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
        for (int x = 0; x < kh.count[xx]; ++x, p += 3) s0 += p[0] * k[x], s1 += p[1] * k[x], s2 += p[2] * k[x];
        o[xx * 3] = clip8(s0), o[xx * 3 + 1] = clip8(s1), o[xx * 3 + 2] = clip8(s2);
      }
    }
    src = temp.data(), src_w = ow, src_row0 = first;
  }
  nn::Tensor out = new_rgb(oh, ow);
  std::uint8_t* o = out.data<std::uint8_t>();
  if (oh == H) {
    std::memcpy(o, src, std::size_t(oh) * ow * 3);
    return out;
  }
  const std::size_t stride = std::size_t(src_w) * 3;
  for (int yy = 0; yy < oh; ++yy) {
    const std::int32_t* k = &kv.k[std::size_t(yy) * kv.ksize];
    const std::uint8_t* base = src + std::size_t(kv.xmin[yy] - src_row0) * stride;
    for (std::size_t xc = 0; xc < stride; ++xc) {
      std::int64_t s = 1 << (kPrecisionBits - 1);
      for (int y = 0; y < kv.count[yy]; ++y) s += base[y * stride + xc] * k[y];
      o[std::size_t(yy) * stride + xc] = clip8(s);
    }
  }
  return out;
}

nn::Tensor pil_rotate_bilinear(const nn::Tensor& image, double angle_degrees) {
  const std::uint8_t* in = checked_rgb(image, "pil_rotate_bilinear");
  NN_CHECK(std::isfinite(angle_degrees), "pil_rotate_bilinear: angle must be finite, got ", angle_degrees);
  const int H = static_cast<int>(image.size(0)), W = static_cast<int>(image.size(1));
  double angle = std::fmod(angle_degrees, 360.0);  // Python's %: the result takes the divisor's sign
  if (angle < 0) angle += 360.0;
  if (angle == 0.0) return image.clone();
  if (angle == 180.0) return quarter_turns(image, 2);
  if ((angle == 90.0 || angle == 270.0) && W == H) return quarter_turns(image, angle == 90.0 ? 1 : 3);
  const double cx = W / 2.0, cy = H / 2.0;
  const double rad = -(angle * (std::numbers::pi / 180.0));
  const double a = round15(std::cos(rad)), b = round15(std::sin(rad)), d = round15(-std::sin(rad)),
               e = round15(std::cos(rad));
  const double c = a * -cx + b * -cy + 0.0 + cx, f = d * -cx + e * -cy + 0.0 + cy;
  nn::Tensor out = new_rgb(H, W);
  std::uint8_t* o = out.data<std::uint8_t>();
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x, o += 3) {
      const double xin = x + 0.5, yin = y + 0.5;
      if (!bilinear_sample(in, W, H, a * xin + b * yin + c, d * xin + e * yin + f, o)) o[0] = o[1] = o[2] = 0;
    }
  return out;
}

nn::Tensor crop(const nn::Tensor& image, index_t top, index_t left, index_t height, index_t width) {
  const std::uint8_t* in = checked_rgb(image, "crop");
  const index_t H = image.size(0), W = image.size(1);
  NN_CHECK(top >= 0 && left >= 0 && height > 0 && width > 0 && top + height <= H && left + width <= W,
           "crop: box (top ", top, ", left ", left, ", ", height, "x", width, ") is outside the ", H, "x", W, " image");
  nn::Tensor out = new_rgb(height, width);
  for (index_t y = 0; y < height; ++y)
    std::memcpy(out.data<std::uint8_t>() + y * width * 3, in + ((top + y) * W + left) * 3, std::size_t(width) * 3);
  return out;
}

nn::Tensor center_crop(const nn::Tensor& image, index_t size) {
  checked_rgb(image, "center_crop");
  const auto offset = [&](index_t n) { return static_cast<index_t>(std::nearbyint(double(n - size) / 2.0)); };
  return crop(image, offset(image.size(0)), offset(image.size(1)), size, size);
}

nn::Tensor five_crop(const nn::Tensor& image, index_t size, int index) {
  checked_rgb(image, "five_crop");
  NN_CHECK(index >= 0 && index < 5, "five_crop: index must be 0..4, got ", index);
  if (index == 0) return center_crop(image, size);
  const index_t top = index <= 2 ? 0 : image.size(0) - size, left = index % 2 == 1 ? 0 : image.size(1) - size;
  return crop(image, top, left, size, size);
}

nn::Tensor hflip(const nn::Tensor& image) {
  const std::uint8_t* in = checked_rgb(image, "hflip");
  const index_t H = image.size(0), W = image.size(1);
  nn::Tensor out = new_rgb(H, W);
  std::uint8_t* o = out.data<std::uint8_t>();
  for (index_t y = 0; y < H; ++y)
    for (index_t x = 0; x < W; ++x) std::memcpy(o + (y * W + x) * 3, in + (y * W + W - 1 - x) * 3, 3);
  return out;
}

Normalization Normalization::named(const std::string& name) {
  if (name == "cifar") return cifar();
  if (name == "half") return half();
  throw nn::Error(nn::str("unknown normalization \"", name, "\" (expected cifar or half)"));
}

std::string Normalization::default_for_model(const std::string& model_name) {
  return model_name.starts_with("ir") ? "half" : "cifar";
}

nn::Tensor to_tensor_normalized(const nn::Tensor& image, const Normalization& norm) {
  const std::uint8_t* in = checked_rgb(image, "to_tensor_normalized");
  const index_t HW = image.size(0) * image.size(1);
  nn::Tensor out = nn::Tensor::empty({3, image.size(0), image.size(1)}, nn::DType::f32);
  float* o = out.data<float>();
  for (int c = 0; c < 3; ++c)
    for (index_t i = 0; i < HW; ++i) o[c * HW + i] = (float(in[i * 3 + c]) / 255.0f - norm.mean[c]) / norm.std[c];
  return out;
}

std::string TestView::name() const {
  std::ostringstream s;
  if (rotate_degrees != 0.0)
    s << "rotate" << rotate_degrees;
  else
    s << "crop" << crop_index;
  if (hflip) s << "_hflip";
  return s.str();
}

std::vector<TestView> tta_views(const std::string& tta) {
  bool flip = false, five = false, rotate = false;
  std::istringstream in(tta);
  for (std::string token; std::getline(in, token, '_');) {
    if (token == "hflip")
      flip = true;
    else if (token == "5crop")
      five = true;
    else if (token == "rotate")
      rotate = true;
    else
      NN_CHECK(token.empty(), "tta: unknown option '", token, "' in '", tta, "' (known: hflip, 5crop, rotate)");
  }
  std::vector<TestView> views;
  for (int c = 0; c < (five ? 5 : 1); ++c)
    for (int f = 0; f < (flip ? 2 : 1); ++f) views.push_back({c, f == 1, 0.0});
  if (rotate)
    for (double a : {-10.0, 10.0})
      for (int f = 0; f < (flip ? 2 : 1); ++f) views.push_back({0, f == 1, a});
  return views;
}

nn::Tensor test_view_u8(const nn::Tensor& image, const TestView& view) {
  NN_CHECK(view.rotate_degrees == 0.0 || view.crop_index == 0, "test view ", view.name(),
           ": rotation is defined for the centre crop only");
  nn::Tensor v = pil_resize_bilinear(image, kResizeSide, kResizeSide);
  if (view.rotate_degrees != 0.0) v = pil_rotate_bilinear(v, view.rotate_degrees);
  if (view.hflip) v = hflip(v);
  return five_crop(v, kCropSide, view.crop_index);
}

nn::Tensor test_transform(const nn::Tensor& image, const Normalization& norm, const TestView& view) {
  return to_tensor_normalized(test_view_u8(image, view), norm);
}

std::array<nn::Tensor, 3> test_transform(const std::array<nn::Tensor, 3>& rgb_depth_ir, const Normalization& norm,
                                         const TestView& view) {
  return {test_transform(rgb_depth_ir[0], norm, view), test_transform(rgb_depth_ir[1], norm, view),
          test_transform(rgb_depth_ir[2], norm, view)};
}

}  // namespace infer
