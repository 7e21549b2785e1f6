// Random numbers: Philox4x32-10, a counter-based generator. Element i of a random fill is a pure
// function of (seed, offset, i), so results do not depend on thread count or iteration order, and a
// generator's whole state is two integers (easy to checkpoint and resume).
#pragma once

#include <array>
#include <cstdint>

namespace nn {

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0) : seed_(seed) {}

  std::uint64_t seed() const { return seed_; }
  std::uint64_t offset() const { return offset_; }
  void set_state(std::uint64_t seed, std::uint64_t offset) { seed_ = seed, offset_ = offset; }

  // Reserves `blocks` Philox counters for one fill and returns the first; advances the offset.
  std::uint64_t reserve(std::uint64_t blocks) {
    const std::uint64_t base = offset_;
    offset_ += blocks;
    return base;
  }

  // Four random words for one counter value.
  std::array<std::uint32_t, 4> block(std::uint64_t counter) const;

  // Uniform in the open interval (0, 1) from one word, never exactly 0 or 1 (safe for log).
  static double to_unit(std::uint32_t word) { return (word + 0.5) * (1.0 / 4294967296.0); }

 private:
  std::uint64_t seed_;
  std::uint64_t offset_ = 0;
};

// Philox counters a fill of n values takes: each counter gives four words, used for four values.
constexpr std::uint64_t philox_blocks(std::int64_t n) { return static_cast<std::uint64_t>((n + 3) / 4); }

// The process-wide generator used when none is passed (weight init, dropout in tests).
Generator& default_generator();
void manual_seed(std::uint64_t seed);

// Calls f(i, u_i) for i < n, u_i = to_unit(word i % 4 of counter base + i / 4): the one layout of uniform
// draws, shared by fill_uniform and dropout masks. Parallel over counters, so f must be thread-safe.
template <typename F>
void for_each_unit(std::int64_t n, const Generator& gen, std::uint64_t base, F f) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (std::int64_t b = 0; b < (n + 3) / 4; ++b) {
    const auto words = gen.block(base + static_cast<std::uint64_t>(b));
    for (std::int64_t j = 0; j < 4 && b * 4 + j < n; ++j) f(b * 4 + j, Generator::to_unit(words[j]));
  }
}

// out[i] = lo + (hi - lo) * u_i, u_i as in for_each_unit.
template <typename T>
void fill_uniform(T* out, std::int64_t n, double lo, double hi, const Generator& gen, std::uint64_t base);
// Box-Muller: elements 4b..4b+3 come from counter base + b, (cos, sin) of words (0, 1) and of (2, 3).
template <typename T>
void fill_normal(T* out, std::int64_t n, double mean, double stddev, const Generator& gen, std::uint64_t base);

}  // namespace nn
