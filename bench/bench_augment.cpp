// Throughput of the training augmentation (train/data/augment.h) on one core at CASIA-SURF-like sizes: a
// synthetic 230 x 210 triplet (rgb, depth, ir), the STRONG and WEAK pipelines and the test view, reported as
// triplets per second. The baseline, Pillow + numpy doing the same steps, is in bench/README.md.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "train/data/augment.h"

namespace {

nn::Tensor synthetic(std::uint32_t salt) {
  nn::Tensor t = nn::Tensor::empty({230, 210, 3}, nn::DType::u8);
  auto* p = t.data<std::uint8_t>();
  std::uint32_t s = 12345u + salt;
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    s = s * 1664525u + 1013904223u;
    p[i] = static_cast<std::uint8_t>((i / 3 % 210) + (s >> 28));
  }
  return t;
}

void run(benchmark::State& state, const hardtune::data::AugmentConfig& cfg) {
  const std::array<nn::Tensor, 3> in{synthetic(0), synthetic(1), synthetic(2)};
  std::uint64_t i = 0;
  for (auto _ : state)
    benchmark::DoNotOptimize(hardtune::data::augment(in, cfg, infer::Normalization::cifar(), 1, i++));
  state.counters["triplets/s"] = benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_augment_strong(benchmark::State& state) { run(state, hardtune::data::AugmentConfig::strong()); }
void BM_augment_weak(benchmark::State& state) { run(state, hardtune::data::AugmentConfig::weak()); }
void BM_test_transform(benchmark::State& state) {
  const std::array<nn::Tensor, 3> in{synthetic(0), synthetic(1), synthetic(2)};
  for (auto _ : state) benchmark::DoNotOptimize(infer::test_transform(in, infer::Normalization::cifar()));
  state.counters["triplets/s"] = benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(BM_augment_strong)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_augment_weak)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_test_transform)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
