// face-api's FaceRecognitionNet (models/faceapi.h) against the original JavaScript library: descriptors of the
// reference inputs (tests/reference/make_faceapi.mjs ran face-api 1.7.15 on tfjs's cpu backend) from the real
// weights read by our TF.js reader, the reader on the real manifest, the pad-and-resize input path, the key maps
// (single net and DLAS), gradients, a DLAS fine-tune step and the `embed` command.
// Tests that need the weights (tools/fetch_faceapi.sh puts them in .cache/) say so and return when absent.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "infer/embed.h"
#include "infer/faceapi.h"
#include "infer/image.h"
#include "libnn/autograd/grad_mode.h"
#include "libnn/ops/activation.h"
#include "libnn/ops/arith.h"
#include "libnn/ops/loss.h"
#include "libnn/ops/pool.h"
#include "libnn/ops/tensor_ops.h"
#include "libnn/optim/sgd.h"
#include "models/faceapi_dlas.h"
#include "models/registry.h"
#include "tests/support/gradcheck.h"
#include "tests/support/reference.h"
#include "weights_import/maps/maps.h"
#include "weights_import/tfjs.h"

using namespace models;
using nn::DType;
using nn::Shape;
namespace fs = std::filesystem;
namespace ref = nn::testing;

namespace {

const std::string kFamily = "faceapi_descriptors";
const std::string kModelDir = NN_FACEAPI_MODEL_DIR;
const std::string kManifest = kModelDir + "/face_recognition_model-weights_manifest.json";

bool have_weights() {
  if (fs::exists(kManifest) && fs::exists(kModelDir + "/face_recognition_model.bin")) return true;
  MESSAGE("SKIPPED: face-api weights not found in ", kModelDir, "; run tools/fetch_faceapi.sh");
  return false;
}

FaceRecognitionNet& real_net() {
  static const auto net = infer::load_faceapi_net(kModelDir);
  return *net;
}

const nn::StateDict& real_source() {
  static const nn::StateDict source = weights_import::load_tfjs(kManifest);
  return source;
}

double max_abs_diff(const nn::Tensor& a, const nn::Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto x = a.to_vector(), y = b.to_vector();
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  return worst;
}

double distance(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return std::sqrt(s);
}

// A net's parameters written out with TF.js's names and layouts, as face-api's manifest stores them.
nn::StateDict to_tfjs_layout(const FaceRecognitionNet& net) {
  nn::StateDict tf;
  for (const auto& [key, t] : net.state_dict()) {
    std::string name = key;
    for (auto [ours, theirs] : {std::pair{".conv.weight", "/conv/filters"},
                                {".conv.bias", "/conv/bias"},
                                {".scale.weight", "/scale/weights"},
                                {".scale.bias", "/scale/biases"}})
      if (name.ends_with(ours)) name = name.substr(0, name.size() - std::string(ours).size()) + theirs;
    for (char& c : name)
      if (c == '.') c = '/';
    if (key == "fc.weight")
      tf.emplace_back("fc", t.transpose(0, 1).contiguous());
    else if (t.dim() == 4)
      tf.emplace_back(name, t.permute({2, 3, 1, 0}).contiguous());  // OIHW -> HWIO
    else
      tf.emplace_back(name, t);
  }
  return tf;
}

// The face-api weights when fetched, else a random net's in the same format (the structural checks hold
// for any weights): the source and the FaceRecognitionNet that carries them.
std::pair<nn::StateDict, std::shared_ptr<FaceRecognitionNet>> faceapi_source() {
  if (fs::exists(kManifest)) return {real_source(), infer::load_faceapi_net(kModelDir)};
  MESSAGE("face-api weights not fetched (tools/fetch_faceapi.sh): using random weights in their format");
  nn::Generator gen(3);
  auto net = std::make_shared<FaceRecognitionNet>(gen);
  net->eval();
  return {to_tfjs_layout(*net), net};
}

nn::Tensor reference_image(const std::string& name) { return ref::reference_tensor(kFamily, name, "image"); }

// A binary PPM (P6): the simplest lossless file stb_image reads, for the file-based tests.
std::string write_ppm(const fs::path& path, const nn::Tensor& image) {
  std::ofstream out(path, std::ios::binary);
  out << "P6\n" << image.size(1) << " " << image.size(0) << "\n255\n";
  out.write(static_cast<const char*>(image.contiguous().raw_data()), static_cast<std::streamsize>(image.numel()));
  return path.string();
}

}  // namespace

