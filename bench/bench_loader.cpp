// The data loader at CASIA-SURF-like sizes (224 x 224 JPEG triplets from `hardtune synth`, STRONG
// augmentation, batch 32): decoding alone, the loader with 1 and 2 workers, and a training step fed from
// memory vs fed by the loader on the same cores. The last pair is the question that matters: does the
// loader slow a CPU training step down? Results and the GPU estimate are in bench/README.md.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "libnn/ops/loss.h"
#include "libnn/optim/adam.h"
#include "models/registry.h"
#include "train/data/loader.h"
#include "train/data/synth.h"

namespace {

using namespace hardtune::data;

constexpr long kBatch = 32;

const TripletDataset& dataset() {
  static const auto data = [] {
    const auto dir = std::filesystem::temp_directory_path() / ("hardtune_bench_loader_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    SynthOptions o;
    o.out = dir.string();
    o.subjects_train = 6, o.subjects_val = 1, o.subjects_test = 1;
    o.samples_per_subject = 4;  // 6 subjects x 4 sessions x 4 frames = 96 training triplets
    o.look.size = 224;
    o.quiet = true;
    generate_synth_dataset(o);
    return std::make_unique<TripletDataset>((dir / "train_list.txt").string(), dir.string());
  }();
  return *data;
}

LoaderOptions strong(int workers) {
  return {.batch_size = kBatch, .drop_last = false, .seed = 1, .workers = workers, .augment = AugmentConfig::strong()};
}

void BM_decode_triplet(benchmark::State& state) {
  const TripletDataset& data = dataset();
  long i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(data.load(i++ % data.size()));
  state.counters["triplets/s"] = benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_loader_strong(benchmark::State& state) {
  Loader loader(dataset(), strong(static_cast<int>(state.range(0))));
  long epoch = 0, triplets = 0;
  loader.start_epoch(epoch);
  for (auto _ : state) {
    auto batch = loader.next();
    if (!batch) {
      loader.start_epoch(++epoch);
      batch = loader.next();
    }
    triplets += batch->size();
  }
  state.counters["triplets/s"] = benchmark::Counter(double(triplets), benchmark::Counter::kIsRate);
}

// One Adam step of `name` at batch 32; range(0) = 1: batches from a 1-worker loader, 0: one batch reused.
void bm_step(benchmark::State& state, const std::string& name) {
  auto net = models::build_model(name, {.frozen_head = true});
  net->train();
  nn::optim::Adam adam(net->parameters(), {.lr = 2e-5, .beta1 = 0.5, .beta2 = 0.999});
  Loader loader(dataset(), strong(1));
  long epoch = 0;
  loader.start_epoch(epoch);
  auto take = [&] {
    auto b = loader.next();
    if (!b) {
      loader.start_epoch(++epoch);
      b = loader.next();
    }
    return std::move(*b);
  };
  const Batch fixed = take();
  for (auto _ : state) {
    const Batch batch = state.range(0) ? take() : fixed;
    const NetInputs& x = batch.views[0];
    adam.zero_grad();
    nn::ops::cross_entropy(net->logits(x.rgb, x.depth, x.ir, batch.labels), batch.labels).backward();
    adam.step();
  }
  state.counters["triplets/s"] = benchmark::Counter(double(kBatch), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::RegisterBenchmark("BM_decode_triplet", BM_decode_triplet)->Unit(benchmark::kMillisecond)->UseRealTime();
  // Process CPU time (all threads): "triplets/s" then reads as triplets per CPU-second, i.e. per core,
  // which stays meaningful when the machine is shared.
  benchmark::RegisterBenchmark("BM_loader_strong/workers", BM_loader_strong)
      ->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
  for (const std::string name : {"resnet34_dlas_a_tiny", "ir50_dlas_a_tiny", "resnet34_dlas_a"}) {
    auto* b = benchmark::RegisterBenchmark(("BM_train_step/" + name + "/fed_by_loader").c_str(), bm_step, name)
                  ->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();
    if (!name.ends_with("_tiny")) b->Iterations(3);  // ~10 s a step on 2 cores
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::filesystem::remove_all(std::filesystem::temp_directory_path() /
                              ("hardtune_bench_loader_" + std::to_string(::getpid())));
  return 0;
}
