// kernels/cuda/batch_norm.h against its CPU twin kernels/cpu/batch_norm.h: HardTune's shapes, odd sizes,
// N = 1, chunk boundaries inside a sample's row, every optional pointer null, in-place y == x and
// dx == dy, and data with |mean| >> std (the variance must not cancel).
#include <doctest/doctest.h>

#include <type_traits>
#include <vector>

#include "kernels/cpu/activation.h"
#include "kernels/cpu/batch_norm.h"
#include "kernels/cuda/batch_norm.h"
#include "tests/cuda/gpu.h"
#include "tests/kernels/compare.h"

using namespace kern;
using gpu_test::DeviceBuffer;
using gpu_test::kTol;
using gpu_test::kTolF32;
using kern_test::random_vector;

namespace {

struct Shape {
  index_t N, C, HW;
};
// ResNet stages at batch 32 (one chunked, one not), the 7x7 head at batch 2, N = 1, odd sizes, a few
// channels of long rows (chunks end mid-row), one value per channel but two samples.
const std::vector<Shape> kShapes = {{32, 64, 56 * 56}, {2, 512, 7 * 7}, {1, 16, 28 * 28}, {3, 5, 7},
                                    {3, 2, 5000},      {2, 3, 1},       {1, 3, 2}};

template <typename T>
std::vector<T> positive(std::size_t n, unsigned seed) {
  return random_vector<T>(n, seed, 0.5, 1.5);
}

// Which optional inputs and outputs a call has, and which buffers are shared.
struct Variant {
  bool affine = true, running = true, in_place = false;
};

template <typename T>
void check_forward_train(const BatchNormParams& p, const Variant& v, double offset, unsigned seed, double tol) {
  const std::size_t n = std::size_t(p.N * p.C * p.HW), C = std::size_t(p.C);
  const auto x = random_vector<T>(n, seed, offset - 1, offset + 1);
  const auto gamma = positive<T>(C, seed + 1), beta = random_vector<T>(C, seed + 2);
  const auto rm0 = random_vector<T>(C, seed + 3), rv0 = positive<T>(C, seed + 4);

  std::vector<T> y(n), mean(C), invstd(C), rm = rm0, rv = rv0;
  batch_norm_forward_train_cpu(p, x.data(), v.affine ? gamma.data() : nullptr, v.affine ? beta.data() : nullptr,
                               y.data(), mean.data(), invstd.data(), v.running ? rm.data() : nullptr,
                               v.running ? rv.data() : nullptr);

  DeviceBuffer<T> d_x(x), d_y(n), d_gamma(gamma), d_beta(beta), d_mean(C), d_invstd(C), d_rm(rm0), d_rv(rv0);
  DeviceBuffer<double> ws(std::size_t(batch_norm_workspace_size(p)));
  T* out = v.in_place ? d_x.get() : d_y.get();
  batch_norm_forward_train_cuda(p, d_x.get(), v.affine ? d_gamma.get() : nullptr, v.affine ? d_beta.get() : nullptr,
                                out, d_mean.get(), d_invstd.get(), v.running ? d_rm.get() : nullptr,
                                v.running ? d_rv.get() : nullptr, ws.get(), nullptr);
  NN_CHECK_REL((v.in_place ? d_x : d_y).download(), y, tol);
  NN_CHECK_REL(d_mean.download(), mean, tol);
  NN_CHECK_REL(d_invstd.download(), invstd, tol);
  // Untouched when not wanted.
  NN_CHECK_REL(d_rm.download(), v.running ? rm : rm0, tol);
  NN_CHECK_REL(d_rv.download(), v.running ? rv : rv0, tol);
}

// Which gradients a backward call asks for.
struct Wanted {
  bool dx = true, dgamma = true, dbeta = true, gamma = true, in_place = false;
};
// All; dx only; dgamma and dbeta only; dbeta only; gamma null; dx == dy without dbeta.
const std::vector<Wanted> kWanted = {{},
                                     {true, false, false},
                                     {false, true, true},
                                     {false, false, true},
                                     {true, true, true, false},
                                     {true, true, false, true, true}};

// Training (stats = save_mean, save_invstd) or eval (stats = running_mean, running_var) backward.
template <typename T>
void check_backward(const BatchNormParams& p, bool train, const Wanted& w, unsigned seed) {
  const std::size_t n = std::size_t(p.N * p.C * p.HW), C = std::size_t(p.C);
  const auto x = random_vector<T>(n, seed, -2, 3), dy = random_vector<T>(n, seed + 1);
  const auto gamma = positive<T>(C, seed + 2);
  // The saved statistics come from the CPU forward, so only the backward is compared.
  std::vector<T> stat0(C), stat1(C);
  if (train) {
    std::vector<T> y(n);
    batch_norm_forward_train_cpu(p, x.data(), gamma.data(), static_cast<const T*>(nullptr), y.data(), stat0.data(),
                                 stat1.data(), static_cast<T*>(nullptr), static_cast<T*>(nullptr));
  } else {
    stat0 = random_vector<T>(C, seed + 3);
    stat1 = positive<T>(C, seed + 4);
  }
  const T* g = w.gamma ? gamma.data() : nullptr;
  std::vector<T> dx(n), dgamma(C), dbeta(C);
  T* cdx = w.dx ? dx.data() : nullptr;
  T* cdg = w.dgamma ? dgamma.data() : nullptr;
  T* cdb = w.dbeta ? dbeta.data() : nullptr;
  if (train)
    batch_norm_backward_train_cpu(p, dy.data(), x.data(), g, stat0.data(), stat1.data(), cdx, cdg, cdb);
  else
    batch_norm_backward_eval_cpu(p, dy.data(), x.data(), g, stat0.data(), stat1.data(), cdx, cdg, cdb);

  DeviceBuffer<T> d_x(x), d_dy(dy), d_gamma(gamma), d_s0(stat0), d_s1(stat1), d_dx(n), d_dgamma(C), d_dbeta(C);
  DeviceBuffer<double> ws(std::size_t(batch_norm_workspace_size(p)));
  const T* dg = w.gamma ? d_gamma.get() : nullptr;
  T* gdx = w.dx ? (w.in_place ? d_dy.get() : d_dx.get()) : nullptr;
  T* gdg = w.dgamma ? d_dgamma.get() : nullptr;
  T* gdb = w.dbeta ? d_dbeta.get() : nullptr;
  if (train)
    batch_norm_backward_train_cuda(p, d_dy.get(), d_x.get(), dg, d_s0.get(), d_s1.get(), gdx, gdg, gdb, ws.get(),
                                   nullptr);
  else
    batch_norm_backward_eval_cuda(p, d_dy.get(), d_x.get(), dg, d_s0.get(), d_s1.get(), gdx, gdg, gdb, ws.get(),
                                  nullptr);
  if (w.dx) NN_CHECK_REL((w.in_place ? d_dy : d_dx).download(), dx, kTol<T>);
  if (w.dgamma) NN_CHECK_REL(d_dgamma.download(), dgamma, kTol<T>);
  if (w.dbeta) NN_CHECK_REL(d_dbeta.download(), dbeta, kTol<T>);
}

template <typename T>
void check_forward_eval(const BatchNormParams& p, bool affine, bool in_place, unsigned seed) {
  const std::size_t n = std::size_t(p.N * p.C * p.HW), C = std::size_t(p.C);
  const auto x = random_vector<T>(n, seed, -2, 3), gamma = positive<T>(C, seed + 1);
  const auto beta = random_vector<T>(C, seed + 2), rm = random_vector<T>(C, seed + 3), rv = positive<T>(C, seed + 4);
  std::vector<T> y(n);
  const T* g = affine ? gamma.data() : nullptr;
  const T* b = affine ? beta.data() : nullptr;
  batch_norm_forward_eval_cpu(p, x.data(), g, b, rm.data(), rv.data(), y.data());
  DeviceBuffer<T> d_x(x), d_y(n), d_gamma(gamma), d_beta(beta), d_rm(rm), d_rv(rv);
  batch_norm_forward_eval_cuda(p, d_x.get(), affine ? d_gamma.get() : nullptr, affine ? d_beta.get() : nullptr,
                               d_rm.get(), d_rv.get(), in_place ? d_x.get() : d_y.get(), nullptr);
  NN_CHECK_REL((in_place ? d_x : d_y).download(), y, kTol<T>);
}

BatchNormParams params(const Shape& s) {
  BatchNormParams p;
  p.N = s.N, p.C = s.C, p.HW = s.HW;
  p.momentum = 0.3;
  return p;
}

}  // namespace

