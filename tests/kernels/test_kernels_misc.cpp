// Tests for the non-GEMM CPU kernels (batch_norm, activations, pooling, log_softmax / cross_entropy,
// elementwise). Each kernel is checked three ways: against a naive computation written
// independently of it, by central finite differences in double (L = sum(y * dy)), and on small cases
// whose answers can be worked out by hand. Kernels that reduce are also run on 1 and 2 threads and
// must agree bit for bit.
#include <doctest/doctest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/activation.h"
#include "kernels/cpu/batch_norm.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/pool.h"
#include "kernels/cpu/softmax_loss.h"
#include "tests/kernels/compare.h"

using namespace kern;
using namespace kern_test;


// ---------------------------------------------------------------------------------------------- batch_norm

namespace {

struct NaiveBn {
  Vec y, mean, invstd, var_unbiased;
};

NaiveBn naive_bn_train(const BatchNormParams& p, const Vec& x, const Vec& gamma, const Vec& beta) {
  NaiveBn r{Vec(x.size()), Vec(p.C), Vec(p.C), Vec(p.C)};
  const double n = double(p.N * p.HW);
  for (index_t c = 0; c < p.C; ++c) {
    double s = 0, s2 = 0;
    for (index_t i = 0; i < p.N; ++i)
      for (index_t k = 0; k < p.HW; ++k) s += x[(i * p.C + c) * p.HW + k];
    r.mean[c] = s / n;
    for (index_t i = 0; i < p.N; ++i)
      for (index_t k = 0; k < p.HW; ++k) s2 += std::pow(x[(i * p.C + c) * p.HW + k] - r.mean[c], 2);
    r.invstd[c] = 1 / std::sqrt(s2 / n + p.eps);
    r.var_unbiased[c] = s2 / (n - 1);
    for (index_t i = 0; i < p.N; ++i)
      for (index_t k = 0; k < p.HW; ++k) {
        const index_t at = (i * p.C + c) * p.HW + k;
        r.y[at] = (x[at] - r.mean[c]) * r.invstd[c] * gamma[c] + beta[c];
      }
  }
  return r;
}

}  // namespace

TEST_CASE("batch_norm/forward_train_matches_naive") {
  const BatchNormParams p{.N = 3, .C = 4, .HW = 5, .eps = 1e-5, .momentum = 0.1};
  const Vec x = random_vector<double>(60, 1, -2, 3), gamma = random_vector<double>(4, 2, 0.5, 1.5), beta = random_vector<double>(4, 3);
  Vec run_mean = random_vector<double>(4, 4), run_var = random_vector<double>(4, 5, 0.5, 2);
  const Vec run_mean0 = run_mean, run_var0 = run_var;
  Vec y(60), mean(4), invstd(4);
  batch_norm_forward_train_cpu<double>(p, x.data(), gamma.data(), beta.data(), y.data(), mean.data(),
                                       invstd.data(), run_mean.data(), run_var.data());
  const NaiveBn want = naive_bn_train(p, x, gamma, beta);
  check_close(y, want.y, 1e-12);
  check_close(mean, want.mean, 1e-12);
  check_close(invstd, want.invstd, 1e-12);
  for (index_t c = 0; c < 4; ++c) {
    CHECK(run_mean[c] == doctest::Approx(0.9 * run_mean0[c] + 0.1 * want.mean[c]).epsilon(1e-12));
    CHECK(run_var[c] == doctest::Approx(0.9 * run_var0[c] + 0.1 * want.var_unbiased[c]).epsilon(1e-12));
  }

  SUBCASE("float agrees, affine off, running stats off, in place") {
    VecF xf = to_float(x), mf(4), sf(4);
    batch_norm_forward_train_cpu<float>(p, xf.data(), nullptr, nullptr, xf.data(), mf.data(), sf.data(),
                                        nullptr, nullptr);
    const NaiveBn plain = naive_bn_train(p, x, Vec(4, 1.0), Vec(4, 0.0));
    check_close(xf, plain.y, 1e-5);
    check_close(sf, plain.invstd, 1e-5);
  }
}

