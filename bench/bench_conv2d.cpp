// BM_conv2d_{forward,backward_data,backward_weight}/<path>/<layer> at the ResNet34-caffe layer shapes
// (112x112 input), float, workspace supplied (the steady state of a training loop). Paths: ours = what
// libnn runs (conv2d.h's three passes, which pick per shape), gemm = the implicit-im2col GEMM
// path alone, winograd = Winograd F(4x4, 3x3) alone, where the layer is a 3x3 stride-1 conv. GFLOP/s
// counts the direct conv's 2*N*K*P*Q*C/g*R*S per direction for all, so the Winograd figure is an
// effective rate and they compare directly; compare gemm with BM_gemm/openblas on the same GEMM shape in
// bench_gemm. The forward also runs as *_prepared: on weights prepared once, as a frozen net's convs do
// (nn::Module::freeze_for_inference), so the weights are neither packed nor transformed per call.
//
// Extra flag (before Google Benchmark's own): --batch=N (default 32).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "bench/rate.h"
#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/conv2d_winograd.h"

namespace {

struct Layer {
  std::string name;
  kern::Conv2dParams p;
};

kern::Conv2dParams conv(kern::index_t C, kern::index_t K, kern::index_t HW, kern::index_t k, kern::index_t pad,
                        bool bias = false) {
  kern::Conv2dParams p;
  p.C = C, p.K = K, p.H = p.W = HW, p.R = p.S = k, p.pad_h = p.pad_w = pad, p.has_bias = bias;
  return p;
}

std::vector<Layer> layers(kern::index_t batch) {
  std::vector<Layer> l = {
      {"conv1_3to32_k3_112", conv(3, 32, 112, 3, 0)},
      {"stage_32to64_k3_110", conv(32, 64, 110, 3, 0)},
      {"stage_64to128_k3_54", conv(64, 128, 54, 3, 0)},
      {"stage_128to256_k3_26", conv(128, 256, 26, 3, 0)},
      {"stage_768to512_k3_12", conv(768, 512, 12, 3, 0)},
      {"block_64_p1_54", conv(64, 64, 54, 3, 1)},
      {"block_128_p1_26", conv(128, 128, 26, 3, 1)},
      {"block_256_p1_12", conv(256, 256, 12, 3, 1)},
      {"block_512_p1_5", conv(512, 512, 5, 3, 1)},
      {"fusion_1x1_192to64_54", conv(192, 64, 54, 1, 0, true)},
      // IR-50's stride-1 3x3 convs (its 112x112 input halves before each stage).
      {"ir_64_p1_56", conv(64, 64, 56, 3, 1)},
      {"ir_128_p1_28", conv(128, 128, 28, 3, 1)},
      {"ir_256_p1_14", conv(256, 256, 14, 3, 1)},
      {"ir_512_p1_7", conv(512, 512, 7, 3, 1)},
  };
  for (Layer& layer : l) layer.p.N = batch;
  return l;
}

std::vector<float> random_vector(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& e : v) e = dist(gen);
  return v;
}

struct Tensors {
  std::vector<float> x, w, bias, y, ws;
  explicit Tensors(const kern::Conv2dParams& p)
      : x(random_vector(std::size_t(p.N * p.C * p.H * p.W), 1)),
        w(random_vector(std::size_t(p.K * p.C_per_group() * p.R * p.S), 2)),
        bias(random_vector(std::size_t(p.K), 3)),
        y(random_vector(std::size_t(p.N * p.K * p.P() * p.Q()), 4)),
        ws(std::size_t(std::max(kern::conv2d_workspace_size(p), kern::conv2d_winograd_workspace_size(p)))) {}
};

enum class Direction { forward, backward_data, backward_weight };

// *_prepared: the forward on weights prepared once (frozen inference), for the path's own layout.
enum class Path { ours, gemm, winograd, ours_prepared, gemm_prepared, winograd_prepared };

bool prepared(Path path) {
  return path == Path::ours_prepared || path == Path::gemm_prepared || path == Path::winograd_prepared;
}

