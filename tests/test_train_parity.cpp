// Training parity with PyTorch (issue 6): tests/reference/make_train_parity.py runs the recipe's loop
// (REFERENCE.md §3.3: Adam betas 0.5/0.999 on the backbone only, a frozen random Linear head,
// cross-entropy, train-mode BN) for 20 steps on the registry's resnet34_dlas_a_tiny and ir50_dlas_a_tiny
// from stored initial weights and fixed batches. Here the registry builds the same nets (frozen_head), the
// initial state is loaded by name (strict) and the same loop runs.
//
// Precision: the reference runs in float64, and so does the main check here: at round-off level (< 1e-9,
// measured ~1e-12) any semantic difference (BN running-stat update, Adam's eps placement and bias
// correction, PReLU gradients, a head that trains) would stand out, where an f32 comparison would hide it
// under round-off amplified by 20 steps. The f32 run (the production path) must also stay within the spec's
// 1e-4 of the f64 reference, or within PyTorch's own f32 drift on the same loop where that is larger
// (recorded in the reference as torch_f32_loss_rel_err: 1e-3 for ResNet34, 3e-4 for IR-50). The late
// losses are ~1e-3, where Adam scales round-off in small gradients up to whole steps: with every conv on
// the GEMM paths we measured 1.5e-5; with the Winograd backward-weight (5-11 eps of the |terms| sum per
// weight gradient, the GEMM path 2-3) ResNet34's drift is 5.4e-4, half of PyTorch's, IR-50's 1.5e-5.
// Final weights are compared loosely through the reference's sketch (per tensor: the update's norm and its
// dot products with fixed +-1 vectors); the BN running statistics in full; the head must be untouched.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "libnn/core/cuda_options.h"
#include "libnn/ops/arith.h"
#include "libnn/ops/loss.h"
#include "libnn/optim/adam.h"
#include "models/registry.h"
#include "tests/support/reference.h"
#if NN_WITH_CUDA
#include "tests/cuda/gpu.h"
#endif

using namespace nn;
using nn::testing::check_close;
using nn::testing::reference;
using nn::testing::reference_params;
using nn::testing::reference_tensor;

