// Optimizers and LR schedulers against PyTorch (tests/reference/make_optim.py), checkpoint round trips,
// and HardTune's CosineRepeatLR against the values of REFERENCE.md §3.3.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <numbers>

#include "libnn/ops/arith.h"
#include "libnn/optim/adam.h"
#include "libnn/optim/lr_scheduler.h"
#include "libnn/optim/sgd.h"
#include "tests/support/reference.h"

using namespace nn;
using namespace nn::optim;
using nn::testing::check_close;
using nn::testing::reference_cases;
using nn::testing::reference_params;
using nn::testing::reference_tensor;

namespace {

DType parse_dtype(const std::string& s) { return s == "f32" ? DType::f32 : DType::f64; }

SgdOptions sgd_options(const nlohmann::json& j) {
  SgdOptions o;
  o.lr = j.at("lr");
  o.momentum = j.value("momentum", 0.0);
  o.dampening = j.value("dampening", 0.0);
  o.weight_decay = j.value("weight_decay", 0.0);
  o.nesterov = j.value("nesterov", false);
  return o;
}

AdamOptions adam_options(const nlohmann::json& j, bool adamw) {
  AdamOptions o;
  o.lr = j.at("lr");
  if (j.contains("betas")) o.beta1 = j["betas"][0], o.beta2 = j["betas"][1];
  o.eps = j.value("eps", 1e-8);
  o.weight_decay = j.value("weight_decay", adamw ? 1e-2 : 0.0);
  return o;
}

// The optimizer of a reference case over p0, p1 (one group with both, or one group each).
std::unique_ptr<Optimizer> make_optimizer(const nlohmann::json& params, const Tensor& p0, const Tensor& p1) {
  const std::string kind = params["optimizer"];
  const auto& groups = params["groups"];
  auto group_params = [&](std::size_t g) {
    return groups.size() == 1 ? std::vector<Tensor>{p0, p1} : std::vector<Tensor>{g == 0 ? p0 : p1};
  };
  if (kind == "sgd") {
    std::vector<ParamGroup<SgdOptions>> gs;
    for (std::size_t g = 0; g < groups.size(); ++g) gs.push_back({group_params(g), sgd_options(groups[g])});
    return std::make_unique<SGD>(std::move(gs));
  }
  std::vector<ParamGroup<AdamOptions>> gs;
  for (std::size_t g = 0; g < groups.size(); ++g) gs.push_back({group_params(g), adam_options(groups[g], kind == "adamw")});
  if (kind == "adam") return std::make_unique<Adam>(std::move(gs));
  return std::make_unique<AdamW>(std::move(gs));
}

// grad = 2 * (p - t) + 0.1 * sin(s), each operation rounded to T as PyTorch's tensor ops do.
Tensor quadratic_grad(const Tensor& p, const Tensor& t, int s) {
  Tensor g = Tensor::empty(p.shape(), p.dtype());
  dispatch_floating(p.dtype(), "quadratic_grad", [&]<typename T>() {
    const T* pp = p.data<T>();
    const T* pt = t.data<T>();
    T* pg = g.data<T>();
    const T shift = static_cast<T>(0.1 * std::sin(static_cast<double>(s)));
    for (index_t i = 0; i < p.numel(); ++i) pg[i] = static_cast<T>(T(2) * static_cast<T>(pp[i] - pt[i])) + shift;
  });
  return g;
}

// Runs steps [from, to] of a reference case's gradient sequence.
void run_steps(Optimizer& opt, const Tensor& p0, const Tensor& p1, const Tensor& t0, const Tensor& t1, int skip,
               int from, int to) {
  for (int s = from; s <= to; ++s) {
    p0.set_grad(quadratic_grad(p0, t0, s));
    p1.set_grad(skip && s % skip == 0 ? Tensor() : quadratic_grad(p1, t1, s));
    opt.step();
  }
}

struct Leaves {
  Tensor p0, p1, t0, t1;
};

Leaves case_leaves(const std::string& name) {
  auto get = [&](const char* role) { return reference_tensor("optim", name, role).clone(); };
  return {get("p0_init").set_requires_grad(), get("p1_init").set_requires_grad(), get("t0"), get("t1")};
}

std::unique_ptr<LRScheduler> make_scheduler(const nlohmann::json& params, Optimizer& opt) {
  const std::string kind = params["scheduler"];
  if (kind == "StepLR") return std::make_unique<StepLR>(opt, params["step_size"], params["gamma"]);
  if (kind == "CosineAnnealingLR")
    return std::make_unique<CosineAnnealingLR>(opt, params["T_max"], params.value("eta_min", 0.0));
  if (kind == "CosineAnnealingWarmRestarts")
    return std::make_unique<CosineAnnealingWarmRestarts>(opt, params["T_0"], params.value("T_mult", 1),
                                                         params.value("eta_min", 0.0));
  FAIL("unknown scheduler ", kind);
  return nullptr;
}

std::unique_ptr<SGD> two_group_sgd() {
  return std::make_unique<SGD>(std::vector<ParamGroup<SgdOptions>>{
      {{Tensor::zeros({3}).set_requires_grad()}, {.lr = 0.1}},
      {{Tensor::zeros({2}).set_requires_grad()}, {.lr = 0.02}}});
}

// The step kernels fuse multiply-adds exactly where PyTorch's AVX2 kernels do (kernels/cpu/optim.cpp),
// which reproduces its trajectories bit for bit when this build has FMA too. Without FMA every fused
// multiply-add rounds twice; measured: f32 1.6e-5 relative (an element of p near 0), f64 7e-15.
#if defined(__FMA__)
constexpr double kTrajectoryRtolF32 = 0, kTrajectoryRtolF64 = 0;
#else
constexpr double kTrajectoryRtolF32 = 5e-5, kTrajectoryRtolF64 = 1e-13;
#endif

}  // namespace