void bm_conv(benchmark::State& state, kern::Conv2dParams p, Direction dir, Path path) {
  Tensors t(p);
  std::vector<float> grad_in(dir == Direction::backward_weight ? t.w.size() : t.x.size());
  std::vector<float> db(std::size_t(p.K));
  kern::ConvEpilogue<float> e;
  e.bias = p.has_bias ? t.bias.data() : nullptr;
  const kern::ConvWeightLayout layout = path == Path::winograd_prepared ? kern::ConvWeightLayout::winograd
                                        : path == Path::gemm_prepared   ? kern::ConvWeightLayout::gemm
                                                                        : kern::conv2d_forward_weight_layout(p);
  std::vector<float> ready;
  if (prepared(path)) {
    ready.resize(std::size_t(kern::conv2d_prepared_weights_size<float>(p, layout)));
    kern::conv2d_prepare_weights_cpu<float>(p, layout, t.w.data(), ready.data());
  }
  const float* pw = ready.empty() ? nullptr : ready.data();
  const auto t0 = bench::BenchClock::now();
  for (auto _ : state) {
    switch (dir) {
      case Direction::forward:
        if (path == Path::winograd || path == Path::winograd_prepared)
          kern::conv2d_forward_winograd_cpu<float>(p, t.x.data(), t.w.data(), e, t.y.data(), t.ws.data(), pw);
        else if (path == Path::gemm || path == Path::gemm_prepared)
          kern::conv2d_forward_gemm_cpu<float>(p, t.x.data(), t.w.data(), e, t.y.data(), t.ws.data(), pw);
        else
          kern::conv2d_forward_fused_cpu<float>(p, t.x.data(), t.w.data(), e, t.y.data(), t.ws.data(), pw);
        break;
      case Direction::backward_data:
        if (path == Path::winograd)
          kern::conv2d_backward_data_winograd_cpu<float>(p, t.y.data(), t.w.data(), grad_in.data(), t.ws.data());
        else if (path == Path::gemm)
          kern::conv2d_backward_data_gemm_cpu<float>(p, t.y.data(), t.w.data(), grad_in.data(), t.ws.data());
        else
          kern::conv2d_backward_data_cpu<float>(p, t.y.data(), t.w.data(), grad_in.data(), t.ws.data());
        break;
      case Direction::backward_weight:
        if (path == Path::winograd)
          kern::conv2d_backward_weight_winograd_cpu<float>(p, t.x.data(), t.y.data(), grad_in.data(), t.ws.data());
        else if (path == Path::gemm)
          kern::conv2d_backward_weight_gemm_cpu<float>(p, t.x.data(), t.y.data(), grad_in.data(),
                                                       p.has_bias ? db.data() : nullptr, t.ws.data());
        else
          kern::conv2d_backward_weight_cpu<float>(p, t.x.data(), t.y.data(), grad_in.data(),
                                                  p.has_bias ? db.data() : nullptr, t.ws.data());
        break;
    }
    benchmark::ClobberMemory();
  }
  bench::report_rate(state, p.flops(), t0);
}

}  // namespace

int main(int argc, char** argv) {
  kern::index_t batch = 32;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--batch=", 8) == 0)
      batch = std::stoll(argv[i] + 8);
    else
      argv[kept++] = argv[i];
  }
  argc = kept;
  const std::pair<const char*, Direction> dirs[] = {{"BM_conv2d_forward", Direction::forward},
                                                    {"BM_conv2d_backward_data", Direction::backward_data},
                                                    {"BM_conv2d_backward_weight", Direction::backward_weight}};
  for (const auto& [prefix, dir] : dirs)
    for (const Layer& l : layers(batch))
      for (const auto& [path_name, path] :
           {std::pair{"ours", Path::ours}, std::pair{"gemm", Path::gemm}, std::pair{"winograd", Path::winograd},
            std::pair{"ours_prepared", Path::ours_prepared}, std::pair{"gemm_prepared", Path::gemm_prepared},
            std::pair{"winograd_prepared", Path::winograd_prepared}}) {
        if (prepared(path) && dir != Direction::forward) continue;
        if (path == Path::winograd_prepared && !kern::winograd_applicable(l.p)) continue;
        if (path == Path::winograd && !kern::winograd_applicable(l.p)) continue;
        const std::string name = std::string(prefix) + "/" + path_name + "/" + l.name;
        benchmark::RegisterBenchmark(name.c_str(), bm_conv, l.p, dir, path)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
