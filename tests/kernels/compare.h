// Shared by the kernel tests: seeded random data and an error check scaled by the size of the terms, so
// a tolerance means "within a few roundings per summand" rather than a magic absolute number.
#pragma once

#include <doctest/doctest.h>

#include <omp.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <cstddef>
#include <limits>
#include <random>
#include <vector>

namespace kern_test {

template <typename T>
std::vector<T> random_vector(std::size_t n, unsigned seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<T> v(n);
  for (auto& e : v) e = T(dist(gen));
  return v;
}

// n NaNs: an output buffer that an "assigned, not accumulated" kernel must overwrite entirely.
template <typename T>
std::vector<T> poisoned(std::int64_t n) {
  return std::vector<T>(std::size_t(n), std::numeric_limits<T>::quiet_NaN());
}

template <typename T>
std::vector<T> abs_of(const std::vector<T>& v) {
  std::vector<T> a(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) a[i] = std::abs(v[i]);
  return a;
}

// |got - want| <= 4 * (terms + 2) * eps * mag elementwise, mag being the same computation on |inputs|
// (the classic gamma_n bound for a sum of `terms` products). Reports the first failing index only.
template <typename T>
void check_close(const std::vector<T>& got, const std::vector<T>& want, const std::vector<T>& mag,
                 double terms) {
  REQUIRE(got.size() == want.size());
  const double eps = std::numeric_limits<T>::epsilon();
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double tol = 4.0 * (terms + 2.0) * eps * double(mag[i]) + 1e-30;
    const double err = std::abs(double(got[i]) - double(want[i]));
    if (!(err <= tol)) {  // also catches NaN
      INFO("index " << i << ": got " << got[i] << ", want " << want[i] << ", tol " << tol);
      CHECK(err <= tol);
      return;
    }
  }
}

// ---- for the element-wise kernels: double vectors, finite differences, thread independence

using Vec = std::vector<double>;
using VecF = std::vector<float>;

// Values bounded away from 0, so kinked functions (relu, prelu) are smooth within the FD step.
inline Vec random_away_from_zero(std::size_t n, std::uint32_t seed) {
  Vec v = random_vector<double>(n, seed, 0.1, 1.0);
  std::mt19937 gen(seed + 7);
  for (auto& e : v)
    if (gen() & 1) e = -e;
  return v;
}

inline VecF to_float(const Vec& v) { return VecF(v.begin(), v.end()); }

inline void check_close(const Vec& got, const Vec& want, double tol) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("index " << i << ": got " << got[i] << ", want " << want[i]);
    CHECK(std::abs(got[i] - want[i]) <= tol * (1 + std::abs(want[i])));
  }
}

inline void check_close(const VecF& got, const Vec& want, double tol) {
  check_close(Vec(got.begin(), got.end()), want, tol);
}

// Central-difference gradient of the scalar loss(x) with respect to x.
inline Vec numeric_grad(Vec x, const std::function<double(const Vec&)>& loss, double h = 1e-6) {
  Vec g(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double keep = x[i];
    x[i] = keep + h;
    const double up = loss(x);
    x[i] = keep - h;
    const double down = loss(x);
    x[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

inline double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Runs f on one thread and then on two; f returns what must be identical.
template <typename F>
void check_thread_independent(F f) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto one = f();
  omp_set_num_threads(2);
  const auto two = f();
  omp_set_num_threads(saved);
  CHECK(one == two);
}

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace kern_test
