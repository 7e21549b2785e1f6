// Shared by the tests that hold a CUDA kernel next to its CPU twin (kernels/cpu is the spec): the sizes
// every pointwise kernel runs, and the two comparisons, exact (for kernels whose every operation is one
// IEEE rounding in the same order on both sides) and relative L2 (for those that call exp or sum in
// another order), both demanding NaN and infinity in exactly the CPU's places.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "kernels/params.h"
#include "tests/cuda/gpu.h"
#include "tests/kernels/compare.h"

namespace gpu_test {

using kern::index_t;

// One element, odd, a multiple of the vector width, one off a block of 256 either way, and over 1e6.
inline const std::vector<index_t> kSizes = {1, 3, 4, 7, 255, 256, 257, 1001, 4099, 1048579};

template <typename T>
bool same_value(T a, T b) {
  return a == b || (std::isnan(double(a)) && std::isnan(double(b)));
}

// Equal element by element (NaN == NaN; +0 == -0). Reports the first difference.
template <typename T>
void check_same(const std::vector<T>& got, const std::vector<T>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!same_value(got[i], want[i])) {
      INFO("index " << i << " of " << got.size() << ": got " << double(got[i]) << ", want " << double(want[i]));
      CHECK(same_value(got[i], want[i]));
      return;
    }
  }
}

// NaN and +-inf exactly where want has them; relative L2 error <= tol over the finite rest.
template <typename G, typename W>
void check_matches(const std::vector<G>& got, const std::vector<W>& want, double tol) {
  REQUIRE(got.size() == want.size());
  std::vector<double> got_finite, want_finite;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = double(got[i]), w = double(want[i]);
    if (std::isfinite(w)) {
      got_finite.push_back(g);
      want_finite.push_back(w);
    } else if (!same_value(g, w)) {
      INFO("index " << i << ": got " << g << ", want " << w);
      CHECK(same_value(g, w));
      return;
    }
  }
  NN_CHECK_REL(got_finite, want_finite, tol);
}

}  // namespace gpu_test
