// train/data/augment.h: each op against Pillow at fixed parameters (tests/reference/make_transforms.py,
// byte-exact), the parameter draws (determinism per (seed, sample), distributions), and the pipelines' shapes.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/reference.h"
#include "train/data/augment.h"

namespace data = hardtune::data;
using nn::testing::reference_cases;
using nn::testing::reference_params;
using nn::testing::reference_tensor;

namespace {

nn::Tensor image(int k) { return reference_tensor("transforms", "image" + std::to_string(k), "x"); }

std::int64_t count_diff(const nn::Tensor& a, const nn::Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  std::int64_t bad = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) bad += a.data<std::uint8_t>()[i] != b.data<std::uint8_t>()[i];
  return bad;
}

template <typename F>
void for_cases(const std::string& prefix, F f) {
  int n = 0;
  for (const std::string& name : reference_cases("transforms"))
    if (name.rfind(prefix, 0) == 0) {
      const nlohmann::json p = reference_params("transforms", name);
      INFO(name);
      CHECK(count_diff(f(image(p["image"]), p), reference_tensor("transforms", name, "y")) == 0);
      ++n;
    }
  REQUIRE(n > 0);
}

std::array<nn::Tensor, 3> triplet() {
  const nn::Tensor rgb = image(1);  // depth and ir resized to the rgb size, as data_preparing.py does
  return {rgb, infer::pil_resize_bilinear(image(0), rgb.size(0), rgb.size(1)),
          infer::pil_resize_bilinear(image(2), rgb.size(0), rgb.size(1))};
}

}  // namespace

TEST_CASE("data_augment/ops_match_pillow") {
  for_cases("rotate_", [](const nn::Tensor& x, const nlohmann::json& p) {
    return infer::pil_rotate_bilinear(x, p["angle"].get<double>());
  });
  for_cases("resized_crop_", [](const nn::Tensor& x, const nlohmann::json& p) {
    return data::resized_crop(x, p["top"], p["left"], p["height"], p["width"], p["size"]);
  });
  for_cases("brightness_", [](const nn::Tensor& x, const nlohmann::json& p) {
    return data::adjust_brightness(x, p["factor"].get<double>());
  });
  for_cases("contrast_", [](const nn::Tensor& x, const nlohmann::json& p) {
    return data::adjust_contrast(x, p["factor"].get<double>());
  });
  for_cases("saturation_", [](const nn::Tensor& x, const nlohmann::json& p) {
    return data::adjust_saturation(x, p["factor"].get<double>());
  });
  for_cases("hue_", [](const nn::Tensor& x, const nlohmann::json& p) {
    return data::adjust_hue(x, p["factor"].get<double>());
  });
  for_cases("grayscale_", [](const nn::Tensor& x, const nlohmann::json&) { return data::to_grayscale3(x); });
}

TEST_CASE("data_augment/deterministic_per_sample") {
  const auto cfg = data::AugmentConfig::strong();
  const auto in = triplet();
  // Samples computed in different orders and on different threads give the same bytes.
  std::vector<std::array<nn::Tensor, 3>> serial(8), threaded(8);
  for (int i = 0; i < 8; ++i) serial[i] = data::augment(in, cfg, infer::Normalization::cifar(), 7, i);
  std::vector<std::thread> pool;
  for (int i = 7; i >= 0; --i)
    pool.emplace_back([&, i] { threaded[i] = data::augment(in, cfg, infer::Normalization::cifar(), 7, i); });
  for (auto& t : pool) t.join();
  for (int i = 0; i < 8; ++i)
    for (int m = 0; m < 3; ++m) {
      CHECK(serial[i][m].shape() == nn::Shape{3, 112, 112});
      CHECK(serial[i][m].to_vector() == threaded[i][m].to_vector());
    }
  CHECK(serial[0][0].to_vector() != serial[1][0].to_vector());
  CHECK(data::augment(in, cfg, infer::Normalization::cifar(), 8, 0)[0].to_vector() != serial[0][0].to_vector());
}