TEST_CASE("batch_norm/running_var_is_unbiased_by_hand") {
  // One channel holding 1, 2, 3, 4: mean 2.5, biased var 1.25, unbiased var 5/3.
  const BatchNormParams p{.N = 2, .C = 1, .HW = 2, .eps = 0, .momentum = 0.1};
  const Vec x{1, 2, 3, 4};
  Vec y(4), mean(1), invstd(1), run_mean{0}, run_var{1};
  batch_norm_forward_train_cpu<double>(p, x.data(), nullptr, nullptr, y.data(), mean.data(),
                                       invstd.data(), run_mean.data(), run_var.data());
  CHECK(mean[0] == doctest::Approx(2.5));
  CHECK(invstd[0] == doctest::Approx(1 / std::sqrt(1.25)));
  CHECK(run_mean[0] == doctest::Approx(0.25));
  CHECK(run_var[0] == doctest::Approx(0.9 + 0.1 * 5.0 / 3.0));
}

TEST_CASE("batch_norm/gradcheck_train") {
  const BatchNormParams p{.N = 2, .C = 3, .HW = 4, .eps = 1e-5, .momentum = 0.1};
  const Vec x = random_vector<double>(24, 11, -1, 2), gamma = random_vector<double>(3, 12, 0.5, 1.5), beta = random_vector<double>(3, 13);
  const Vec dy = random_vector<double>(24, 14);
  auto loss = [&](const Vec& xx, const Vec& gg, const Vec& bb) {
    Vec y(24), m(3), s(3);
    batch_norm_forward_train_cpu<double>(p, xx.data(), gg.data(), bb.data(), y.data(), m.data(), s.data(),
                                         nullptr, nullptr);
    return dot(y, dy);
  };
  Vec y(24), mean(3), invstd(3), dx(24), dgamma(3), dbeta(3);
  batch_norm_forward_train_cpu<double>(p, x.data(), gamma.data(), beta.data(), y.data(), mean.data(),
                                       invstd.data(), nullptr, nullptr);
  batch_norm_backward_train_cpu<double>(p, dy.data(), x.data(), gamma.data(), mean.data(), invstd.data(),
                                        dx.data(), dgamma.data(), dbeta.data());
  check_close(dx, numeric_grad(x, [&](const Vec& v) { return loss(v, gamma, beta); }), 1e-6);
  check_close(dgamma, numeric_grad(gamma, [&](const Vec& v) { return loss(x, v, beta); }), 1e-6);
  check_close(dbeta, numeric_grad(beta, [&](const Vec& v) { return loss(x, gamma, v); }), 1e-6);

  SUBCASE("dx in place over dy, others not wanted") {
    Vec buf = dy;
    batch_norm_backward_train_cpu<double>(p, buf.data(), x.data(), gamma.data(), mean.data(), invstd.data(),
                                          buf.data(), nullptr, nullptr);
    check_close(buf, dx, 1e-14);
  }
}

TEST_CASE("batch_norm/eval_forward_and_gradcheck") {
  const BatchNormParams p{.N = 2, .C = 3, .HW = 4, .eps = 1e-3, .momentum = 0.1};
  const Vec x = random_vector<double>(24, 21), gamma = random_vector<double>(3, 22, 0.5, 1.5), beta = random_vector<double>(3, 23);
  const Vec rm = random_vector<double>(3, 24), rv = random_vector<double>(3, 25, 0.5, 2), dy = random_vector<double>(24, 26);
  Vec y(24);
  batch_norm_forward_eval_cpu<double>(p, x.data(), gamma.data(), beta.data(), rm.data(), rv.data(), y.data());
  Vec want(24);
  for (index_t i = 0; i < 24; ++i) {
    const index_t c = (i / 4) % 3;
    want[i] = (x[i] - rm[c]) / std::sqrt(rv[c] + 1e-3) * gamma[c] + beta[c];
  }
  check_close(y, want, 1e-12);

  auto loss = [&](const Vec& xx, const Vec& gg, const Vec& bb) {
    Vec yy(24);
    batch_norm_forward_eval_cpu<double>(p, xx.data(), gg.data(), bb.data(), rm.data(), rv.data(), yy.data());
    return dot(yy, dy);
  };
  Vec dx(24), dgamma(3), dbeta(3);
  batch_norm_backward_eval_cpu<double>(p, dy.data(), x.data(), gamma.data(), rm.data(), rv.data(), dx.data(),
                                       dgamma.data(), dbeta.data());
  check_close(dx, numeric_grad(x, [&](const Vec& v) { return loss(v, gamma, beta); }), 1e-6);
  check_close(dgamma, numeric_grad(gamma, [&](const Vec& v) { return loss(x, v, beta); }), 1e-6);
  check_close(dbeta, numeric_grad(beta, [&](const Vec& v) { return loss(x, gamma, v); }), 1e-6);
}

