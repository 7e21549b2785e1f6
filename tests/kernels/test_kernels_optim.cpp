// The fused optimizer steps (kernels/cpu/optim.h) against independent whole-array transcriptions of
// torch.optim's single-tensor SGD / Adam / AdamW, and first steps by hand.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/optim.h"
#include "tests/kernels/compare.h"

using namespace kern;
using namespace kern_test;

// ---------------------------------------------------------------------------------------------- optimizers

namespace {

// torch/optim/sgd.py and adam.py / adamw.py (_single_tensor_*), transcribed in double over whole
// arrays, written independently of the kernels' fused per-element loops.
struct RefSgd {
  SgdParams p;
  Vec buf;
  void step(Vec& param, Vec grad) {
    if (p.maximize)
      for (auto& g : grad) g = -g;
    if (p.weight_decay != 0)
      for (std::size_t i = 0; i < grad.size(); ++i) grad[i] += p.weight_decay * param[i];
    if (p.momentum != 0) {
      if (buf.empty()) {
        buf = grad;
      } else {
        for (std::size_t i = 0; i < grad.size(); ++i)
          buf[i] = buf[i] * p.momentum + (1 - p.dampening) * grad[i];
      }
      if (p.nesterov) {
        for (std::size_t i = 0; i < grad.size(); ++i) grad[i] += p.momentum * buf[i];
      } else {
        grad = buf;
      }
    }
    for (std::size_t i = 0; i < grad.size(); ++i) param[i] -= p.lr * grad[i];
  }
};

struct RefAdam {
  AdamParams p;
  bool decoupled;
  Vec m, v, vmax;
  int step_count = 0;
  void step(Vec& param, Vec grad) {
    const std::size_t n = param.size();
    if (m.empty()) m = v = vmax = Vec(n, 0.0);
    ++step_count;
    if (p.maximize)
      for (auto& g : grad) g = -g;
    if (decoupled) {
      for (auto& q : param) q *= 1 - p.lr * p.weight_decay;
    } else if (p.weight_decay != 0) {
      for (std::size_t i = 0; i < n; ++i) grad[i] += p.weight_decay * param[i];
    }
    const double bc1 = 1 - std::pow(p.beta1, step_count), bc2 = 1 - std::pow(p.beta2, step_count);
    for (std::size_t i = 0; i < n; ++i) {
      m[i] = p.beta1 * m[i] + (1 - p.beta1) * grad[i];
      v[i] = p.beta2 * v[i] + (1 - p.beta2) * grad[i] * grad[i];
      vmax[i] = std::max(vmax[i], v[i]);
      const double denom = std::sqrt(p.amsgrad ? vmax[i] : v[i]) / std::sqrt(bc2) + p.eps;
      param[i] -= p.lr / bc1 * m[i] / denom;
    }
  }
};

}  // namespace

TEST_CASE("sgd_step/matches_reference_over_steps") {
  const std::vector<SgdParams> configs{
      {.lr = 0.1},
      {.lr = 0.05, .momentum = 0.9},
      {.lr = 0.05, .momentum = 0.9, .dampening = 0.3, .weight_decay = 1e-2},
      {.lr = 0.05, .momentum = 0.8, .weight_decay = 5e-4, .nesterov = true},
      {.lr = 0.05, .momentum = 0.5, .maximize = true},
  };
  for (const SgdParams& p : configs) {
    CAPTURE(p.momentum);
    CAPTURE(p.nesterov);
    Vec param = random_vector<double>(9, 141), buf(9);
    VecF param_f = to_float(param), buf_f(9);
    RefSgd ref{p, {}};
    Vec ref_param = param;
    for (int s = 0; s < 4; ++s) {
      const Vec g = random_vector<double>(9, 142 + s);
      const VecF gf = to_float(g);
      sgd_step_cpu(p, 9, param.data(), g.data(), buf.data(), s == 0);
      sgd_step_cpu(p, 9, param_f.data(), gf.data(), buf_f.data(), s == 0);
      ref.step(ref_param, Vec(gf.begin(), gf.end()));
    }
    check_close(param_f, ref_param, 1e-6);
  }
}

TEST_CASE("sgd_step/first_step_buffer_is_the_gradient") {
  // Dampening does not touch the first buffer: PyTorch clones the gradient into it.
  const SgdParams p{.lr = 0.1, .momentum = 0.9, .dampening = 0.5};
  Vec param{1.0}, buf{123.0};
  const Vec g{2.0};
  sgd_step_cpu(p, 1, param.data(), g.data(), buf.data(), true);
  CHECK(buf[0] == 2.0);
  CHECK(param[0] == doctest::Approx(0.8));
  sgd_step_cpu(p, 1, param.data(), g.data(), buf.data(), false);
  CHECK(buf[0] == doctest::Approx(0.9 * 2 + 0.5 * 2));
  CHECK(param[0] == doctest::Approx(0.8 - 0.1 * 2.8));
}

TEST_CASE("adam_step/matches_reference_over_steps") {
  const std::vector<AdamParams> configs{
      {.lr = 1e-2},
      {.lr = 1e-2, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 1e-2},
      {.lr = 1e-2, .weight_decay = 1e-3, .amsgrad = true},
      {.lr = 1e-2, .maximize = true},
  };
  for (bool decoupled : {false, true})
    for (const AdamParams& p : configs) {
      CAPTURE(decoupled);
      CAPTURE(p.weight_decay);
      CAPTURE(p.amsgrad);
      Vec param = random_vector<double>(9, 151);
      VecF pf = to_float(param), m(9), v(9), vmax(9);
      RefAdam ref{p, decoupled, {}, {}, {}};
      for (int s = 1; s <= 5; ++s) {
        const VecF gf = to_float(random_vector<double>(9, 152 + s));
        (decoupled ? adamw_step_cpu<float> : adam_step_cpu<float>)(p, 9, s, pf.data(), gf.data(), m.data(),
                                                                   v.data(), vmax.data());
        ref.step(param, Vec(gf.begin(), gf.end()));
      }
      check_close(pf, param, 2e-6);
    }
}

TEST_CASE("adam_step/first_step_by_hand") {
  // After bias correction the first step is lr * g / (|g| + eps), whatever the betas.
  const AdamParams p{.lr = 0.1, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
  Vec param{1.0}, m{0}, v{0};
  const Vec g{0.5};
  adam_step_cpu(p, 1, 1, param.data(), g.data(), m.data(), v.data(), (double*)nullptr);
  CHECK(param[0] == doctest::Approx(1 - 0.1 * 0.5 / (0.5 + 1e-8)).epsilon(1e-14));

  // AdamW decays the parameter before the step: 1 * (1 - 0.1 * 0.1) = 0.99.
  AdamParams pw = p;
  pw.weight_decay = 0.1;
  Vec pw_param{1.0}, mw{0}, vw{0};
  adamw_step_cpu(pw, 1, 1, pw_param.data(), g.data(), mw.data(), vw.data(), (double*)nullptr);
  CHECK(pw_param[0] == doctest::Approx(0.99 - 0.1 * 0.5 / (0.5 + 1e-8)).epsilon(1e-14));
}
