#include "train/smoke.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numbers>

#include "libnn/autograd/grad_mode.h"
#include "libnn/core/rng.h"
#include "libnn/nn/layers.h"
#include "libnn/ops/loss.h"
#include "libnn/optim/adam.h"
#include "libnn/optim/lr_scheduler.h"
#include "train/checkpoint.h"
#include "train/progress.h"

namespace hardtune {

namespace {

using nn::index_t;
using nn::Tensor;

// Sample `index` of the toy set, a pure function of (seed, index): (3, S, S) in [-1, 1] and its label.
int make_sample(std::uint64_t seed, std::uint64_t index, int S, float* out) {
  nn::Generator gen(seed * 0x9E3779B97F4A7C15ull + index);
  auto u = [&, k = std::uint64_t{0}]() mutable { return nn::Generator::to_unit(gen.block(k++)[0]); };
  const int label = u() < 0.5 ? 1 : 0;  // 1 = live
  const double cx = S * (0.4 + 0.2 * u()), cy = S * (0.4 + 0.2 * u());
  const double rx = S * (0.25 + 0.1 * u()), ry = S * (0.3 + 0.1 * u());
  const double freq = 0.6 + 0.8 * u(), phase = 2 * std::numbers::pi * u(), angle = std::numbers::pi * u();
  const double cast[3] = {0.9 + 0.2 * u(), 0.9 + 0.2 * u(), 0.9 + 0.2 * u()};
  const double contrast = label ? 0.0 : 0.25 + 0.25 * u();
  std::vector<float> noise(3 * S * S);
  nn::fill_normal(noise.data(), static_cast<index_t>(noise.size()), 0.0, 0.08, gen, gen.reserve(nn::philox_blocks(3 * S * S)));
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < S; ++y)
      for (int x = 0; x < S; ++x) {
        const double dx = (x - cx) / rx, dy = (y - cy) / ry;
        const double face = std::exp(-(dx * dx + dy * dy));
        const double t = (x * std::cos(angle) + y * std::sin(angle)) * freq + phase;
        const double print = 1.0 - contrast * (0.5 + 0.5 * std::sin(t));  // halftone-like stripes
        const double v = face * print * (label ? 1.0 : cast[c]);
        out[(c * S + y) * S + x] = static_cast<float>(2.0 * v - 1.0) + noise[(c * S + y) * S + x];
      }
  return label;
}

void make_batch(std::uint64_t seed, std::uint64_t first, int n, int S, Tensor& x, Tensor& y) {
  x = Tensor::empty({n, 3, S, S});
  y = Tensor::empty({n}, nn::DType::i64);
  for (int i = 0; i < n; ++i) y.data<std::int64_t>()[i] = make_sample(seed, first + i, S, x.data<float>() + i * 3 * S * S);
}

// The options that decide the result, as TOML: a checkpoint stores them and a resume must match.
std::string smoke_config(const SmokeOptions& o) {
  return nn::str("epochs = ", o.epochs, "\nsteps_per_epoch = ", o.steps_per_epoch, "\nbatch = ", o.batch,
                 "\nimage_size = ", o.image_size, "\neval_samples = ", o.eval_samples, "\nlr = ", o.lr,
                 "\nseed = ", o.seed, "\n");
}

std::shared_ptr<nn::Sequential> make_net() {
  using namespace nn;
  auto net = std::make_shared<Sequential>();
  auto stage = [&](index_t in, index_t out, index_t pad, bool pool) {
    net->push_back(std::make_shared<Conv2d>(in, out, Conv2d::Options{.kernel = 3, .padding = pad, .bias = false}));
    net->push_back(std::make_shared<BatchNorm2d>(out));
    net->push_back(std::make_shared<PReLU>(out));
    if (pool) net->push_back(std::make_shared<MaxPool2d>(2));
  };
  stage(3, 16, 0, true);
  stage(16, 32, 1, true);
  stage(32, 32, 1, false);
  net->push_back(std::make_shared<AdaptiveAvgPool2d>(1));
  net->push_back(std::make_shared<Flatten>());
  net->push_back(std::make_shared<Linear>(32, 2));
  return net;
}

}  // namespace