TEST_CASE("optim/matches_pytorch_trajectories") {
  double worst[2] = {0, 0};        // parameters, f32 and f64
  double worst_state[2] = {0, 0};  // optimizer state, relative to the largest element of each buffer
  int cases = 0;
  for (const auto& name : reference_cases("optim")) {
    const auto params = reference_params("optim", name);
    if (params["kind"] != "optimizer") continue;
    CAPTURE(name);
    ++cases;
    const DType dtype = parse_dtype(params["dtype"]);
    const double rtol = dtype == DType::f32 ? kTrajectoryRtolF32 : kTrajectoryRtolF64;
    const int skip = params["skip_p1_every"], steps = params["steps"], every = params["every"];
    Leaves l = case_leaves(name);
    REQUIRE(l.p0.dtype() == dtype);
    auto opt = make_optimizer(params, l.p0, l.p1);
    const Tensor traj0 = reference_tensor("optim", name, "p0_traj"), traj1 = reference_tensor("optim", name, "p1_traj");
    double& w = worst[dtype == DType::f64];
    for (int s = every; s <= steps; s += every) {
      run_steps(*opt, l.p0, l.p1, l.t0, l.t1, skip, s - every + 1, s);
      const index_t row = s / every - 1;
      w = std::max(w, check_close(l.p0, traj0.slice(0, row, row + 1).reshape(l.p0.shape()), rtol, name + " p0"));
      w = std::max(w, check_close(l.p1, traj1.slice(0, row, row + 1).reshape(l.p1.shape()), rtol, name + " p1"));
    }
    // Final optimizer state: every buffer PyTorch kept, and p1's step count (fewer when it was skipped).
    for (const auto& [role, p] : {std::pair{"p0", l.p0}, std::pair{"p1", l.p1}}) {
      const ParamState& st = opt->state(p);
      for (const char* buf : {"momentum_buffer", "exp_avg", "exp_avg_sq"}) {
        const std::string key = name + "." + role + "_" + buf;
        if (!nn::testing::reference("optim").contains(key)) continue;
        // A moment is an average of gradients 2 (p - t) that cancel as p converges, so its small elements
        // carry the parameters' rounding error magnified: compare against the buffer's scale.
        const Tensor expected = reference_tensor("optim", name, std::string(role) + "_" + buf);
        double scale = 0;
        for (double e : expected.to_vector()) scale = std::max(scale, std::abs(e));
        double& ws = worst_state[dtype == DType::f64];
        ws = std::max(ws, check_close(st.find(buf), expected, rtol, key, scale));
      }
    }
    if (params["optimizer"] != "sgd")
      CHECK(static_cast<double>(opt->state(l.p1).step) == reference_tensor("optim", name, "p1_step").item());
  }
  CHECK(cases == 18);
  MESSAGE("optimizer trajectories vs PyTorch: parameters max relative error f32 ", worst[0], ", f64 ", worst[1],
          "; state (relative to buffer max) f32 ", worst_state[0], ", f64 ", worst_state[1]);
}