namespace {

constexpr double kLossRtolF64 = 1e-9;   // round-off only: the spec's 1e-4 with five digits to spare
constexpr double kSketchRtolF64 = 1e-4;  // loose: the floor-level updates below are round-off over eps
constexpr double kStatsRtolF64 = 1e-7;
constexpr double kLossRtolF32 = 1e-4;  // the spec's bound (SYSTEM.md §5), unless PyTorch's f32 drifts more

std::string family_of(const std::string& name) {
  return "train_parity_" + name.substr(0, name.find('_'));
}

// The i-th of the reference's sketch vectors (make_train_parity.py sketch_matrix).
double sketch_sign(std::int64_t i, std::int64_t j) {
  const std::uint32_t h = static_cast<std::uint32_t>(static_cast<std::uint64_t>(i) * 2654435761ull +
                                                     static_cast<std::uint64_t>(j + 1) * 40503ull);
  return ((h >> 13) & 1u) ? -1.0 : 1.0;
}

StateDict initial_state(const std::string& family, const std::string& name) {
  const std::string prefix = name + ".init.";
  StateDict dict;
  for (const auto& [key, t] : reference(family).tensors)
    if (key.starts_with(prefix)) dict.emplace_back(key.substr(prefix.size()), t);
  return dict;
}

// Inputs of batch b: (u8 - 128) / 64, exact in every float type. images: (B, 3, N, 3, S, S).
std::array<Tensor, 3> batch_inputs(const Tensor& images, index_t b, DType dtype) {
  const auto& s = images.shape();
  const index_t per = s[2] * s[3] * s[4] * s[5];
  std::array<Tensor, 3> out;
  for (index_t m = 0; m < 3; ++m) {
    Tensor x = Tensor::empty({s[2], s[3], s[4], s[5]}, DType::f64);
    const std::uint8_t* src = images.data<std::uint8_t>() + (b * 3 + m) * per;
    for (index_t i = 0; i < per; ++i) x.data<double>()[i] = (static_cast<double>(src[i]) - 128.0) / 64.0;
    out[static_cast<std::size_t>(m)] = x.to(dtype);
  }
  return out;
}

Tensor batch_labels(const Tensor& labels, index_t b) {
  const index_t n = labels.shape()[1];
  Tensor y = Tensor::empty({n}, DType::i64);
  for (index_t i = 0; i < n; ++i) y.data<std::int64_t>()[i] = labels.data<std::int64_t>()[b * n + i];
  return y;
}

struct Run {
  std::vector<double> losses;
  std::shared_ptr<models::MultiModalNet> net;
};

Run train(const std::string& name, DType dtype, Device device = Device::cpu()) {
  const std::string family = family_of(name);
  const auto params = reference_params(family, name);
  auto net = models::build_model(name, {.frozen_head = true});
  REQUIRE(net->num_parameters() == params["params"].get<index_t>());
  net->load_state_dict(initial_state(family, name));  // strict: every key of the reference, and only those
  net->to(dtype);
  net->to(device);
  std::vector<Tensor> trainable;
  for (const Tensor& p : net->parameters())
    if (p.requires_grad()) trainable.push_back(p);
  CHECK(static_cast<index_t>(trainable.size()) + 2 == static_cast<index_t>(net->parameters().size()));
  optim::Adam adam(trainable, {.lr = params["lr"].get<double>(), .beta1 = params["beta1"].get<double>(),
                               .beta2 = params["beta2"].get<double>(), .eps = params["eps"].get<double>()});
  const Tensor images = reference_tensor(family, name, "images"), labels = reference_tensor(family, name, "labels");
  const index_t batches = params["batches"].get<index_t>();
  Run run{{}, net};
  net->train();
  for (int step = 0; step < params["steps"].get<int>(); ++step) {
    const auto [rgb, depth, ir] = batch_inputs(images, step % batches, dtype);
    const Tensor y = batch_labels(labels, step % batches).to(device);
    adam.zero_grad();
    Tensor loss = ops::cross_entropy(net->logits(rgb.to(device), depth.to(device), ir.to(device), y), y);
    loss.backward();
    adam.step();
    run.losses.push_back(loss.item());
  }
  return run;
}

void check_case(const std::string& name) {
  const std::string family = family_of(name);
  const auto params = reference_params(family, name);
  const auto expected = reference_tensor(family, name, "losses").to_vector();

  const Run run = train(name, DType::f64);
  REQUIRE(run.losses.size() == expected.size());
  double loss_err = 0;
  for (std::size_t s = 0; s < expected.size(); ++s) {
    const double rel = std::abs(run.losses[s] - expected[s]) / std::abs(expected[s]);
    CHECK_MESSAGE(rel <= kLossRtolF64, name, " step ", s, ": loss ", run.losses[s], " vs ", expected[s]);
    loss_err = std::max(loss_err, rel);
  }

  // The head is the reference's random init, untouched; the backbone moved as the reference's did. The
  // error floor is 1e-6 of the whole net's update: in the IR net some BN biases have a gradient that is
  // zero in exact arithmetic (see test_models_reference.cpp), so their update is round-off on both sides.
  const StateDict init = initial_state(family, name);
  double total = 0;
  for (const auto& [key, p] : run.net->named_parameters())
    if (!key.starts_with("classifier.")) total += std::pow(reference_tensor(family, name, "update_norm." + key).item(), 2);
  const double floor = 1e-6 * std::sqrt(total);
  double sketch_err = 0;
  for (const auto& [key, p] : run.net->named_parameters()) {
    CAPTURE(key);
    const Tensor update = ops::sub(p, find_entry(init, key).to(DType::f64)).contiguous();
    const double* u = update.data<double>();
    if (key.starts_with("classifier.")) {
      for (index_t i = 0; i < update.numel(); ++i) REQUIRE(u[i] == 0.0);
      continue;
    }
    const double ref_norm = reference_tensor(family, name, "update_norm." + key).item();
    const auto ref_sketch = reference_tensor(family, name, "update_sketch." + key).to_vector();
    double norm = 0;
    std::vector<double> sketch(ref_sketch.size(), 0.0);
    for (index_t i = 0; i < update.numel(); ++i) {
      norm += u[i] * u[i];
      for (std::size_t j = 0; j < sketch.size(); ++j) sketch[j] += sketch_sign(i, static_cast<std::int64_t>(j)) * u[i];
    }
    const double scale = std::max(ref_norm, floor);
    double err = std::abs(std::sqrt(norm) - ref_norm) / scale;
    for (std::size_t j = 0; j < sketch.size(); ++j) err = std::max(err, std::abs(sketch[j] - ref_sketch[j]) / scale);
    CHECK_MESSAGE(err <= kSketchRtolF64, name, " ", key, ": update differs by ", err, " of its norm");
    sketch_err = std::max(sketch_err, err);
  }
  double stats_err = 0;
  for (const auto& [key, b] : run.net->named_buffers()) {
    if (b.dtype() == DType::i64) {
      CHECK_MESSAGE(b.item() == params["steps"].get<double>(), key);  // num_batches_tracked
      continue;
    }
    const Tensor ref = reference_tensor(family, name, "final." + key);
    stats_err = std::max(stats_err, check_close(b.to(DType::f32), ref, kStatsRtolF64, name + ".final." + key, 1e-3));
  }

  const Run run32 = train(name, DType::f32);
  const double rtol32 = std::max(kLossRtolF32, params["torch_f32_loss_rel_err"].get<double>());
  double err32 = 0;
  for (std::size_t s = 0; s < expected.size(); ++s) {
    const double rel = std::abs(run32.losses[s] - expected[s]) / expected[s];
    CHECK_MESSAGE(rel <= rtol32, name, " f32 step ", s, ": loss ", run32.losses[s], " vs ", expected[s]);
    err32 = std::max(err32, rel);
  }
  MESSAGE(name, ": ", expected.size(), " Adam steps, losses ", expected.front(), " -> ", expected.back(),
          "; f64 max rel. error: losses ", loss_err, ", update sketch ", sketch_err, ", BN running stats ", stats_err,
          "; f32: losses ", err32, " (PyTorch's own f32 run: ",
          params["torch_f32_loss_rel_err"].get<double>(), ")");
}

}  // namespace

