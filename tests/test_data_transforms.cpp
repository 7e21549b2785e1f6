// infer/transforms.h against Pillow (tests/reference/make_transforms.py): u8 outputs must be equal byte for
// byte (Pillow's arithmetic is reproduced exactly), float outputs within 1e-6.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "infer/transforms.h"
#include "tests/support/reference.h"

using nn::testing::reference_cases;
using nn::testing::reference_params;
using nn::testing::reference_tensor;

namespace {

nn::Tensor image(int k) { return reference_tensor("transforms", "image" + std::to_string(k), "x"); }

// Number of differing bytes (0 expected), with the first difference reported.
void check_equal_u8(const nn::Tensor& actual, const nn::Tensor& expected, const std::string& what) {
  INFO(what);
  REQUIRE(actual.shape() == expected.shape());
  const auto* a = actual.data<std::uint8_t>();
  const auto* e = expected.data<std::uint8_t>();
  std::int64_t bad = 0, first = -1;
  for (std::int64_t i = 0; i < actual.numel(); ++i)
    if (a[i] != e[i] && bad++ == 0) first = i;
  INFO("first difference at flat index " << first << ": " << (first >= 0 ? int(a[first]) : 0) << " vs "
                                         << (first >= 0 ? int(e[first]) : 0));
  CHECK(bad == 0);
}

template <typename F>
void for_cases(const std::string& prefix, F f) {
  int n = 0;
  for (const std::string& name : reference_cases("transforms"))
    if (name.rfind(prefix, 0) == 0) f(name, reference_params("transforms", name)), ++n;
  REQUIRE(n > 0);
}

}  // namespace

TEST_CASE("data_transforms/pil_resize_bilinear") {
  for_cases("resize_", [](const std::string& name, const nlohmann::json& p) {
    check_equal_u8(infer::pil_resize_bilinear(image(p["image"]), p["height"], p["width"]),
                   reference_tensor("transforms", name, "y"), name);
  });
  const nn::Tensor x = image(0);
  check_equal_u8(infer::pil_resize_bilinear(x, x.size(0), x.size(1)), x, "same size is a copy");
}

TEST_CASE("data_transforms/hflip_and_to_tensor") {
  for_cases("hflip_", [](const std::string& name, const nlohmann::json& p) {
    check_equal_u8(infer::hflip(image(p["image"])), reference_tensor("transforms", name, "y"), name);
  });
  for_cases("to_tensor_", [](const std::string& name, const nlohmann::json& p) {
    const auto norm = p["norm"] == "cifar" ? infer::Normalization::cifar() : infer::Normalization::half();
    nn::testing::check_close(infer::to_tensor_normalized(image(p["image"]), norm),
                             reference_tensor("transforms", name, "y"), 1e-6, name, 1.0);
  });
}

TEST_CASE("data_transforms/crops") {
  const nn::Tensor x = infer::pil_resize_bilinear(image(0), 125, 125);
  // 125 -> 112: round(6.5) = 6 with Python 3's halves-to-even.
  check_equal_u8(infer::center_crop(x, 112), infer::crop(x, 6, 6, 112, 112), "center offset 6");
  check_equal_u8(infer::center_crop(infer::crop(x, 0, 0, 124, 121), 112), infer::crop(x, 6, 4, 112, 112),
                 "center offsets round(6.0), round(4.5) = 4");
  check_equal_u8(infer::five_crop(x, 112, 4), infer::crop(x, 13, 13, 112, 112), "bottom-right");
  CHECK_THROWS_WITH_AS(infer::crop(x, 20, 0, 112, 112), doctest::Contains("outside"), nn::Error);
  CHECK_THROWS_AS(infer::five_crop(x, 112, 5), nn::Error);
}

TEST_CASE("data_transforms/test_views") {
  for_cases("view_", [](const std::string& name, const nlohmann::json& p) {
    const infer::TestView view{p["crop"].get<int>(), p["hflip"].get<bool>(), p["rotate"].get<double>()};
    const nn::Tensor x = image(p["image"]);
    const nn::Tensor expected = reference_tensor("transforms", name, "y");
    check_equal_u8(infer::test_view_u8(x, view), expected, name);
    // The float pipeline is the u8 view through ToTensor + Normalize (checked against torch above).
    const auto norm = infer::Normalization::cifar();
    const auto triplet = infer::test_transform({x, x, x}, norm, view);
    for (const nn::Tensor& t : triplet) {
      CHECK(t.shape() == nn::Shape{3, 112, 112});
      nn::testing::check_close(t, infer::to_tensor_normalized(expected, norm), 0.0, name + " f32", 1.0);
    }
  });
}

TEST_CASE("data_transforms/tta_views") {
  const auto names = [](const std::string& tta) {
    std::string s;
    for (const auto& v : infer::tta_views(tta)) s += v.name() + ",";
    return s;
  };
  CHECK(names("") == "crop0,");
  CHECK(names("hflip") == "crop0,crop0_hflip,");
  CHECK(names("hflip_5crop_rotate") ==
        "crop0,crop0_hflip,crop1,crop1_hflip,crop2,crop2_hflip,crop3,crop3_hflip,crop4,crop4_hflip,"
        "rotate-10,rotate-10_hflip,rotate10,rotate10_hflip,");
  CHECK_THROWS_WITH_AS(infer::tta_views("hflip_zoom"), doctest::Contains("zoom"), nn::Error);
}
