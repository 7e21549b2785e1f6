// Reference-state tests of the HardTune networks (llm.c style): tests/reference/make_models.py builds each
// DLAS net, and the CASIA-SURF baseline, at reduced width in PyTorch from the spec, with the reference's
// module names, and stores its initial state_dict, one batch, the train-mode logits and loss, every
// parameter gradient and the BN running statistics of the first step, the losses of five Adam steps and
// the eval-mode logits after them. Here the same config is built in C++, the state_dict is loaded by name
// (strict: every file key is a model key and vice versa) and all of it is compared.
//
// Error measure: max |ours - ref| / (|ref| + floor). The reference is PyTorch in f64 on the same f32
// weights and inputs; we run in f32. Every compared tensor here is the end of long chains of GEMM-shaped
// reductions (convs over C*R*S, gradients over N*H*W, BN statistics over N*H*W), whose f32 error is of
// order eps * sqrt(K) * |terms| however the sum cancels, so, as for the GEMM-shaped ops of
// test_ops_parity.cpp, the floor is the RMS of the reference tensor: each element's error is measured
// against the scale of its tensor, and an element that is small only by cancellation does not read as a
// large relative error. A gradient that is zero in exact arithmetic (in the IR nets, the last BN biases of
// agg_layer1/2's units and their shortcut BN biases: A1 and A2 feed only BN-normalised paths) is f64
// round-off (1e-17) in the reference and f32 round-off (1e-8) here, so the gradient floor is at least 1e-3
// of the RMS over all the net's reference gradients. Losses are scalars and are compared plainly relative.
#include <doctest/doctest.h>

#include <cmath>

#include "libnn/autograd/grad_mode.h"
#include "libnn/ops/loss.h"
#include "libnn/optim/adam.h"
#include "models/baseline.h"
#include "models/dlas.h"
#include "models/heads.h"
#include "models/iresnet.h"
#include "models/resnet_caffe.h"
#include "tests/support/reference.h"

using namespace nn;
using models::DlasNet;
using models::DlasVariant;
using nn::testing::check_close;
using nn::testing::rms;
using nn::testing::reference;
using nn::testing::reference_params;
using nn::testing::reference_tensor;