SmokeResult run_smoke(const SmokeOptions& o) {
  NN_CHECK(o.epochs > 0 && o.steps_per_epoch > 0 && o.batch > 1 && o.image_size >= 12, "smoke: invalid options");
  nn::manual_seed(o.seed);
  auto net = make_net();
  nn::optim::Adam adam(net->parameters(), {.lr = o.lr, .beta1 = 0.5, .beta2 = 0.999});
  nn::optim::CosineAnnealingLR schedule(adam, o.epochs);
  std::filesystem::create_directories(o.out);
  const std::string ckpt = o.out + "/checkpoint.safetensors";

  const TrainingState state{net.get(), &adam, &schedule, {{"default", &nn::default_generator()}}};
  const std::string config = smoke_config(o);

  int start_epoch = 0;
  if (o.resume && std::filesystem::exists(ckpt)) {
    start_epoch = load_checkpoint(ckpt, state, config).epoch;
    std::fprintf(stderr, "resumed from %s at epoch %d\n", ckpt.c_str(), start_epoch);
  }
  std::printf("smoke: %lld parameters, %d epochs x %d steps, batch %d, %dx%d images\n",
              static_cast<long long>(net->num_parameters()), o.epochs, o.steps_per_epoch, o.batch, o.image_size,
              o.image_size);
  std::fflush(stdout);  // before the progress lines on stderr

  SmokeResult result;
  const int end_epoch = o.stop_after > 0 ? std::min(o.epochs, start_epoch + o.stop_after) : o.epochs;
  for (int epoch = start_epoch; epoch < end_epoch; ++epoch) {
    net->train();
    Progress progress("epoch " + std::to_string(epoch), o.steps_per_epoch, "step");
    double epoch_loss = 0;
    for (int step = 0; step < o.steps_per_epoch; ++step) {
      Tensor x, y;
      const std::uint64_t first = (static_cast<std::uint64_t>(epoch) * o.steps_per_epoch + step) * o.batch;
      make_batch(o.seed, first, o.batch, o.image_size, x, y);
      adam.zero_grad();
      Tensor loss = nn::ops::cross_entropy(net->forward(x), y);
      const double l = loss.item();
      NN_CHECK(std::isfinite(l), "smoke: loss became ", l, " at epoch ", epoch, " step ", step);
      loss.backward();
      adam.step();
      if (epoch == 0 && step == 0) result.first_loss = l;
      epoch_loss += l;
      char extra[64];
      std::snprintf(extra, sizeof extra, "loss %.4f  lr %.2e", epoch_loss / (step + 1), adam.lr(0));
      progress.update(step + 1, extra);
    }
    result.last_loss = epoch_loss / o.steps_per_epoch;
    schedule.step();
    save_checkpoint(ckpt, state, {.epoch = epoch + 1}, config);
  }

  if (end_epoch < o.epochs) {
    std::printf("smoke: stopped after epoch %d of %d; continue with --resume\n", end_epoch, o.epochs);
    return result;
  }

  // Held-out samples (indices past every training batch), eval mode.
  net->eval();
  nn::NoGradGuard no_grad;
  Tensor x, y;
  make_batch(o.seed, 1ull << 40, o.eval_samples, o.image_size, x, y);
  const auto logits = net->forward(x).to_vector();
  int correct = 0;
  for (int i = 0; i < o.eval_samples; ++i)
    correct += (logits[2 * i + 1] > logits[2 * i] ? 1 : 0) == y.data<std::int64_t>()[i];
  result.eval_accuracy = static_cast<double>(correct) / o.eval_samples;
  nn::save_state_dict(net->state_dict(), o.out + "/model.safetensors");
  std::printf("smoke: train loss %.4f -> %.4f, held-out accuracy %.3f (%d samples); model in %s/model.safetensors\n",
              result.first_loss, result.last_loss, result.eval_accuracy, o.eval_samples, o.out.c_str());
  return result;
}

}  // namespace hardtune
