// Our CUDA kernels beside the vendor libraries, in the same run on the same buffers and stream:
//   BM_conv2d_{forward,backward_data,backward_weight}/{ours_cuda,cudnn}/<layer>/{fp32,tf32}
//   BM_gemm/{ours_cuda,cublas}/<shape>/{fp32,tf32}
//   BM_batch_norm_forward_train/{ours_cuda,cudnn}/<shape>   (ours_cuda when kernels/cuda/batch_norm.h exists)
// Layers: the ResNet34-DLAS-A / IR-50 convolutions (3x3 blocks at 56, 28, 14 and 7, the 1x1 stride-2
// downsamples, the 7x7 stride-2 stem), batch 32 by default. Float data.
//
// Timing: CUDA events around each call on one stream (UseManualTime), after warm-up calls that also
// make cuDNN's one-off cudnnFind and any allocation happen before the clock starts. The caches stay
// warm between iterations (no L2 flush: the tensors of the early layers exceed the H200's 50 MB L2
// anyway, the late ones fit in it for both implementations alike). Counters: TFLOP/s from
// Conv2dParams::flops / 2*M*N*K per direction, GB/s for batch_norm counting one read of x and one write of
// y (the least any implementation moves), items/s = samples (conv, batch_norm) or output rows (gemm).
//
// Extra flag (before Google Benchmark's own): --batch=N (default 32). Without a CUDA device it prints
// "no CUDA device" and exits 0, so scripted runs on CPU-only machines do not fail.
#include <benchmark/benchmark.h>

#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cuda/conv2d.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/vendor.h"
#if __has_include("kernels/cuda/batch_norm.h")
#include "kernels/cuda/batch_norm.h"
#define NN_BENCH_OURS_BATCH_NORM 1
#endif