TEST_CASE("optim/schedulers_match_pytorch") {
  double worst = 0;
  int cases = 0;
  for (const auto& name : reference_cases("optim")) {
    const auto params = reference_params("optim", name);
    if (params["kind"] != "scheduler") continue;
    CAPTURE(name);
    ++cases;
    auto opt = two_group_sgd();
    auto sched = make_scheduler(params, *opt);
    const Tensor expected = reference_tensor("optim", name, "lrs");  // (61, 2)
    for (index_t e = 0; e < expected.size(0); ++e) {
      if (e > 0) sched->step();
      CHECK(sched->last_epoch() == e);
      const Tensor got = Tensor::from_vector({2}, sched->get_last_lr(), DType::f64);
      worst = std::max(worst, check_close(got, expected.slice(0, e, e + 1).reshape({2}), 1e-12,
                                          str(name, " epoch ", e), 1e-300));
      CHECK(opt->lr(0) == sched->get_last_lr()[0]);
    }
  }
  CHECK(cases == 5);
  MESSAGE("LR schedules vs PyTorch: max relative error ", worst);
}

TEST_CASE("optim/cosine_repeat_lr_recipe_values") {
  // REFERENCE.md §3.3: base 2e-5, T_max 50, T_mult 0.5; values as listed (rounded to the digits given).
  auto opt = std::make_unique<Adam>(std::vector<Tensor>{Tensor::zeros({2}).set_requires_grad()},
                                    AdamOptions{.lr = 2e-5, .beta1 = 0.5});
  CosineRepeatLR sched(*opt, 50, 0.5);
  std::vector<double> lr;  // lr[e]: the lr epoch e trains with
  for (int e = 0; e < 120; ++e) {
    if (e > 0) sched.step();
    lr.push_back(opt->lr(0));
  }
  CHECK(lr[0] == 2e-5);
  CHECK(lr[10] == doctest::Approx(1.809e-5).epsilon(5e-9 / 1.809e-5));
  CHECK(lr[20] == doctest::Approx(1.309e-5).epsilon(5e-9 / 1.309e-5));
  CHECK(lr[29] == doctest::Approx(7.51e-6).epsilon(5e-9 / 7.51e-6));
  CHECK(lr[30] == doctest::Approx(6.91e-6).epsilon(5e-9 / 6.91e-6));
  CHECK(lr[49] == doctest::Approx(1.97e-8).epsilon(5e-11 / 1.97e-8));
  for (int e = 0; e < 50; ++e) CHECK(lr[e] == doctest::Approx(1e-5 * (1 + std::cos(std::numbers::pi * e / 50))).epsilon(1e-14));
  // The restart: epoch 50 ends the first cycle at eta_min, then a 25-epoch cycle starts.
  CHECK(std::abs(lr[50]) < 1e-20);
  CHECK(lr[51] == doctest::Approx(1e-5 * (1 + std::cos(std::numbers::pi / 25))).epsilon(1e-14));
  CHECK(std::abs(lr[75]) < 1e-20);
  // The next period, 12.5 epochs, is never hit exactly: the cosine runs on past its minimum.
  CHECK(lr[76] == doctest::Approx(1e-5 * (1 + std::cos(std::numbers::pi / 12.5))).epsilon(1e-14));
  CHECK(lr[100] == doctest::Approx(1e-5 * (1 + std::cos(std::numbers::pi * 25 / 12.5))).epsilon(1e-14));
  CHECK(lr[100] == doctest::Approx(2e-5).epsilon(1e-14));
}