TEST_CASE_TEMPLATE("batch_norm/cuda_forward_train_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  unsigned seed = 100;
  for (const Shape& s : kShapes) {
    CAPTURE(s.N);
    CAPTURE(s.C);
    CAPTURE(s.HW);
    for (const Variant& v : {Variant{}, Variant{false, false, false}, Variant{true, true, true}}) {
      CAPTURE(v.affine);
      CAPTURE(v.running);
      CAPTURE(v.in_place);
      check_forward_train<T>(params(s), v, 0.0, seed += 10, kTol<T>);
    }
  }
}

// Values 1000 +- 1: E[x^2] - E[x]^2 would lose all of the variance's digits in f32 and half in f64.
// In f64 the CPU's own sequential sum of 1e5 values near 1000 is off by ~1e-11 of the mean, so the
// bound there is looser than kTol.
TEST_CASE_TEMPLATE("batch_norm/cuda_forward_train_large_mean", T, float, double) {
  NN_REQUIRE_GPU();
  for (const Shape& s : {Shape{32, 64, 56 * 56}, Shape{2, 512, 7 * 7}, Shape{3, 2, 5000}}) {
    CAPTURE(s.C);
    check_forward_train<T>(params(s), Variant{}, 1000.0, 7, std::is_same_v<T, double> ? 1e-9 : kTolF32);
  }
}