TEST_CASE("batch_norm/thread_independent") {
  const BatchNormParams p{.N = 4, .C = 7, .HW = 33, .eps = 1e-5, .momentum = 0.1};
  const VecF x = to_float(random_vector<double>(924, 31)), dy = to_float(random_vector<double>(924, 32));
  check_thread_independent([&] {
    VecF y(924), m(7), s(7), rm(7, 0.f), rv(7, 1.f), dx(924), dg(7), db(7);
    batch_norm_forward_train_cpu<float>(p, x.data(), nullptr, nullptr, y.data(), m.data(), s.data(),
                                        rm.data(), rv.data());
    batch_norm_backward_train_cpu<float>(p, dy.data(), x.data(), nullptr, m.data(), s.data(), dx.data(),
                                         dg.data(), db.data());
    return std::vector<VecF>{y, m, s, rm, rv, dx, dg, db};
  });
}

// ---------------------------------------------------------------------------------------------- activations

TEST_CASE("relu/forward_backward") {
  const Vec x{-2, -0.0, 0, 0.5, 3, kNaN};
  Vec y(6), dx(6);
  relu_forward_cpu<double>(6, x.data(), y.data());
  CHECK(y[0] == 0);
  CHECK(y[2] == 0);
  CHECK(y[3] == 0.5);
  CHECK(y[4] == 3);
  CHECK(std::isnan(y[5]));
  const Vec dy{1, 2, 3, 4, 5, 6};
  relu_backward_cpu<double>(6, dy.data(), y.data(), dx.data());
  // The gradient at 0 is 0, as PyTorch's threshold_backward gives.
  CHECK(dx == Vec{0, 0, 0, 4, 5, 0});
}

TEST_CASE("sigmoid/forward_matches_naive_and_saturates") {
  const Vec x = random_vector<double>(50, 41, -8, 8);
  Vec y(50);
  sigmoid_forward_cpu<double>(50, x.data(), y.data());
  Vec want(50);
  for (int i = 0; i < 50; ++i) want[i] = 1 / (1 + std::exp(-x[i]));
  check_close(y, want, 1e-14);

  const VecF big{-1000.f, 1000.f, 0.f};
  VecF yb(3);
  sigmoid_forward_cpu<float>(3, big.data(), yb.data());
  CHECK(yb[0] == 0.f);
  CHECK(yb[1] == 1.f);
  CHECK(yb[2] == 0.5f);
}

TEST_CASE("sigmoid/gradcheck") {
  const Vec x = random_vector<double>(20, 42, -4, 4), dy = random_vector<double>(20, 43);
  Vec y(20), dx(20);
  sigmoid_forward_cpu<double>(20, x.data(), y.data());
  sigmoid_backward_cpu<double>(20, dy.data(), y.data(), dx.data());
  check_close(dx, numeric_grad(x, [&](const Vec& v) {
                Vec yy(20);
                sigmoid_forward_cpu<double>(20, v.data(), yy.data());
                return dot(yy, dy);
              }),
              1e-7);
}

TEST_CASE("prelu/forward_and_gradcheck") {
  const index_t N = 2, C = 3, HW = 5;
  const Vec x = random_away_from_zero(30, 51), dy = random_vector<double>(30, 52);
  for (index_t num_weights : {C, index_t(1)}) {
    CAPTURE(num_weights);
    const Vec w = random_vector<double>(std::size_t(num_weights), 53, 0.05, 0.5);
    Vec y(30), dx(30), dw(static_cast<std::size_t>(num_weights));
    prelu_forward_cpu(N, C, HW, num_weights, x.data(), w.data(), y.data());
    for (index_t i = 0; i < 30; ++i) {
      const double a = w[num_weights == 1 ? 0 : (i / HW) % C];
      CHECK(y[i] == (x[i] > 0 ? x[i] : a * x[i]));
    }
    prelu_backward_cpu(N, C, HW, num_weights, dy.data(), x.data(), w.data(), dx.data(), dw.data());
    auto loss = [&](const Vec& xx, const Vec& ww) {
      Vec yy(30);
      prelu_forward_cpu(N, C, HW, num_weights, xx.data(), ww.data(), yy.data());
      return dot(yy, dy);
    };
    check_close(dx, numeric_grad(x, [&](const Vec& v) { return loss(v, w); }), 1e-7);
    check_close(dw, numeric_grad(w, [&](const Vec& v) { return loss(x, v); }), 1e-7);
  }
}

