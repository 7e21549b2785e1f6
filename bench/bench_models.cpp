// Whole-network CPU timings: inference (eval mode, no grad) and one training step (train mode, forward +
// cross-entropy + backward + Adam) of the reference networks at 112x112, batch 1 and 32. FLOP/s counts
// the forward FLOPs from the model summary (x3 for a training step: forward, backward data, backward
// weights), so it is comparable across models and with the GEMM peak in bench/README.md.
// BM_faceapi_descriptor: face-api's FaceRecognitionNet alone (150x150, batch 1 and 16), inference.
//   OMP_NUM_THREADS=2 build/bench/bench_models --benchmark_min_time=0.01
#include <benchmark/benchmark.h>

#include "libnn/autograd/grad_mode.h"
#include "libnn/core/rng.h"
#include "libnn/ops/loss.h"
#include "libnn/optim/adam.h"
#include "models/faceapi.h"
#include "models/registry.h"
#include "models/summary.h"

namespace {

using nn::Tensor;

struct Setup {
  std::shared_ptr<models::MultiModalNet> net;
  Tensor rgb, depth, ir, labels;
  double forward_flops;
};

Setup make_setup(const std::string& name, nn::index_t batch) {
  Setup s;
  s.net = models::build_model(name);
  s.forward_flops = models::summarize(*s.net, 112, batch).total_flops;
  nn::Generator gen(1);
  s.rgb = Tensor::normal({batch, 3, 112, 112}, 0, 1, gen);
  s.depth = Tensor::normal({batch, 3, 112, 112}, 0, 1, gen);
  s.ir = Tensor::normal({batch, 3, 112, 112}, 0, 1, gen);
  std::vector<std::int64_t> labels(batch);
  for (nn::index_t i = 0; i < batch; ++i) labels[i] = i % 2;
  s.labels = Tensor::from_labels(labels);
  return s;
}

void bm_inference(benchmark::State& state, const std::string& name) {
  Setup s = make_setup(name, state.range(0));
  s.net->freeze_for_inference();
  nn::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(s.net->logits(s.rgb, s.depth, s.ir).raw_data());
  state.counters["GFLOP/s"] = benchmark::Counter(s.forward_flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["samples/s"] = benchmark::Counter(static_cast<double>(state.range(0)), benchmark::Counter::kIsIterationInvariantRate);
}

void bm_train_step(benchmark::State& state, const std::string& name) {
  Setup s = make_setup(name, state.range(0));
  s.net->train();
  nn::optim::Adam adam(s.net->parameters(), {.lr = 2e-5, .beta1 = 0.5, .beta2 = 0.999});
  for (auto _ : state) {
    adam.zero_grad();
    nn::ops::cross_entropy(s.net->logits(s.rgb, s.depth, s.ir, s.labels), s.labels).backward();
    adam.step();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(3 * s.forward_flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["samples/s"] = benchmark::Counter(static_cast<double>(state.range(0)), benchmark::Counter::kIsIterationInvariantRate);
}

void bm_faceapi_descriptor(benchmark::State& state) {
  models::FaceRecognitionNet net;
  net.eval();
  nn::Generator gen(1);
  const Tensor x = Tensor::normal({state.range(0), 3, 150, 150}, 0, 0.5, gen);
  nn::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(net.forward(x).raw_data());
  state.counters["samples/s"] = benchmark::Counter(static_cast<double>(state.range(0)), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

int main(int argc, char** argv) {
  for (const char* name : {"resnet34_dlas_a", "ir50_dlas_a"}) {
    benchmark::RegisterBenchmark((std::string("BM_inference/") + name).c_str(), bm_inference, std::string(name))
        ->Arg(1)->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime();
    benchmark::RegisterBenchmark((std::string("BM_train_step/") + name).c_str(), bm_train_step, std::string(name))
        ->Arg(1)->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);
  }
  benchmark::RegisterBenchmark("BM_faceapi_descriptor", bm_faceapi_descriptor)
      ->Arg(1)->Arg(16)->Unit(benchmark::kMillisecond)->UseRealTime();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