TEST_CASE("faceapi/structure") {
  FaceRecognitionNet net;
  CHECK(net.num_parameters() == 5'614'592);  // FACEAPI_NET.md: 5,614,592 parameters in 117 tensors
  const auto state = net.state_dict();
  CHECK(state.size() == 117);
  CHECK(state.front().first == "conv32_down.conv.weight");
  CHECK(state.back().first == "fc.weight");
  CHECK(net.tensor("conv32_down.conv.weight").shape() == Shape{32, 3, 7, 7});
  CHECK(net.tensor("conv64_down.conv1.conv.weight").shape() == Shape{64, 32, 3, 3});
  CHECK(net.tensor("conv256_down_out.conv2.scale.bias").shape() == Shape{256});
  CHECK(net.tensor("fc.weight").shape() == Shape{128, 256});
  CHECK(net.tensor("conv32_1.conv1.scale.weight").to_vector() == std::vector<double>(32, 1.0));  // identity init

  nn::NoGradGuard no_grad;
  const nn::Tensor x = nn::Tensor::zeros({2, 3, 150, 150});
  const Stream::Levels l = net.levels(x);
  CHECK(l.l1.shape() == Shape{2, 64, 17, 17});
  CHECK(l.l2.shape() == Shape{2, 128, 8, 8});
  CHECK(l.l3.shape() == Shape{2, 256, 4, 4});
  CHECK(net.forward(x).shape() == Shape{2, 128});
}

TEST_CASE("faceapi/residual_down_gradcheck") {
  // Even input: the main branch (3x3) is zero-padded to the pooled 4x4; channels 2 -> 4 append zeros.
  FaceApiResidual pad(2, 4, true);
  pad.to(DType::f64);
  const auto pad_fn = [&](const auto& in) { return pad.forward(in[0]); };
  ref::gradcheck(
      "down_pad", pad_fn,
      {ref::randn_leaf({2, 2, 8, 8}, 1), pad.conv1->conv->weight, pad.conv2->scale->weight, pad.conv2->scale->bias},
      {.kink_filter = true});
  // Odd input (no spatial pad) and 6 -> 2 channels: the shortcut sums the three pooled groups.
  FaceApiResidual sum(6, 2, true);
  sum.to(DType::f64);
  ref::gradcheck("down_sum", [&](const auto& in) { return sum.forward(in[0]); },
                 {ref::randn_leaf({1, 6, 7, 7}, 2), sum.conv1->conv->bias}, {.kink_filter = true});
  FaceApiResidual plain(3, 3, false);
  plain.to(DType::f64);
  ref::gradcheck("plain", [&](const auto& in) { return plain.forward(in[0]); },
                 {ref::randn_leaf({1, 3, 5, 5}, 3), plain.conv2->conv->weight}, {.kink_filter = true});

  // The zero padding sits at the bottom row and right column, after conv2 and before the ReLU: there the
  // output is relu(pooled shortcut) alone.
  nn::NoGradGuard no_grad;
  FaceApiResidual block(2, 2, true);
  const nn::Tensor x = ref::randn_leaf({1, 2, 8, 8}, 4).detach().to(DType::f32);
  const auto y = block.forward(x).to_vector();
  const auto pooled = nn::ops::relu(nn::ops::avg_pool2d(x, 2, 2)).to_vector();
  for (int c = 0; c < 2; ++c)
    for (int k = 0; k < 4; ++k) {
      const std::size_t bottom = static_cast<std::size_t>((c * 4 + 3) * 4 + k),
                        right = static_cast<std::size_t>((c * 4 + k) * 4 + 3);
      CHECK(y[bottom] == pooled[bottom]);
      CHECK(y[right] == pooled[right]);
    }
  CHECK_THROWS_WITH_AS(FaceApiResidual(3, 5, true), doctest::Contains("out == in, out == 2 in or in == k out"),
                       nn::Error);
}