TEST_CASE("prelu/shared_slope_dweight_thread_independent") {
  const index_t N = 8, C = 16, HW = 400;  // above the parallel threshold
  const VecF x = to_float(random_vector<double>(N * C * HW, 54)), dy = to_float(random_vector<double>(N * C * HW, 55));
  const VecF w{0.25f};
  check_thread_independent([&] {
    VecF dw(1), dx(x.size());
    prelu_backward_cpu<float>(N, C, HW, 1, dy.data(), x.data(), w.data(), dx.data(), dw.data());
    return std::vector<VecF>{dw, dx};
  });
}

// ---------------------------------------------------------------------------------------------- pooling

namespace {

// Reference max/avg pooling over an explicitly padded plane (pad = -inf for max, 0 for avg).
void naive_pool(const Pool2dParams& p, const Vec& x, bool is_max, Vec& y, std::vector<std::int64_t>& idx) {
  const index_t Hp = p.H + 2 * p.pad_h, Wp = p.W + 2 * p.pad_w, P = p.P(), Q = p.Q();
  y.assign(std::size_t(p.N * p.C * P * Q), 0);
  idx.assign(y.size(), -1);
  for (index_t plane = 0; plane < p.N * p.C; ++plane) {
    Vec padded(std::size_t(Hp * Wp), is_max ? -INFINITY : 0.0);
    for (index_t h = 0; h < p.H; ++h)
      for (index_t w = 0; w < p.W; ++w)
        padded[(h + p.pad_h) * Wp + w + p.pad_w] = x[plane * p.H * p.W + h * p.W + w];
    for (index_t oh = 0; oh < P; ++oh)
      for (index_t ow = 0; ow < Q; ++ow) {
        double best = -INFINITY, sum = 0;
        index_t best_at = -1, count_real = 0;
        for (index_t r = 0; r < p.kernel_h; ++r)
          for (index_t s = 0; s < p.kernel_w; ++s) {
            const index_t hp = oh * p.stride_h + r, wp = ow * p.stride_w + s;
            const index_t h = hp - p.pad_h, w = wp - p.pad_w;
            const bool real = h >= 0 && h < p.H && w >= 0 && w < p.W;
            sum += padded[hp * Wp + wp];
            count_real += real;
            if (real && (best_at < 0 || padded[hp * Wp + wp] > best)) {
              best = padded[hp * Wp + wp];
              best_at = h * p.W + w;
            }
          }
        const index_t o = plane * P * Q + oh * Q + ow;
        y[o] = is_max ? best : sum / double(p.count_include_pad ? p.kernel_h * p.kernel_w : count_real);
        idx[o] = best_at;
      }
  }
}

std::vector<Pool2dParams> pool_grid() {
  std::vector<Pool2dParams> grid;
  for (index_t k : {1, 2, 3})
    for (index_t s : {1, 2})
      for (index_t pad = 0; pad <= k / 2; ++pad)
        for (bool cip : {true, false})
          grid.push_back({.N = 2, .C = 2, .H = 7, .W = 6, .kernel_h = k, .kernel_w = k, .stride_h = s,
                          .stride_w = s, .pad_h = pad, .pad_w = pad, .count_include_pad = cip});
  grid.push_back({.N = 1, .C = 1, .H = 5, .W = 8, .kernel_h = 3, .kernel_w = 2, .stride_h = 2, .stride_w = 3,
                  .pad_h = 1, .pad_w = 1, .count_include_pad = false});
  return grid;
}

// Distinct values, well separated, so max-pool has no ties and finite differences cross no kink.
Vec distinct_values(std::size_t n, std::uint32_t seed) {
  Vec v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = 0.01 * double(i) - 0.3;
  std::shuffle(v.begin(), v.end(), std::mt19937(seed));
  return v;
}

}  // namespace

TEST_CASE("max_pool2d/matches_naive_and_gradcheck") {
  for (const Pool2dParams& p : pool_grid()) {
    CAPTURE(p.kernel_h);
    CAPTURE(p.stride_h);
    CAPTURE(p.pad_h);
    const std::size_t nx = std::size_t(p.N * p.C * p.H * p.W), ny = std::size_t(p.N * p.C * p.P() * p.Q());
    const Vec x = distinct_values(nx, 61), dy = random_vector<double>(ny, 62);
    Vec y(ny), want;
    std::vector<std::int64_t> idx(ny), want_idx;
    max_pool2d_forward_cpu(p, x.data(), y.data(), idx.data());
    naive_pool(p, x, true, want, want_idx);
    CHECK(y == want);
    CHECK(idx == want_idx);

    Vec dx(nx);
    max_pool2d_backward_cpu(p, dy.data(), idx.data(), dx.data());
    check_close(dx, numeric_grad(x, [&](const Vec& v) {
                  Vec yy(ny);
                  max_pool2d_forward_cpu(p, v.data(), yy.data(), (std::int64_t*)nullptr);
                  return dot(yy, dy);
                }, 1e-4),
                1e-8);
  }
}

