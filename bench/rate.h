// The counters every compute benchmark reports: GFLOP/s, and pct_peak, that rate as a percentage of the
// FMA peak measured right after the timed loop (bench/fma_peak.h), so a figure read against "% of the
// hardware's peak" shares its minute, and its neighbours, with the peak it is divided by.
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>

#include "bench/fma_peak.h"

namespace bench {

using BenchClock = std::chrono::steady_clock;

// flops: per iteration; t0: taken just before the state's loop.
inline void report_rate(benchmark::State& state, double flops, BenchClock::time_point t0) {
  const double s = std::chrono::duration<double>(BenchClock::now() - t0).count();
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  const double peak = fma_peak(2'000'000, 5).gflops;
  if (peak > 0 && s > 0) state.counters["pct_peak"] = 100.0 * flops * 1e-9 * double(state.iterations()) / s / peak;
}

}  // namespace bench
