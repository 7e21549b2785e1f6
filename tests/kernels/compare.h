// Shared by the kernel tests: seeded random data and an error check scaled by the size of the terms, so
// a tolerance means "within a few roundings per summand" rather than a magic absolute number.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <vector>

namespace kern_test {

template <typename T>
std::vector<T> random_vector(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<T> v(n);
  for (auto& e : v) e = T(dist(gen));
  return v;
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

}  // namespace kern_test