TEST_CASE("max_pool2d/ties_pick_first_in_scan_order") {
  // 4x4 plane of equal values, kernel 3 stride 1 pad 1: each window's first real element wins.
  const Pool2dParams p{.N = 1, .C = 1, .H = 4, .W = 4, .kernel_h = 3, .kernel_w = 3, .stride_h = 1,
                       .stride_w = 1, .pad_h = 1, .pad_w = 1};
  const Vec x(16, 1.0);
  Vec y(16);
  std::vector<std::int64_t> idx(16);
  max_pool2d_forward_cpu(p, x.data(), y.data(), idx.data());
  const std::vector<std::int64_t> want{0, 0, 1, 2, 0, 0, 1, 2, 4, 4, 5, 6, 8, 8, 9, 10};
  CHECK(idx == want);
  CHECK(y == Vec(16, 1.0));

  // Overlapping windows all pointing at element 0 add their gradients there.
  const Vec dy(16, 1.0);
  Vec dx(16);
  max_pool2d_backward_cpu(p, dy.data(), idx.data(), dx.data());
  CHECK(dx[0] == 4);
  CHECK(dx[1] == 2);
  CHECK(dx[3] == 0);
}

TEST_CASE("max_pool2d/kernel1_stride2_subsamples_and_nan_propagates") {
  const Pool2dParams p{.N = 1, .C = 1, .H = 3, .W = 4, .kernel_h = 1, .kernel_w = 1, .stride_h = 2,
                       .stride_w = 2};
  Vec x(12);
  for (int i = 0; i < 12; ++i) x[i] = i;
  Vec y(4);
  std::vector<std::int64_t> idx(4);
  max_pool2d_forward_cpu(p, x.data(), y.data(), idx.data());
  CHECK(y == Vec{0, 2, 8, 10});
  CHECK(idx == std::vector<std::int64_t>{0, 2, 8, 10});

  const Pool2dParams q{.N = 1, .C = 1, .H = 2, .W = 2, .kernel_h = 2, .kernel_w = 2, .stride_h = 2,
                       .stride_w = 2};
  const Vec xn{1, kNaN, 5, 2};
  Vec yn(1);
  std::vector<std::int64_t> in(1);
  max_pool2d_forward_cpu(q, xn.data(), yn.data(), in.data());
  CHECK(std::isnan(yn[0]));
  CHECK(in[0] == 1);
}

TEST_CASE("max_pool2d/2x2_fast_path_ties_and_nan") {
  // The 2x2 stride-2 path: equal maxima give the first in scan order, a NaN anywhere wins (the first
  // NaN), and an odd last row / column is dropped (floor mode).
  const Pool2dParams p{.N = 1, .C = 1, .H = 3, .W = 5, .kernel_h = 2, .kernel_w = 2, .stride_h = 2,
                       .stride_w = 2};
  const Vec x{1, 3, 2, 2, 9,  //
              3, 0, 2, 2, 9,  //
              9, 9, 9, 9, 9};
  Vec y(2);
  std::vector<std::int64_t> idx(2);
  max_pool2d_forward_cpu(p, x.data(), y.data(), idx.data());
  CHECK(y == Vec{3, 2});
  CHECK(idx == std::vector<std::int64_t>{1, 2});
  Vec xn = x;
  xn[6] = kNaN;
  xn[7] = kNaN;
  xn[8] = 7;
  max_pool2d_forward_cpu(p, xn.data(), y.data(), idx.data());
  CHECK(std::isnan(y[0]));
  CHECK(idx[0] == 6);
  CHECK(std::isnan(y[1]));
  CHECK(idx[1] == 7);
}

TEST_CASE("avg_pool2d/matches_naive_and_gradcheck") {
  for (const Pool2dParams& p : pool_grid()) {
    CAPTURE(p.kernel_h);
    CAPTURE(p.stride_h);
    CAPTURE(p.pad_h);
    CAPTURE(p.count_include_pad);
    const std::size_t nx = std::size_t(p.N * p.C * p.H * p.W), ny = std::size_t(p.N * p.C * p.P() * p.Q());
    const Vec x = random_vector<double>(nx, 71), dy = random_vector<double>(ny, 72);
    Vec y(ny), want;
    std::vector<std::int64_t> unused;
    avg_pool2d_forward_cpu(p, x.data(), y.data());
    naive_pool(p, x, false, want, unused);
    check_close(y, want, 1e-13);

    Vec dx(nx);
    avg_pool2d_backward_cpu(p, dy.data(), dx.data());
    check_close(dx, numeric_grad(x, [&](const Vec& v) {
                  Vec yy(ny);
                  avg_pool2d_forward_cpu(p, v.data(), yy.data());
                  return dot(yy, dy);
                }),
                1e-7);
  }
}