namespace {

constexpr double kLogitsRtol = 1e-4;
constexpr double kGradRtol = 1e-3;
constexpr double kStatsRtol = 1e-4;
constexpr double kLossRtol = 1e-4;
// make_models.py writes one file per family (each well under 2 MB): models_<family>.safetensors.
std::string family_of(const std::string& name) {
  if (name.starts_with("resnet34")) return "models_resnet34";
  if (name.starts_with("ir")) return "models_ir50";
  return "models_baseline";
}

double check_scaled(const Tensor& actual, const Tensor& expected, double rtol, const std::string& what,
                    double min_floor = 1e-12) {
  return check_close(actual, expected, rtol, what, std::max(rms(expected), min_floor));
}

// RMS over the elements of all the case's reference gradients.
double gradient_scale(const std::string& name, const nn::Module& net) {
  double sum = 0;
  index_t count = 0;
  for (const auto& [key, p] : net.named_parameters()) {
    const Tensor g = reference_tensor(family_of(name), name, "grad0." + key);
    const double r = rms(g);
    sum += r * r * static_cast<double>(g.numel());
    count += g.numel();
  }
  return std::sqrt(sum / static_cast<double>(std::max<index_t>(count, 1)));
}

// The case's "init.<key>" tensors, prefix stripped.
StateDict initial_state(const std::string& name) {
  const std::string prefix = name + ".init.";
  StateDict dict;
  for (const auto& [key, t] : reference(family_of(name)).tensors)
    if (key.starts_with(prefix)) dict.emplace_back(key.substr(prefix.size()), t);
  return dict;
}

struct Errors {
  double logits = 0, grads = 0, stats = 0, losses = 0, eval_logits = 0;
};

Errors run_reference_case(const std::string& name, models::MultiModalNet& net) {
  const std::string family = family_of(name);
  const auto params = reference_params(family, name);
  const std::string inputs = params["inputs"];
  net.set_head(std::make_shared<models::LinearHead>(net.feature_dim(), 2));  // the recipe's head (§1.6)
  REQUIRE(net.num_parameters() == params["params"].get<index_t>());
  net.load_state_dict(initial_state(name));  // strict

  const Tensor rgb = reference_tensor(family, inputs, "rgb"), depth = reference_tensor(family, inputs, "depth"),
               ir = reference_tensor(family, inputs, "ir"), labels = reference_tensor(family, inputs, "labels");
  const auto expected_losses = reference_tensor(family, name, "losses").to_vector();
  REQUIRE(expected_losses.size() == params["steps"].get<std::size_t>());
  optim::Adam adam(net.parameters(), {.lr = params["lr"].get<double>(), .beta1 = params["beta1"].get<double>(),
                                      .beta2 = params["beta2"].get<double>(), .eps = params["eps"].get<double>()});
  const double grad_floor = 1e-3 * gradient_scale(name, net);
  Errors err;
  net.train();
  for (std::size_t step = 0; step < expected_losses.size(); ++step) {
    CAPTURE(step);
    adam.zero_grad();
    const Tensor logits = net.logits(rgb, depth, ir, labels);
    Tensor loss = ops::cross_entropy(logits, labels);
    loss.backward();
    const double rel = std::abs(loss.item() - expected_losses[step]) / std::abs(expected_losses[step]);
    CHECK_MESSAGE(rel <= kLossRtol, name, " step ", step, ": loss ", loss.item(), " vs ", expected_losses[step]);
    err.losses = std::max(err.losses, rel);
    if (step == 0) {
      err.logits = check_scaled(logits, reference_tensor(family, name, "logits0"), kLogitsRtol, name + ".logits0");
      for (const auto& [key, p] : net.named_parameters())
        err.grads = std::max(err.grads, check_scaled(p.grad(), reference_tensor(family, name, "grad0." + key),
                                                     kGradRtol, name + ".grad0." + key, grad_floor));
      for (const auto& [key, b] : net.named_buffers()) {
        if (b.dtype() == DType::i64) {
          CHECK_MESSAGE(b.item() == 1, key);  // num_batches_tracked
          continue;
        }
        err.stats = std::max(err.stats, check_scaled(b, reference_tensor(family, name, "stats0." + key), kStatsRtol,
                                                     name + ".stats0." + key));
      }
    }
    adam.step();
  }
  net.eval();
  err.eval_logits = check_scaled(net.logits(rgb, depth, ir), reference_tensor(family, name, "eval_logits"),
                                 kLogitsRtol, name + ".eval_logits");
  {
    nn::NoGradGuard no_grad;  // the inference path: conv -> BN -> PReLU fused into one conv epilogue
    err.eval_logits = std::max(err.eval_logits, check_scaled(net.logits(rgb, depth, ir),
                                                             reference_tensor(family, name, "eval_logits"),
                                                             kLogitsRtol, name + ".eval_logits (fused)"));
  }
  MESSAGE(name, ": max rel. error logits ", err.logits, ", grads ", err.grads, ", BN stats ", err.stats, ", losses ",
          err.losses, ", eval logits ", err.eval_logits);
  return err;
}

models::ResNetCaffeConfig resnet_config(const std::string& name) {
  const auto p = reference_params(family_of(name), name);
  models::ResNetCaffeConfig c;
  for (std::size_t i = 0; i < 5; ++i) c.widths[i] = p["widths"][i];
  for (std::size_t i = 0; i < 4; ++i) c.blocks[i] = p["blocks"][i];
  return c;
}

models::IRConfig ir_config(const std::string& name) {
  const auto p = reference_params(family_of(name), name);
  models::IRConfig c;
  for (std::size_t i = 0; i < 5; ++i) c.widths[i] = p["widths"][i];
  for (std::size_t i = 0; i < 4; ++i) c.units[i] = p["units"][i];
  c.se_reduction = p["se_reduction"];
  c.se = c.se_reduction > 0;
  return c;
}

void resnet_case(const std::string& name, DlasVariant variant) {
  DlasNet net(models::resnet_caffe_family(resnet_config(name)), variant);
  run_reference_case(name, net);
}

void ir_case(const std::string& name) {
  DlasNet net(models::ir_family(ir_config(name)), DlasVariant::A);
  run_reference_case(name, net);
}

void baseline_case(const std::string& name) {
  const auto p = reference_params(family_of(name), name);
  models::CasiaSurfBaseline net(
      models::BaselineOptions{.width = p["width"].get<index_t>(), .se_reduction = p["se_reduction"].get<index_t>()});
  run_reference_case(name, net);
}

}  // namespace

TEST_CASE("models/reference_resnet34_dlas_a") { resnet_case("resnet34_dlas_a", DlasVariant::A); }
TEST_CASE("models/reference_resnet34_dlas_b") { resnet_case("resnet34_dlas_b", DlasVariant::B); }
TEST_CASE("models/reference_resnet34_dlas_c") { resnet_case("resnet34_dlas_c", DlasVariant::C); }
TEST_CASE("models/reference_ir50_dlas_a") { ir_case("ir50_dlas_a"); }
TEST_CASE("models/reference_ir_se50_dlas_a") { ir_case("ir_se50_dlas_a"); }
TEST_CASE("models/reference_casia_surf_baseline") { baseline_case("casia_surf_baseline"); }