TEST_CASE("faceapi/pad_to_square_and_resize") {
  // diff = 3: round(1.5) = 2 rows after the image, 1 before; columns when the image is taller.
  const nn::Tensor wide = nn::Tensor::full({2, 5, 1}, 7.0, DType::u8);
  const auto p = infer::pad_to_square(wide).to_vector();
  for (int y = 0; y < 5; ++y) CHECK(p[static_cast<std::size_t>(y * 5)] == (y == 1 || y == 2 ? 7 : 0));
  const auto q = infer::pad_to_square(nn::Tensor::full({6, 1, 1}, 3.0)).to_vector();  // diff 5: 2 before, 3 after
  for (int x = 0; x < 6; ++x) CHECK(q[static_cast<std::size_t>(x)] == (x == 2 ? 3 : 0));

  const nn::Tensor row = nn::Tensor::from_vector({1, 2, 1}, {0, 10});
  const auto legacy = infer::resize_bilinear(row, 1, 3).to_vector();  // src = dst * 2 / 3
  CHECK(legacy[0] == 0);
  CHECK(legacy[1] == double(float(10.0 * (2.0 / 3.0))));
  CHECK(legacy[2] == 10);
  CHECK(infer::resize_bilinear(row, 1, 3, true).to_vector() == std::vector<double>{0, 5, 10});

  // face-api's own padded and resized 150x150 network input (before normalization), for a 123x98 crop.
  const nn::Tensor ours = infer::faceapi_resize(reference_image("odd_portrait"));
  const double err = max_abs_diff(ours, ref::reference_tensor(kFamily, "odd_portrait", "net_input"));
  MESSAGE("pad + resize vs face-api: max abs error ", err);
  CHECK(err <= 1e-4);
}

TEST_CASE("faceapi/reader_on_the_real_manifest") {
  if (!have_weights()) return;
  std::ifstream in(kManifest);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto m = weights_import::parse_tfjs_manifest(text, kManifest);
  REQUIRE(m.groups.size() == 1);
  CHECK(m.groups[0].paths == std::vector<std::string>{"face_recognition_model.bin"});
  REQUIRE(m.weights.size() == 117);
  std::vector<std::string> unquantized;
  for (const auto& w : m.weights)
    if (!w.quantization) unquantized.push_back(w.name);
  CHECK(unquantized == std::vector<std::string>{"conv64_down/conv1/conv/filters", "conv64_down/conv2/conv/filters",
                                                "conv64_1/conv1/conv/filters", "conv64_1/conv2/conv/filters",
                                                "conv64_2/conv1/conv/filters", "conv64_2/conv2/conv/filters",
                                                "conv64_3/conv1/conv/filters", "conv64_3/conv2/conv/filters"});
  CHECK(m.weights[28].offset == 60'672);  // the first float32 tensor
  CHECK(m.weights[116].name == "fc");
  CHECK(m.weights[116].offset == 6'411'264);
  CHECK(m.weights[116].offset + m.weights[116].bytes == 6'444'032);
  CHECK(m.groups[0].bytes == 6'444'032);
  CHECK(fs::file_size(kModelDir + "/face_recognition_model.bin") == 6'444'032);

  const nn::StateDict& d = real_source();
  REQUIRE(d.size() == 117);
  const nn::Tensor filters = nn::find_entry(d, "conv32_down/conv/filters");
  CHECK(filters.shape() == Shape{7, 7, 3, 32});
  // Element 0 of the stem's filters: float32(q * scale + min) with q the file's first byte.
  std::ifstream bin(kModelDir + "/face_recognition_model.bin", std::ios::binary);
  const double q = static_cast<unsigned char>(bin.get());
  const volatile double scaled = q * m.weights[0].quantization->scale;
  CHECK(filters.to_vector()[0] == double(static_cast<float>(scaled + m.weights[0].quantization->min)));
  CHECK(nn::find_entry(d, "fc").shape() == Shape{256, 128});
}

TEST_CASE("faceapi/descriptors_match_faceapi") {
  if (!have_weights()) return;
  std::vector<std::string> cases;
  std::vector<nn::Tensor> images;
  for (const auto& name : ref::reference_cases(kFamily)) {
    cases.push_back(name);
    images.push_back(reference_image(name));
  }
  REQUIRE(cases.size() == 13);
  const auto ours = infer::faceapi_descriptors(real_net(), images);
  double worst = 0;
  std::string worst_case;
  std::map<std::string, std::vector<float>> by_name;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto expected = ref::reference_tensor(kFamily, cases[i], "descriptor").to_vector();
    REQUIRE(ours[i].size() == 128);
    for (std::size_t k = 0; k < 128; ++k)
      if (const double e = std::abs(ours[i][k] - expected[k]); !(e <= worst)) worst = e, worst_case = cases[i];
    by_name[cases[i]] = ours[i];
  }
  MESSAGE("descriptors vs face-api (", cases.size(), " inputs): max abs error ", worst, " (", worst_case, ")");
  CHECK(worst <= 5e-5);
  // Views of one face are closer than face-api's threshold (0.6); the nearest other person is farther.
  for (const char* view : {"face_s1_0_shifted", "face_s1_0_mirrored"})
    CHECK(distance(by_name["face_s1_0"], by_name[view]) < 0.6);
  CHECK(distance(by_name["face_s1_0"], by_name["face_s5_0"]) > 0.6);
}