TEST_CASE("avg_pool2d/padding_divisor_by_hand") {
  // 2x2 ones, kernel 2 stride 1 pad 1 -> 3x3 windows; the corner window holds one real element.
  for (bool cip : {true, false}) {
    const Pool2dParams p{.N = 1, .C = 1, .H = 2, .W = 2, .kernel_h = 2, .kernel_w = 2, .stride_h = 1,
                         .stride_w = 1, .pad_h = 1, .pad_w = 1, .count_include_pad = cip};
    const Vec x(4, 1.0);
    Vec y(9);
    avg_pool2d_forward_cpu(p, x.data(), y.data());
    CHECK(y[0] == (cip ? 0.25 : 1.0));
    CHECK(y[1] == (cip ? 0.5 : 1.0));
    CHECK(y[4] == 1.0);
  }
}

TEST_CASE("global_pool/avg_and_max") {
  const index_t planes = 6, HW = 10;
  const Vec x = distinct_values(60, 81), dy = random_vector<double>(6, 82);
  Vec ya(6), ym(6);
  std::vector<std::int64_t> idx(6);
  global_avg_pool_forward_cpu(planes, HW, x.data(), ya.data());
  global_max_pool_forward_cpu(planes, HW, x.data(), ym.data(), idx.data());
  for (index_t i = 0; i < planes; ++i) {
    double s = 0, m = -INFINITY;
    index_t at = 0;
    for (index_t k = 0; k < HW; ++k) {
      s += x[i * HW + k];
      if (x[i * HW + k] > m) m = x[i * HW + k], at = k;
    }
    CHECK(ya[i] == doctest::Approx(s / HW).epsilon(1e-14));
    CHECK(ym[i] == m);
    CHECK(idx[i] == at);
  }
  Vec dxa(60), dxm(60);
  global_avg_pool_backward_cpu(planes, HW, dy.data(), dxa.data());
  global_max_pool_backward_cpu(planes, HW, dy.data(), idx.data(), dxm.data());
  check_close(dxa, numeric_grad(x, [&](const Vec& v) {
                Vec yy(6);
                global_avg_pool_forward_cpu(planes, HW, v.data(), yy.data());
                return dot(yy, dy);
              }),
              1e-7);
  check_close(dxm, numeric_grad(x, [&](const Vec& v) {
                Vec yy(6);
                global_max_pool_forward_cpu(planes, HW, v.data(), yy.data(), (std::int64_t*)nullptr);
                return dot(yy, dy);
              }, 1e-4),
              1e-8);

  const Vec ties{3, 1, 3, 3};
  Vec yt(1);
  std::vector<std::int64_t> it(1);
  global_max_pool_forward_cpu<double>(1, 4, ties.data(), yt.data(), it.data());
  CHECK(it[0] == 0);
}

// ------------------------------------------------------------------------------------------ softmax, loss

TEST_CASE("log_softmax/matches_naive_and_gradcheck") {
  const index_t N = 4, C = 7;
  Vec x = random_vector<double>(28, 91, -5, 5);
  x[3] = 800;  // a naive exp would overflow; the max shift must not
  const Vec dy = random_vector<double>(28, 92);
  Vec y(28), dx(28);
  log_softmax_forward_cpu(N, C, x.data(), y.data());
  for (index_t i = 1; i < N; ++i) {
    double s = 0;
    for (index_t c = 0; c < C; ++c) s += std::exp(x[i * C + c]);
    for (index_t c = 0; c < C; ++c)
      CHECK(y[i * C + c] == doctest::Approx(std::log(std::exp(x[i * C + c]) / s)));
  }
  CHECK(y[3] == doctest::Approx(0.0));
  log_softmax_backward_cpu(N, C, dy.data(), y.data(), dx.data());
  check_close(dx, numeric_grad(x, [&](const Vec& v) {
                Vec yy(28);
                log_softmax_forward_cpu(N, C, v.data(), yy.data());
                return dot(yy, dy);
              }),
              1e-6);
}