TEST_CASE("optim/scheduler_state_round_trip") {
  // 20 epochs, checkpoint (scheduler and optimizer), restore into fresh objects, 40 more: the same lrs as
  // an uninterrupted run, for every scheduler (the recursive ones read the restored group lrs).
  using Factory = std::function<std::unique_ptr<LRScheduler>(Optimizer&)>;
  const std::vector<std::pair<const char*, Factory>> factories = {
      {"StepLR", [](Optimizer& o) { return std::make_unique<StepLR>(o, 7, 0.5); }},
      {"CosineAnnealingLR", [](Optimizer& o) { return std::make_unique<CosineAnnealingLR>(o, 20, 1e-3); }},
      {"CosineAnnealingWarmRestarts",
       [](Optimizer& o) { return std::make_unique<CosineAnnealingWarmRestarts>(o, 10, 2, 1e-4); }},
      {"CosineRepeatLR", [](Optimizer& o) { return std::make_unique<CosineRepeatLR>(o, 15, 0.5); }},
  };
  for (const auto& [name, make] : factories) {
    CAPTURE(name);
    auto opt_a = two_group_sgd();
    auto sched_a = make(*opt_a);
    for (int e = 0; e < 20; ++e) sched_a->step();
    const StateDict sched_state = sched_a->state_dict(), opt_state = opt_a->state_dict();

    auto opt_b = two_group_sgd();
    opt_b->load_state_dict(opt_state);
    auto sched_b = make(*opt_b);
    sched_b->load_state_dict(sched_state);
    CHECK(sched_b->last_epoch() == 20);
    CHECK(sched_b->get_last_lr() == sched_a->get_last_lr());
    for (int e = 0; e < 40; ++e) {
      sched_a->step();
      sched_b->step();
      CHECK(sched_b->get_last_lr() == sched_a->get_last_lr());
    }
  }
}

TEST_CASE("optim/fresh_scheduler_restarts_from_initial_lr") {
  // HardTune's stage-2 resume: the optimizer state (with initial_lr) is restored, the scheduler is not, so
  // the new schedule starts again from the original base lr, not from the lr of the last epoch.
  auto opt = std::make_unique<Adam>(std::vector<Tensor>{Tensor::zeros({2}).set_requires_grad()},
                                    AdamOptions{.lr = 2e-5, .beta1 = 0.5});
  {
    CosineRepeatLR sched(*opt, 50, 0.5);
    for (int e = 0; e < 29; ++e) sched.step();
  }
  CHECK(opt->lr(0) < 1e-5);
  auto resumed = std::make_unique<Adam>(std::vector<Tensor>{Tensor::zeros({2}).set_requires_grad()},
                                        AdamOptions{.lr = 1.0});
  resumed->load_state_dict(opt->state_dict());
  CHECK(resumed->lr(0) == opt->lr(0));
  CosineRepeatLR fresh(*resumed, 50, 0.5);
  CHECK(resumed->lr(0) == 2e-5);
}

