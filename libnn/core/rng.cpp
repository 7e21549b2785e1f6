#include "libnn/core/rng.h"

#include <cmath>
#include <numbers>

namespace nn {

std::array<std::uint32_t, 4> Generator::block(std::uint64_t counter) const {
  constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr std::uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  std::uint32_t c0 = static_cast<std::uint32_t>(counter), c1 = static_cast<std::uint32_t>(counter >> 32);
  std::uint32_t c2 = 0, c3 = 0;
  std::uint32_t k0 = static_cast<std::uint32_t>(seed_), k1 = static_cast<std::uint32_t>(seed_ >> 32);
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = static_cast<std::uint64_t>(kM0) * c0;
    const std::uint64_t p1 = static_cast<std::uint64_t>(kM1) * c2;
    const std::uint32_t n0 = static_cast<std::uint32_t>(p1 >> 32) ^ c1 ^ k0;
    const std::uint32_t n1 = static_cast<std::uint32_t>(p1);
    const std::uint32_t n2 = static_cast<std::uint32_t>(p0 >> 32) ^ c3 ^ k1;
    const std::uint32_t n3 = static_cast<std::uint32_t>(p0);
    c0 = n0, c1 = n1, c2 = n2, c3 = n3;
    k0 += kW0, k1 += kW1;
  }
  return {c0, c1, c2, c3};
}

Generator& default_generator() {
  static Generator gen(0);
  return gen;
}

void manual_seed(std::uint64_t seed) { default_generator().set_state(seed, 0); }

template <typename T>
void fill_uniform(T* out, std::int64_t n, double lo, double hi, const Generator& gen, std::uint64_t base) {
  for_each_unit(n, gen, base, [&](std::int64_t i, double u) { out[i] = static_cast<T>(lo + (hi - lo) * u); });
}

template <typename T>
void fill_normal(T* out, std::int64_t n, double mean, double stddev, const Generator& gen, std::uint64_t base) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (std::int64_t b = 0; b < (n + 3) / 4; ++b) {
    const auto words = gen.block(base + static_cast<std::uint64_t>(b));
    for (std::int64_t pair = 0; pair < 2; ++pair) {  // both Box-Muller outputs: 4 normals per block
      const double u1 = Generator::to_unit(words[2 * pair]), u2 = Generator::to_unit(words[2 * pair + 1]);
      const double r = std::sqrt(-2.0 * std::log(u1)), theta = 2.0 * std::numbers::pi * u2;
      const std::int64_t i = b * 4 + pair * 2;
      if (i < n) out[i] = static_cast<T>(mean + stddev * r * std::cos(theta));
      if (i + 1 < n) out[i + 1] = static_cast<T>(mean + stddev * r * std::sin(theta));
    }
  }
}

template void fill_uniform<float>(float*, std::int64_t, double, double, const Generator&, std::uint64_t);
template void fill_uniform<double>(double*, std::int64_t, double, double, const Generator&, std::uint64_t);
template void fill_normal<float>(float*, std::int64_t, double, double, const Generator&, std::uint64_t);
template void fill_normal<double>(double*, std::int64_t, double, double, const Generator&, std::uint64_t);

}  // namespace nn