namespace {

// Cross-entropy written against the smoothed target distribution q = (1 - ls) * onehot + ls / C,
// per-class weighted and normalised by the weight of the targets. A separate script checked this form
// against torch.nn.functional.cross_entropy(weight=..., label_smoothing=..., ignore_index=...).
double naive_cross_entropy(const CrossEntropyParams& p, const Vec& logp, const std::vector<std::int64_t>& t,
                           const Vec& w) {
  double num = 0, den = 0;
  for (index_t i = 0; i < p.N; ++i) {
    if (t[i] == p.ignore_index) continue;
    const double wt = p.has_weight ? w[t[i]] : 1;
    den += wt;
    for (index_t c = 0; c < p.C; ++c) {
      const double q = (c == t[i] ? 1 - p.label_smoothing : 0) + p.label_smoothing / double(p.C);
      num -= (p.has_weight ? w[c] : 1) * q * logp[i * p.C + c];
    }
  }
  return num / den;
}

}  // namespace

TEST_CASE("cross_entropy/matches_naive_and_gradcheck") {
  const index_t N = 5, C = 4;
  Vec logp(20);
  log_softmax_forward_cpu(N, C, random_vector<double>(20, 101, -2, 2).data(), logp.data());
  const Vec w = random_vector<double>(4, 102, 0.5, 1.5);
  const std::vector<std::int64_t> target{0, 3, 1, -100, 3};
  for (bool has_weight : {false, true})
    for (double ls : {0.0, 0.2}) {
      CAPTURE(has_weight);
      CAPTURE(ls);
      const CrossEntropyParams p{.N = N, .C = C, .label_smoothing = ls, .has_weight = has_weight};
      double loss = 0;
      cross_entropy_forward_cpu(p, logp.data(), target.data(), has_weight ? w.data() : nullptr, &loss);
      CHECK(loss == doctest::Approx(naive_cross_entropy(p, logp, target, w)).epsilon(1e-13));

      const double dloss = 1.7;
      Vec dlogp(20);
      cross_entropy_backward_cpu(p, logp.data(), target.data(), has_weight ? w.data() : nullptr, &dloss,
                                 dlogp.data());
      check_close(dlogp, numeric_grad(logp, [&](const Vec& v) {
                    double l = 0;
                    cross_entropy_forward_cpu(p, v.data(), target.data(),
                                              has_weight ? w.data() : nullptr, &l);
                    return dloss * l;
                  }),
                  1e-7);
      for (index_t c = 0; c < C; ++c) CHECK(dlogp[3 * C + c] == 0);  // the ignored row
    }
}

TEST_CASE("cross_entropy/by_hand") {
  // Uniform log-probs over 2 classes: every formulation gives log 2.
  const CrossEntropyParams p{.N = 3, .C = 2, .label_smoothing = 0.3};
  const Vec logp(6, std::log(0.5));
  const std::vector<std::int64_t> t{0, 1, 1};
  double loss = 0;
  cross_entropy_forward_cpu(p, logp.data(), t.data(), (const double*)nullptr, &loss);
  CHECK(loss == doctest::Approx(std::log(2.0)));

  // All rows ignored: 0 / 0, as PyTorch.
  const std::vector<std::int64_t> none{-100, -100, -100};
  cross_entropy_forward_cpu(p, logp.data(), none.data(), (const double*)nullptr, &loss);
  CHECK(std::isnan(loss));
}

// ---------------------------------------------------------------------------------------------- elementwise

TEST_CASE("elementwise/arithmetic") {
  const Vec a{1, 2, 3}, b{4, -5, 0.5};
  Vec y(3);
  add_cpu<double>(3, a.data(), b.data(), y.data());
  CHECK(y == Vec{5, -3, 3.5});
  sub_cpu<double>(3, a.data(), b.data(), y.data());
  CHECK(y == Vec{-3, 7, 2.5});
  mul_cpu<double>(3, a.data(), b.data(), y.data());
  CHECK(y == Vec{4, -10, 1.5});
  mul_scalar_cpu<double>(3, a.data(), 2.0, y.data());
  CHECK(y == Vec{2, 4, 6});
  add_scalar_cpu<double>(3, a.data(), -1.0, y.data());
  CHECK(y == Vec{0, 1, 2});
  fill_cpu<double>(3, 7.0, y.data());
  CHECK(y == Vec{7, 7, 7});
  copy_cpu<double>(3, a.data(), y.data());
  CHECK(y == a);
  axpy_cpu<double>(3, 0.5, b.data(), y.data());
  CHECK(y == Vec{3, -0.5, 3.25});
  add_cpu<double>(3, y.data(), y.data(), y.data());  // in place
  CHECK(y == Vec{6, -1, 6.5});
}