TEST_CASE("faceapi/map_roundtrip_and_report") {
  // A random net written out in TF.js's names and layouts maps back onto an identical net.
  nn::Generator gen(11);
  FaceRecognitionNet a(gen);
  nn::StateDict tf = to_tfjs_layout(a);
  tf.emplace_back("extra/unknown", nn::Tensor::ones({1}));
  FaceRecognitionNet b;
  const auto m = weights_import::map_weights(weights_import::find_key_map("faceapi"), tf, b.state_dict(), false, "tf");
  CHECK(m.report.mapped == 117);
  CHECK(m.report.unused == std::vector<std::string>{"extra/unknown"});
  b.load_state_dict(m.tensors, true);
  for (const auto& [key, t] : a.state_dict()) CHECK_MESSAGE(max_abs_diff(t, b.tensor(key)) == 0, key);
  CHECK(weights_import::find_key_map("faceapi").name == "faceapi");
  CHECK_THROWS_WITH_AS(weights_import::find_key_map("nope"), doctest::Contains("known maps: "), nn::Error);
}

TEST_CASE("faceapi/gradients_flow") {
  FaceRecognitionNet net;
  nn::Generator gen(5);
  const nn::Tensor x = nn::Tensor::normal({1, 3, 150, 150}, 0.0, 0.5, gen);
  const nn::Tensor d = net.forward(x);
  nn::ops::sum(d * d).backward();
  for (const auto& [name, p] : net.named_parameters()) {
    CAPTURE(name);
    REQUIRE(p.grad().defined());
    double norm = 0;
    for (double g : p.grad().to_vector()) norm += g * g;
    CHECK(std::isfinite(norm));
    CHECK(norm > 0);
  }
}

TEST_CASE("faceapi/dlas_streams_are_the_pretrained_net") {
  const auto [source, single] = faceapi_source();
  auto net = build_model("faceapi_dlas_a");
  CHECK(net->feature_dim() == 256);
  CHECK(net->num_parameters() == 21'064'898);
  const auto m = weights_import::map_weights(weights_import::find_key_map("faceapi_dlas"), source,
                                             net->state_dict(), true, "faceapi");
  CHECK(m.report.ignored == std::vector<std::string>{"fc"});
  // agg_layer{1,2,3}.conv1.{weight,bias}, classifier.{weight,bias}
  CHECK(m.report.left_to_init.size() == 8);
  net->load_state_dict(m.tensors, false);
  CHECK(net->tensor("layer4.conv256_down_out.conv1.conv.weight").shape() == Shape{256, 768, 3, 3});
  CHECK(max_abs_diff(net->tensor("layer4.conv256_down_out.conv1.conv.weight").slice(1, 512, 768),
                     single->tensor("conv256_down_out.conv1.conv.weight")) == 0);

  auto* dlas = dynamic_cast<DlasNet*>(net.get());
  REQUIRE(dlas);
  // Frozen like the loaded single net, so both run the same kernels (prepared weights can choose Winograd
  // where per-call preparation would not) and the streams must match it bitwise.
  net->freeze_for_inference();
  nn::NoGradGuard no_grad;
  const nn::Tensor x = infer::faceapi_input(reference_image("face_s2_0"));
  const nn::Tensor expected = single->levels(x).l3;
  for (const auto& stream : {dlas->rgb_backbone, dlas->depth_backbone, dlas->ir_backbone})
    CHECK(max_abs_diff(stream->levels(x).l3, expected) == 0);
  // agg_layer3 is the pretrained last block: on the net's own L3 it gives the net's pre-pooling output.
  CHECK(max_abs_diff(dlas->agg_layer3->agg_layer->forward(expected), single->conv256_down_out->forward(expected)) == 0);
}