namespace {

using kern::index_t;
using kern::MathMode;

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

// n uniform floats in [-1, 1) on the device.
class DeviceArray {
 public:
  DeviceArray(std::size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> host(n ? n : 1);
    for (float& v : host) v = dist(gen);
    check(cudaMalloc(&ptr_, host.size() * sizeof(float)), "cudaMalloc");
    check(cudaMemcpy(ptr_, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice), "cudaMemcpy");
  }
  ~DeviceArray() { cudaFree(ptr_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  float* get() const { return ptr_; }

 private:
  float* ptr_ = nullptr;
};

// One stream and two events for the whole run.
struct Gpu {
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  Gpu() {
    check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
    check(cudaEventCreate(&start), "cudaEventCreate");
    check(cudaEventCreate(&stop), "cudaEventCreate");
  }
};

Gpu& gpu() {
  static Gpu g;
  return g;
}

constexpr int kWarmup = 3;

// Times op() with events on the benchmark stream; an op that throws (a shape or mode an implementation
// refuses) marks the benchmark as skipped with its message.
void run_timed(benchmark::State& state, const std::function<void(cudaStream_t)>& op) {
  Gpu& g = gpu();
  try {
    for (int i = 0; i < kWarmup; ++i) op(g.stream);
    check(cudaStreamSynchronize(g.stream), "warm-up");
    for (auto _ : state) {
      check(cudaEventRecord(g.start, g.stream), "cudaEventRecord");
      op(g.stream);
      check(cudaEventRecord(g.stop, g.stream), "cudaEventRecord");
      check(cudaEventSynchronize(g.stop), "cudaEventSynchronize");
      float ms = 0;
      check(cudaEventElapsedTime(&ms, g.start, g.stop), "cudaEventElapsedTime");
      state.SetIterationTime(double(ms) * 1e-3);
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

const char* math_name(MathMode m) { return m == MathMode::tf32 ? "tf32" : m == MathMode::bf16 ? "bf16" : "fp32"; }

// ---- conv2d

struct Layer {
  std::string name;
  kern::Conv2dParams p;
};

kern::Conv2dParams conv(index_t C, index_t K, index_t HW, index_t k, index_t stride, index_t pad) {
  kern::Conv2dParams p;
  p.C = C, p.K = K, p.H = p.W = HW, p.R = p.S = k, p.stride_h = p.stride_w = stride, p.pad_h = p.pad_w = pad;
  return p;
}

std::vector<Layer> layers(index_t batch) {
  std::vector<Layer> l = {
      {"stem_k7s2_3to64_112", conv(3, 64, 112, 7, 2, 3)},
      {"block_k3_64_56", conv(64, 64, 56, 3, 1, 1)},
      {"block_k3_128_28", conv(128, 128, 28, 3, 1, 1)},
      {"block_k3_256_14", conv(256, 256, 14, 3, 1, 1)},
      {"block_k3_512_7", conv(512, 512, 7, 3, 1, 1)},
      {"down_k1s2_64to128_56", conv(64, 128, 56, 1, 2, 0)},
      {"down_k1s2_128to256_28", conv(128, 256, 28, 1, 2, 0)},
      {"down_k1s2_256to512_14", conv(256, 512, 14, 1, 2, 0)},
  };
  for (Layer& layer : l) layer.p.N = batch;
  return l;
}

enum class Direction { forward, backward_data, backward_weight };
enum class Impl { ours_cuda, vendor };

void bm_conv(benchmark::State& state, kern::Conv2dParams p, Direction dir, Impl impl, MathMode math) {
  const std::size_t nx = std::size_t(p.N * p.C * p.H * p.W), nw = std::size_t(p.K * p.C_per_group() * p.R * p.S),
                    ny = std::size_t(p.N * p.K * p.P() * p.Q());
  const DeviceArray x(nx, 1), w(nw, 2), y(ny, 3);  // y doubles as dy
  const DeviceArray grad(dir == Direction::backward_weight ? nw : nx, 4);
  run_timed(state, [&](cudaStream_t s) {
    switch (dir) {
      case Direction::forward:
        if (impl == Impl::ours_cuda)
          kern::conv2d_forward_cuda<float>(p, x.get(), w.get(), kern::ConvEpilogue<float>{}, y.get(), math, s);
        else
          kern::conv2d_forward_cudnn<float>(p, x.get(), w.get(), nullptr, y.get(), math, s);
        break;
      case Direction::backward_data:
        if (impl == Impl::ours_cuda)
          kern::conv2d_backward_data_cuda<float>(p, y.get(), w.get(), grad.get(), math, s);
        else
          kern::conv2d_backward_data_cudnn<float>(p, y.get(), w.get(), grad.get(), math, s);
        break;
      case Direction::backward_weight:
        if (impl == Impl::ours_cuda)
          kern::conv2d_backward_weight_cuda<float>(p, x.get(), y.get(), grad.get(), nullptr, math, s);
        else
          kern::conv2d_backward_weight_cudnn<float>(p, x.get(), y.get(), grad.get(), nullptr, math, s);
        break;
    }
  });
  state.SetItemsProcessed(state.iterations() * p.N);
  state.counters["TFLOP/s"] = benchmark::Counter(p.flops() * 1e-12, benchmark::Counter::kIsIterationInvariantRate);
}

// ---- gemm

struct GemmShape {
  std::string name;
  index_t M, N, K;
};

std::vector<GemmShape> gemm_shapes(index_t batch) {
  return {
      {"square_1024", 1024, 1024, 1024},
      {"square_4096", 4096, 4096, 4096},
      // block_k3_64_56's forward as one im2col GEMM: (K, C*R*S) x (C*R*S, N*P*Q)
      {"im2col_block_64_56", 64, batch * 56 * 56, 64 * 9},
      {"im2col_block_512_7", 512, batch * 7 * 7, 512 * 9},
      // IR-50's output layer: (batch, 512*7*7) x (512*7*7, 512)
      {"linear_25088to512", batch, 512, 512 * 7 * 7},
  };
}

void bm_gemm(benchmark::State& state, GemmShape g, Impl impl, MathMode math) {
  kern::GemmParams p;
  p.M = g.M, p.N = g.N, p.K = g.K;
  const DeviceArray A(std::size_t(g.M * g.K), 5), B(std::size_t(g.K * g.N), 6), C(std::size_t(g.M * g.N), 7);
  run_timed(state, [&](cudaStream_t s) {
    if (impl == Impl::ours_cuda)
      kern::gemm_cuda<float>(p, 1.0f, A.get(), B.get(), 0.0f, C.get(), math, s);
    else
      kern::gemm_cublas<float>(p, 1.0f, A.get(), B.get(), 0.0f, C.get(), math, s);
  });
  state.SetItemsProcessed(state.iterations() * g.M);
  state.counters["TFLOP/s"] = benchmark::Counter(p.flops() * 1e-12, benchmark::Counter::kIsIterationInvariantRate);
}

// ---- batch_norm

struct BnShape {
  std::string name;
  kern::BatchNormParams p;
};

std::vector<BnShape> bn_shapes(index_t batch) {
  std::vector<BnShape> shapes;
  for (index_t c : {64, 128, 256, 512}) {
    const index_t hw = 56 * 64 / c;  // the ResNet stage each width lives at: 56, 28, 14, 7
    kern::BatchNormParams p;
    p.N = batch, p.C = c, p.HW = hw * hw;
    shapes.push_back({std::to_string(c) + "_" + std::to_string(hw), p});
  }
  return shapes;
}

void bm_batch_norm_train(benchmark::State& state, kern::BatchNormParams p, [[maybe_unused]] Impl impl) {
  const std::size_t n = std::size_t(p.N * p.C * p.HW), c = std::size_t(p.C);
  const DeviceArray x(n, 8, -1.0f, 3.0f), y(n, 9), gamma(c, 10, 0.5f, 1.5f), beta(c, 11), mean(c, 12), invstd(c, 13),
      running_mean(c, 14), running_var(c, 15, 0.5f, 2.0f);
  // Our kernels' reduction scratch, in doubles: twice as many floats (cudaMalloc aligns to 256 bytes).
  const DeviceArray workspace(2 * std::size_t(kern::batch_norm_workspace_size(p)), 16);
  run_timed(state, [&](cudaStream_t s) {
#ifdef NN_BENCH_OURS_BATCH_NORM
    if (impl == Impl::ours_cuda) {
      kern::batch_norm_forward_train_cuda<float>(p, x.get(), gamma.get(), beta.get(), y.get(), mean.get(),
                                                 invstd.get(), running_mean.get(), running_var.get(),
                                                 reinterpret_cast<double*>(workspace.get()), s);
      return;
    }
#endif
    kern::batch_norm_forward_train_cudnn<float>(p, x.get(), gamma.get(), beta.get(), y.get(), mean.get(),
                                                invstd.get(), running_mean.get(), running_var.get(), s);
  });
  state.SetItemsProcessed(state.iterations() * p.N);
  state.counters["GB/s"] =
      benchmark::Counter(2.0 * double(n) * sizeof(float) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

template <typename Fn, typename... Args>
void add(const std::string& name, Fn fn, Args... args) {
  benchmark::RegisterBenchmark(name.c_str(), fn, args...)->UseManualTime()->Unit(benchmark::kMicrosecond);
}

}  // namespace

int main(int argc, char** argv) {
  index_t batch = 32;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--batch=", 8) == 0)
      batch = std::stoll(argv[i] + 8);
    else
      argv[kept++] = argv[i];
  }
  argc = kept;
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::puts("no CUDA device");
    return 0;
  }

  const MathMode maths[] = {MathMode::fp32, MathMode::tf32};
  const std::pair<const char*, Direction> dirs[] = {{"BM_conv2d_forward", Direction::forward},
                                                    {"BM_conv2d_backward_data", Direction::backward_data},
                                                    {"BM_conv2d_backward_weight", Direction::backward_weight}};
  // ours_cuda first, then the vendor library, so each pair reads as adjacent lines.
  const std::pair<const char*, Impl> conv_impls[] = {{"ours_cuda", Impl::ours_cuda}, {"cudnn", Impl::vendor}};
  const std::pair<const char*, Impl> gemm_impls[] = {{"ours_cuda", Impl::ours_cuda}, {"cublas", Impl::vendor}};
  for (const auto& [prefix, dir] : dirs)
    for (const Layer& l : layers(batch))
      for (MathMode m : maths)
        for (const auto& [impl_name, impl] : conv_impls)
          add(std::string(prefix) + "/" + impl_name + "/" + l.name + "/" + math_name(m), bm_conv, l.p, dir, impl, m);
  for (const GemmShape& g : gemm_shapes(batch))
    for (MathMode m : maths)
      for (const auto& [impl_name, impl] : gemm_impls)
        add(std::string("BM_gemm/") + impl_name + "/" + g.name + "/" + math_name(m), bm_gemm, g, impl, m);
  for (const BnShape& b : bn_shapes(batch)) {
#ifdef NN_BENCH_OURS_BATCH_NORM
    add("BM_batch_norm_forward_train/ours_cuda/" + b.name, bm_batch_norm_train, b.p, Impl::ours_cuda);
#endif
    add("BM_batch_norm_forward_train/cudnn/" + b.name, bm_batch_norm_train, b.p, Impl::vendor);
  }

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
