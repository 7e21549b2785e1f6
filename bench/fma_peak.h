// The fp32 peak this machine delivers, measured: every OpenMP thread runs independent FMA chains on the
// widest vectors the CPU has. The benchmarks divide by it to report "% of peak" in the same run, because
// on a shared (virtual) machine the clock and the neighbours move the peak by up to ~20 % from minute to
// minute (153-188 GFLOP/s on the 2-core Zen 3 guest), as much as the effects being measured.
#pragma once

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>

namespace bench {

// Enough independent accumulators to cover FMA latency x throughput (4 cycles x 2 units on Zen 3,
// 4 x 2 on recent Intel): 12 chains keep both units busy on either.
constexpr int kFmaChains = 12;

__attribute__((target("avx2,fma"))) inline float fma_loop_avx2(long iters) {
  __m256 acc[kFmaChains];
  for (int k = 0; k < kFmaChains; ++k) acc[k] = _mm256_set1_ps(1e-3f * static_cast<float>(k));
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (long i = 0; i < iters; ++i)
    for (int k = 0; k < kFmaChains; ++k) acc[k] = _mm256_fmadd_ps(acc[k], a, b);
  __m256 s = acc[0];
  for (int k = 1; k < kFmaChains; ++k) s = _mm256_add_ps(s, acc[k]);
  return _mm256_cvtss_f32(s);
}

__attribute__((target("avx512f"))) inline float fma_loop_avx512(long iters) {
  __m512 acc[kFmaChains];
  for (int k = 0; k < kFmaChains; ++k) acc[k] = _mm512_set1_ps(1e-3f * static_cast<float>(k));
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (long i = 0; i < iters; ++i)
    for (int k = 0; k < kFmaChains; ++k) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
  __m512 s = acc[0];
  for (int k = 1; k < kFmaChains; ++k) s = _mm512_add_ps(s, acc[k]);
  alignas(64) float out[16];  // not _mm512_reduce_add_ps: GCC 12 warns inside it (-Werror=uninitialized)
  _mm512_store_ps(out, s);
  return out[0];
}

struct FmaPeak {
  double gflops = 0;  // 0: the CPU has no AVX2 FMA
  int threads = 0, lanes = 0;
  float sink = 0;  // the chains' result, so the loops cannot be optimised away
};

// Best of `runs` runs of `iters` iterations, so a descheduled thread does not understate the peak. One
// run of 2'000'000 iterations takes ~5 ms on a 3 GHz AVX2 core.
inline FmaPeak fma_peak(long iters = 20'000'000, int runs = 5) {
  FmaPeak r;
  const bool avx512 = __builtin_cpu_supports("avx512f");
  if (!avx512 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return r;
  r.lanes = avx512 ? 16 : 8;
  r.threads = omp_get_max_threads();
  for (int run = 0; run < runs; ++run) {
    const auto t0 = std::chrono::steady_clock::now();
    float sink = 0;
#pragma omp parallel reduction(+ : sink)
    sink += avx512 ? fma_loop_avx512(iters) : fma_loop_avx2(iters);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.sink += sink;
    r.gflops = std::max(r.gflops, 2e-9 * r.lanes * kFmaChains * static_cast<double>(iters) * r.threads / s);
  }
  return r;
}

}  // namespace bench