TEST_CASE_TEMPLATE("batch_norm/cuda_forward_eval_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  unsigned seed = 200;
  for (const Shape& s : kShapes) {
    CAPTURE(s.C);
    CAPTURE(s.HW);
    check_forward_eval<T>(params(s), true, false, seed += 10);
    check_forward_eval<T>(params(s), false, true, seed += 10);
  }
}

TEST_CASE_TEMPLATE("batch_norm/cuda_backward_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  unsigned seed = 300;
  for (const Shape& s : kShapes) {
    CAPTURE(s.N);
    CAPTURE(s.C);
    CAPTURE(s.HW);
    for (const Wanted& w : kWanted) {
      CAPTURE(w.dx);
      CAPTURE(w.dgamma);
      CAPTURE(w.dbeta);
      CAPTURE(w.gamma);
      CAPTURE(w.in_place);
      check_backward<T>(params(s), /*train=*/true, w, seed += 10);
      check_backward<T>(params(s), /*train=*/false, w, seed += 10);
    }
  }
}

// The fused forward against the CPU forward followed by the CPU activation: none, relu (without the
// pre-activation y, which relu's backward does not need), prelu with a shared and per-channel slopes,
// and y_act written over x.
TEST_CASE_TEMPLATE("batch_norm/cuda_forward_train_act_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  struct Act {
    Activation act;
    index_t slopes;
    bool want_y, in_place;
  };
  unsigned seed = 400;
  for (const Shape& s : {Shape{32, 64, 56 * 56}, Shape{2, 512, 7 * 7}, Shape{3, 5, 7}}) {
    const BatchNormParams p = params(s);
    const std::size_t n = std::size_t(p.N * p.C * p.HW), C = std::size_t(p.C);
    for (const Act& a : {Act{Activation::none, 0, true, false}, Act{Activation::relu, 0, false, false},
                         Act{Activation::relu, 0, true, true}, Act{Activation::prelu, 1, true, false},
                         Act{Activation::prelu, s.C, true, true}}) {
      CAPTURE(s.C);
      CAPTURE(int(a.act));
      CAPTURE(a.slopes);
      CAPTURE(a.want_y);
      CAPTURE(a.in_place);
      const auto x = random_vector<T>(n, seed += 10, -2, 3);
      const auto gamma = positive<T>(C, seed + 1), beta = random_vector<T>(C, seed + 2);
      const auto slope = random_vector<T>(std::size_t(a.slopes), seed + 3, 0, 0.5);
      std::vector<T> y(n), y_act(n), mean(C), invstd(C);
      batch_norm_forward_train_cpu(p, x.data(), gamma.data(), beta.data(), y.data(), mean.data(), invstd.data(),
                                   static_cast<T*>(nullptr), static_cast<T*>(nullptr));
      if (a.act == Activation::relu)
        relu_forward_cpu(index_t(n), y.data(), y_act.data());
      else if (a.act == Activation::prelu)
        prelu_forward_cpu(p.N, p.C, p.HW, a.slopes, y.data(), slope.data(), y_act.data());
      else
        y_act = y;

      DeviceBuffer<T> d_x(x), d_gamma(gamma), d_beta(beta), d_y(n), d_y_act(n), d_mean(C), d_invstd(C);
      DeviceBuffer<T> d_slope(slope);
      DeviceBuffer<double> ws(std::size_t(batch_norm_workspace_size(p)));
      T* out_act = a.in_place ? d_x.get() : d_y_act.get();
      batch_norm_forward_train_act_cuda(p, d_x.get(), d_gamma.get(), d_beta.get(), a.want_y ? d_y.get() : nullptr,
                                        d_mean.get(), d_invstd.get(), static_cast<T*>(nullptr),
                                        static_cast<T*>(nullptr), a.act, a.slopes ? d_slope.get() : nullptr,
                                        a.slopes, out_act, ws.get(), nullptr);
      NN_CHECK_REL((a.in_place ? d_x : d_y_act).download(), y_act, kTol<T>);
      if (a.want_y) NN_CHECK_REL(d_y.download(), y, kTol<T>);
      NN_CHECK_REL(d_mean.download(), mean, kTol<T>);
      NN_CHECK_REL(d_invstd.download(), invstd, kTol<T>);
    }
  }
}