TEST_CASE("faceapi/dlas_fine_tune_step") {
  auto net = build_model("faceapi_dlas_a");
  net->load_state_dict(weights_import::map_weights(weights_import::find_key_map("faceapi_dlas"), faceapi_source().first,
                                                   net->state_dict(), true, "faceapi")
                           .tensors,
                       false);
  net->train();
  std::vector<nn::Tensor> faces;
  for (const char* name : {"face_s1_0", "face_s3_0"}) faces.push_back(infer::faceapi_input(reference_image(name)));
  const nn::Tensor x = nn::ops::cat(faces, 0);
  const std::vector<std::int64_t> label_values{1, 0};
  const nn::Tensor labels = nn::Tensor::from_labels(label_values);
  nn::optim::SGD sgd(net->parameters(), {.lr = 1e-3});

  const nn::Tensor loss = nn::ops::cross_entropy(net->logits(x, x, x, labels), labels);
  CHECK(std::isfinite(loss.item()));
  loss.backward();
  for (const char* key : {"rgb_backbone.conv32_down.conv.weight", "ir_backbone.conv256_2.conv2.scale.bias",
                          "layer4.conv256_down_out.conv1.conv.weight", "agg_layer1.conv1.weight",
                          "agg_layer2.agg_layer.conv256_down.conv1.conv.weight"}) {
    CAPTURE(key);
    const nn::Tensor g = net->tensor(key).grad();
    REQUIRE(g.defined());
    double norm = 0;
    for (double v : g.to_vector()) norm += v * v;
    CHECK(std::isfinite(norm));
    CHECK(norm > 0);
  }
  const nn::Tensor before = net->tensor("rgb_backbone.conv32_down.conv.weight").clone();
  sgd.step();
  CHECK(max_abs_diff(before, net->tensor("rgb_backbone.conv32_down.conv.weight")) > 0);
}

TEST_CASE("faceapi/images_and_embed_command") {
  const fs::path dir = fs::temp_directory_path() / ("faceapi_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  CHECK_THROWS_WITH_AS(infer::load_image_rgb((dir / "absent.jpg").string()),
                       doctest::Contains("absent.jpg: no such image file"), nn::Error);
  std::ofstream(dir / "corrupt.jpg", std::ios::binary) << "\xff\xd8\xff\xe0 not really a jpeg";
  CHECK_THROWS_WITH_AS(infer::load_image_rgb((dir / "corrupt.jpg").string()),
                       doctest::Contains("corrupt.jpg: cannot decode the image"), nn::Error);
  std::ofstream(dir / "empty.png", std::ios::binary).flush();
  CHECK_THROWS_WITH_AS(infer::load_image_rgb((dir / "empty.png").string()), doctest::Contains("empty.png: empty file"),
                       nn::Error);

  const std::vector<std::string> names{"face_s4_0", "odd_landscape"};
  std::vector<std::string> paths;
  for (const auto& name : names) {
    const nn::Tensor image = reference_image(name);
    paths.push_back(write_ppm(dir / (name + ".ppm"), image));
    const nn::Tensor loaded = infer::load_image_rgb(paths.back());
    CHECK(loaded.dtype() == DType::u8);
    CHECK(max_abs_diff(loaded, image) == 0);
  }
  if (have_weights()) {
    std::ostringstream out;
    infer::run_embed({.model = "faceapi", .weights = kModelDir, .images = paths}, out);
    const auto json = nlohmann::json::parse(out.str());
    REQUIRE(json.size() == 2);
    for (std::size_t i = 0; i < names.size(); ++i) {
      CHECK(json[i]["image"] == paths[i]);
      const auto expected = ref::reference_tensor(kFamily, names[i], "descriptor").to_vector();
      const auto got = json[i]["descriptor"].get<std::vector<double>>();
      REQUIRE(got.size() == 128);
      for (std::size_t k = 0; k < 128; ++k) CHECK(std::abs(got[k] - expected[k]) <= 5e-5);
    }
    CHECK_THROWS_WITH_AS(infer::run_embed({.model = "dlib", .weights = kModelDir, .images = paths}, out),
                         doctest::Contains("unknown model \"dlib\""), nn::Error);
  }
  fs::remove_all(dir);
}
