// kern::cu::FastDiv (kernels/cuda/fast_div.h): the CUDA gathers' division by multiply-high, checked on
// the CPU, which runs the same code: every divisor up to 4096 over a sweep of dividends, the dividends
// next to each quotient step and next to 2^31, and large divisors.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "kernels/cuda/fast_div.h"

using kern::cu::FastDiv;

namespace {
bool agrees(const FastDiv& f, int n) {
  int q = -1;
  const int r = f.divmod(n, q);
  return q == n / f.divisor() && r == n % f.divisor();
}
}  // namespace

TEST_CASE("kernels/fast_div_matches_division") {
  constexpr int kMax = 0x7fffffff;
  std::vector<int> divisors;
  for (int d = 1; d <= 4096; ++d) divisors.push_back(d);
  for (const int d : {65535, 65536, 65537, 100000, 1 << 20, (1 << 20) + 1, 12345678, (1 << 30) - 1, 1 << 30,
                      (1 << 30) + 1, kMax - 1, kMax})
    divisors.push_back(d);
  for (const int d : divisors) {
    const FastDiv f(d);
    bool ok = true;
    for (int n = 0; n < 3 * 4096; ++n) ok = ok && agrees(f, n);
    for (std::int64_t n = 1; n < kMax; n = n * 3 + 7) ok = ok && agrees(f, static_cast<int>(n));
    // Around quotient steps near the top of the range, where the rounding error of the multiplier is largest.
    for (std::int64_t step = kMax / d; step > kMax / d - 4 && step >= 0; --step)
      for (std::int64_t n = step * d - 2; n <= step * d + 2; ++n)
        if (n >= 0 && n <= kMax) ok = ok && agrees(f, static_cast<int>(n));
    for (int n = kMax; n > kMax - 64; --n) ok = ok && agrees(f, n);
    CAPTURE(d);
    CHECK(ok);
  }
}