// Same shape, same data: the same bits every run (the reduction tree depends on the shape only).
TEST_CASE("batch_norm/cuda_deterministic") {
  NN_REQUIRE_GPU();
  const BatchNormParams p = params({8, 8, 3000});
  const std::size_t n = std::size_t(p.N * p.C * p.HW), C = std::size_t(p.C);
  const DeviceBuffer<float> x(random_vector<float>(n, 1, 5, 6)), dy(random_vector<float>(n, 2));
  DeviceBuffer<float> y(n), mean(C), invstd(C), dx(n), dgamma(C);
  DeviceBuffer<double> ws(std::size_t(batch_norm_workspace_size(p)));
  std::vector<std::vector<float>> runs;
  for (int run = 0; run < 2; ++run) {
    batch_norm_forward_train_cuda<float>(p, x.get(), nullptr, nullptr, y.get(), mean.get(), invstd.get(), nullptr,
                                         nullptr, ws.get(), nullptr);
    batch_norm_backward_train_cuda<float>(p, dy.get(), x.get(), nullptr, mean.get(), invstd.get(), dx.get(),
                                          dgamma.get(), nullptr, ws.get(), nullptr);
    std::vector<float> all = y.download();
    for (const auto* b : {&mean, &invstd, &dx, &dgamma}) {
      const auto v = b->download();
      all.insert(all.end(), v.begin(), v.end());
    }
    runs.push_back(all);
  }
  CHECK(runs[0] == runs[1]);
}