TEST_CASE("train_parity/resnet34_dlas_a_tiny") { check_case("resnet34_dlas_a_tiny"); }
TEST_CASE("train_parity/ir50_dlas_a_tiny") { check_case("ir50_dlas_a_tiny"); }

#if NN_WITH_CUDA
// The same 20 steps on the GPU with exact fp32 products (our kernels, then cuDNN's): within the spec's 1e-4
// of the f64 reference, like the CPU's f32 run. Skipped without a device.
void check_cuda_case(const std::string& name, ConvBackend backend) {
  const std::string family = family_of(name);
  const auto expected = reference_tensor(family, name, "losses").to_vector();
  CudaOptions options;
  options.conv = options.batch_norm = backend;
  options.gemm = backend == ConvBackend::cudnn ? GemmBackend::cublas : GemmBackend::ours;
  options.math = kern::MathMode::fp32;
  const CudaOptionsGuard guard(options);
  const Run run = train(name, DType::f32, Device::cuda());
  REQUIRE(run.losses.size() == expected.size());
  double err = 0;
  for (std::size_t s = 0; s < expected.size(); ++s) {
    const double rel = std::abs(run.losses[s] - expected[s]) / expected[s];
    CHECK_MESSAGE(rel <= kLossRtolF32, name, " cuda step ", s, ": loss ", run.losses[s], " vs ", expected[s]);
    err = std::max(err, rel);
  }
  MESSAGE(name, " on CUDA (", backend == ConvBackend::cudnn ? "cuDNN" : "ours", ", fp32): losses max rel. error ",
          err);
}

TEST_CASE("train_parity/cuda_resnet34_dlas_a_tiny") {
  NN_REQUIRE_GPU();
  check_cuda_case("resnet34_dlas_a_tiny", ConvBackend::ours);
  check_cuda_case("resnet34_dlas_a_tiny", ConvBackend::cudnn);
}
TEST_CASE("train_parity/cuda_ir50_dlas_a_tiny") {
  NN_REQUIRE_GPU();
  check_cuda_case("ir50_dlas_a_tiny", ConvBackend::ours);
}
#endif