TEST_CASE("data_augment/parameter_statistics") {
  const int n = 20000;
  for (const auto& cfg : {data::AugmentConfig::strong(), data::AugmentConfig::weak()}) {
    double angle_sum = 0, angle_sq = 0, area_sum = 0;
    int flips = 0, jitters = 0, greys = 0, tall = 0;
    std::array<int, 4> first_op{};
    double bright_min = 9, bright_max = -9, hue_min = 9, hue_max = -9;
    for (int i = 0; i < n; ++i) {
      const auto p = data::draw_sample_params(cfg, 3, i);
      CHECK(std::abs(p.angle) <= cfg.rotation_degrees);
      angle_sum += p.angle, angle_sq += p.angle * p.angle;
      const auto& b = p.box;
      REQUIRE((b.top >= 0 && b.left >= 0 && b.top + b.height <= 125 && b.left + b.width <= 125));
      const double frac = double(b.height * b.width) / (125.0 * 125.0);
      CHECK((frac >= cfg.scale_min - 0.03 && frac <= cfg.scale_max + 0.03));
      area_sum += frac;
      tall += b.height > b.width;
      flips += p.hflip, jitters += p.jitter, greys += p.grayscale;
      ++first_op[static_cast<int>(p.order[0])];
      bright_min = std::min(bright_min, p.factors[0]), bright_max = std::max(bright_max, p.factors[0]);
      hue_min = std::min(hue_min, p.factors[3]), hue_max = std::max(hue_max, p.factors[3]);
    }
    const double d = cfg.rotation_degrees;
    CHECK(std::abs(angle_sum / n) < 0.03 * d);
    CHECK(std::abs(angle_sq / n - d * d / 3) < 0.03 * d * d / 3);  // variance of U(-d, d)
    CHECK(std::abs(flips / double(n) - 0.5) < 0.02);
    CHECK(std::abs(jitters / double(n) - 0.2) < 0.015);
    CHECK(std::abs(greys / double(n) - 0.2) < 0.015);
    CHECK(std::abs(tall / double(n) - 0.5) < 0.03);  // the w/h swap keeps the aspect symmetric
    for (int c : first_op) CHECK(std::abs(c / double(n) - 0.25) < 0.02);
    // Area fraction ~ U(scale), less the rejected tries (near-full areas with r != 1 do not fit), so the mean
    // sits a little below the middle of the range.
    const double mid = (cfg.scale_min + cfg.scale_max) / 2;
    CHECK(area_sum / n < mid);
    CHECK(area_sum / n > mid - 0.1);
    CHECK(bright_min >= 1 - cfg.brightness);
    CHECK(bright_max <= 1 + cfg.brightness);
    CHECK(bright_max - bright_min > 1.9 * cfg.brightness);
    CHECK(hue_min >= -cfg.hue);
    CHECK(hue_max <= cfg.hue);
  }
}

TEST_CASE("data_augment/crop_box_rules") {
  auto cfg = data::AugmentConfig::strong();
  // Every try too large: the fallback is the centred square of the shorter side.
  cfg.scale_min = cfg.scale_max = 5.0;
  const auto box = data::random_resized_crop_box(100, 60, cfg, [] { return 0.5; });
  CHECK(box.top == 20);
  CHECK(box.left == 0);
  CHECK(box.height == 60);
  CHECK(box.width == 60);
  // w = round(sqrt(A r)), h = round(sqrt(A / r)) with halves to even: A = 0.5 * 100 * 100, r = 1 -> 70.71 -> 71.
  cfg = data::AugmentConfig::strong();
  cfg.scale_min = cfg.scale_max = 0.5;
  cfg.ratio_min = cfg.ratio_max = 1.0;
  const auto sq = data::random_resized_crop_box(100, 100, cfg, [] { return 0.99; });
  CHECK(sq.height == 71);
  CHECK(sq.width == 71);
  CHECK(sq.top == 29);
  CHECK(sq.left == 29);
}

TEST_CASE("data_augment/pipeline_applies_the_params") {
  const auto in = triplet();
  data::SampleParams p;
  p.angle = 12.5, p.box = {10, 7, 90, 100}, p.hflip = true;
  const auto out = data::augment_u8(in, p);
  for (int m = 0; m < 3; ++m) {
    nn::Tensor e = infer::pil_resize_bilinear(infer::pil_rotate_bilinear(in[m], 12.5), 125, 125);
    e = infer::hflip(data::resized_crop(e, 10, 7, 90, 100, 112));
    CHECK(count_diff(out[m], e) == 0);
  }
  p.jitter = true, p.grayscale = true;
  p.factors = {1.3, 0.8, 0.6, 0.1};
  p.order = {data::JitterOp::hue, data::JitterOp::contrast, data::JitterOp::brightness, data::JitterOp::saturation};
  const auto col = data::augment_u8(in, p);
  nn::Tensor e = data::adjust_hue(out[0], 0.1);
  e = data::to_grayscale3(data::adjust_saturation(data::adjust_brightness(data::adjust_contrast(e, 0.8), 1.3), 0.6));
  CHECK(count_diff(col[0], e) == 0);
  CHECK(count_diff(col[1], out[1]) == 0);  // colour ops touch rgb only
  CHECK(count_diff(col[2], out[2]) == 0);
}