TEST_CASE("optim/optimizer_state_round_trip") {
  // Adam and SGD: 40 steps, save the state through safetensors, load into a fresh optimizer over copies of
  // the parameters, 60 more steps each: bit-identical to the uninterrupted run.
  for (const char* name : {"adam_default_wd_f32", "sgd_groups_f64", "adamw_groups_f32"}) {
    CAPTURE(name);
    const auto params = reference_params("optim", name);
    const int skip = params["skip_p1_every"];
    Leaves a = case_leaves(name);
    auto opt_a = make_optimizer(params, a.p0, a.p1);
    run_steps(*opt_a, a.p0, a.p1, a.t0, a.t1, skip, 1, 40);

    const std::string path = str("/tmp/hardtune_test_optim_", name, ".safetensors");
    save_state_dict(opt_a->state_dict(), path);
    Leaves b{a.p0.detach().clone().set_requires_grad(), a.p1.detach().clone().set_requires_grad(), a.t0, a.t1};
    auto opt_b = make_optimizer(params, b.p0, b.p1);
    opt_b->load_state_dict(load_state_dict_file(path));
    std::remove(path.c_str());
    CHECK(opt_b->state(b.p1).step == opt_a->state(a.p1).step);

    run_steps(*opt_a, a.p0, a.p1, a.t0, a.t1, skip, 41, 100);
    run_steps(*opt_b, b.p0, b.p1, b.t0, b.t1, skip, 41, 100);
    CHECK(b.p0.to_vector() == a.p0.to_vector());
    CHECK(b.p1.to_vector() == a.p1.to_vector());
  }
}

TEST_CASE("optim/load_state_dict_errors") {
  Tensor p = Tensor::zeros({3}).set_requires_grad(), q = Tensor::zeros({2}).set_requires_grad();
  Adam a({p, q}, {});
  p.set_grad(Tensor::ones({3}));
  q.set_grad(Tensor::ones({2}));
  a.step();
  const StateDict state = a.state_dict();

  Adam one_param({Tensor::zeros({3}).set_requires_grad()}, {});
  CHECK_THROWS_WITH_AS(one_param.load_state_dict(state), doctest::Contains("group 0 has 2 parameters"), Error);
  Adam wrong_shape({Tensor::zeros({3}).set_requires_grad(), Tensor::zeros({5}).set_requires_grad()}, {});
  CHECK_THROWS_WITH_AS(wrong_shape.load_state_dict(state), doctest::Contains("state.1.exp_avg has shape (2)"), Error);
  SGD sgd({Tensor::zeros({3}).set_requires_grad(), Tensor::zeros({2}).set_requires_grad()}, {});
  CHECK_THROWS_WITH_AS(sgd.load_state_dict(state), doctest::Contains("momentum"), Error);
  // A failed load changes nothing.
  CHECK(wrong_shape.state(wrong_shape.params(0)[0]).step == 0);
}

TEST_CASE("optim/step_zero_grad_and_checks") {
  Tensor p = Tensor::full({2}, 1.0, DType::f64).set_requires_grad();
  Tensor frozen = Tensor::full({2}, 1.0, DType::f64);  // requires_grad false: never gets a grad
  SGD sgd({p, frozen}, {.lr = 0.5, .momentum = 0.9});
  p.set_grad(Tensor::full({2}, 2.0, DType::f64));
  sgd.step();
  CHECK(p.to_vector() == std::vector<double>{0, 0});
  CHECK(frozen.to_vector() == std::vector<double>{1, 1});
  CHECK_FALSE(sgd.state(frozen).find("momentum_buffer").defined());
  sgd.zero_grad();
  CHECK_FALSE(p.grad().defined());
  sgd.step();  // no gradients: nothing moves
  CHECK(p.to_vector() == std::vector<double>{0, 0});

  CHECK_THROWS_WITH_AS(SGD({p, p}, {}), doctest::Contains("appears twice"), Error);
  CHECK_THROWS_WITH_AS(SGD({p * 2.0}, {}), doctest::Contains("non-leaf"), Error);
  CHECK_THROWS_WITH_AS(SGD(std::vector<Tensor>{}, {}), doctest::Contains("empty"), Error);
  CHECK_THROWS_WITH_AS(SGD({p}, {.nesterov = true}), doctest::Contains("Nesterov"), Error);
  CHECK_THROWS_AS(Adam({p}, {.beta1 = 1.0}), Error);
  p.set_grad(Tensor::ones({2}));  // f32 gradient for an f64 parameter
  CHECK_THROWS_WITH_AS(sgd.step(), doctest::Contains("does not match parameter"), Error);
}