TEST_CASE("channel_mul/forward_and_gradcheck") {
  const index_t N = 2, C = 3, HW = 4;
  const Vec x = random_vector<double>(24, 111), s = random_vector<double>(6, 112), dy = random_vector<double>(24, 113);
  Vec y(24), dx(24), ds(6);
  channel_mul_forward_cpu(N, C, HW, x.data(), s.data(), y.data());
  for (index_t i = 0; i < 24; ++i) CHECK(y[i] == x[i] * s[i / HW]);
  channel_mul_backward_cpu(N, C, HW, dy.data(), x.data(), s.data(), dx.data(), ds.data());
  auto loss = [&](const Vec& xx, const Vec& ss) {
    Vec yy(24);
    channel_mul_forward_cpu(N, C, HW, xx.data(), ss.data(), yy.data());
    return dot(yy, dy);
  };
  check_close(dx, numeric_grad(x, [&](const Vec& v) { return loss(v, s); }), 1e-8);
  check_close(ds, numeric_grad(s, [&](const Vec& v) { return loss(x, v); }), 1e-8);
}

TEST_CASE("l2_normalize/forward_and_gradcheck") {
  const index_t N = 3, D = 5;
  Vec x = random_vector<double>(15, 121), dy = random_vector<double>(15, 122);
  Vec y(15), norm(3), dx(15);
  l2_normalize_forward_cpu(N, D, x.data(), y.data(), norm.data());
  for (index_t i = 0; i < N; ++i) {
    double ss = 0;
    for (index_t j = 0; j < D; ++j) ss += y[i * D + j] * y[i * D + j];
    CHECK(ss == doctest::Approx(1.0).epsilon(1e-14));
    CHECK(y[i * D] == doctest::Approx(x[i * D] / norm[i]));
  }
  l2_normalize_backward_cpu(N, D, dy.data(), x.data(), norm.data(), dx.data());
  check_close(dx, numeric_grad(x, [&](const Vec& v) {
                Vec yy(15);
                l2_normalize_forward_cpu(N, D, v.data(), yy.data(), (double*)nullptr);
                return dot(yy, dy);
              }),
              1e-7);

  SUBCASE("a zero row stays zero; below eps the denominator is the constant eps") {
    const Vec z(4, 0.0), dz{1, 2, 3, 4};
    Vec yz(4, 9.0), nz(1), dxz(4);
    l2_normalize_forward_cpu<double>(1, 4, z.data(), yz.data(), nz.data(), 0.5);
    CHECK(yz == Vec(4, 0.0));
    l2_normalize_backward_cpu<double>(1, 4, dz.data(), z.data(), nz.data(), dxz.data(), 0.5);
    CHECK(dxz == Vec{2, 4, 6, 8});
  }
}

TEST_CASE("dropout/mask_and_scale") {
  const VecF x{1, 2, 3, 4};
  const std::vector<std::uint8_t> mask{1, 0, 1, 0};
  VecF y(4), dx(4);
  dropout_forward_cpu<float>(4, 0.2, x.data(), mask.data(), y.data());
  const float scale = 1.f / float(1 - 0.2);
  CHECK(y == VecF{1 * scale, 0, 3 * scale, 0});
  dropout_backward_cpu<float>(4, 0.2, x.data(), mask.data(), dx.data());
  CHECK(dx == y);
  dropout_forward_cpu<float>(4, 1.0, x.data(), std::vector<std::uint8_t>(4, 0).data(), y.data());
  CHECK(y == VecF(4, 0.f));
}

TEST_CASE("reductions/sum_and_sum_squares") {
  const std::size_t n = 100003;  // not a multiple of the block size, above the parallel threshold
  const Vec x = random_vector<double>(n, 131);
  long double s = 0, s2 = 0;
  for (double v : x) s += v, s2 += (long double)v * v;
  double got = 0, got2 = 0;
  sum_cpu(index_t(n), x.data(), &got);
  sum_squares_cpu(index_t(n), x.data(), &got2);
  CHECK(got == doctest::Approx(double(s)).epsilon(1e-12));
  CHECK(got2 == doctest::Approx(double(s2)).epsilon(1e-12));
  double empty = 5;
  sum_cpu<double>(0, nullptr, &empty);
  CHECK(empty == 0);

  const VecF xf = to_float(x);
  check_thread_independent([&] {
    float a = 0, b = 0;
    sum_cpu(index_t(n), xf.data(), &a);
    sum_squares_cpu(index_t(n), xf.data(), &b);
    return std::vector<float>{a, b};
  });
}
