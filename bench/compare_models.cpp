// Our side of the whole-network CPU comparison against PyTorch (bench/compare_torch.py drives it and
// runs PyTorch's side the same way). One case per process, so the peak memory of the process (VmHWM)
// belongs to that case alone; the result is one JSON line on stdout.
//   OMP_NUM_THREADS=2 build/bench/compare_models --net resnet34_dlas_a --mode inference|train --batch 32
//       [--warmup 1] [--repeats 2]
//   build/bench/compare_models --info --net NAME    parameters and forward FLOPs per sample (summary)
//   build/bench/compare_models --fma-peak           the measured fp32 FMA peak of all OpenMP threads
//
// inference = eval mode under NoGradGuard; train = one training step: train-mode forward + cross-entropy
// + backward + Adam (betas 0.5 / 0.999, as the reference trains), with zero_grad (grads set to none) in
// the step, as torch's zero_grad(set_to_none=True). Inputs 112x112, three modalities. Each phase of a
// training step is timed too, so a loss can be located (forward, backward, optimizer).
//
// Memory: rss_start = VmRSS before the net is built (the executable and its libraries), vm_hwm = VmHWM
// after the last repeat; PyTorch's worker reports the same two numbers, taken the same way.
// allocator_peak = the CPU caching allocator's peak of live tensor bytes (weights, Adam state,
// activations, gradients), which excludes the allocator's cache and everything outside tensors.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "libnn/autograd/grad_mode.h"
#include "libnn/core/rng.h"
#include "libnn/memory/allocator.h"
#include "libnn/ops/loss.h"
#include "libnn/optim/adam.h"
#include "models/registry.h"
#include "models/summary.h"

namespace {

using nn::index_t;
using nn::Tensor;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// A "VmRSS:" / "VmHWM:" line of /proc/self/status, in bytes (0 where the kernel has none).
double proc_status_bytes(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with(key + ":")) return 1024.0 * std::stod(line.substr(key.size() + 1));  // "kB"
  return 0;
}

// Enough independent accumulators to cover FMA latency x throughput (4 cycles x 2 units on Zen 3,
// 4 x 2 on recent Intel): 12 chains keep both units busy on either.
constexpr int kChains = 12;

__attribute__((target("avx2,fma"))) float fma_loop_avx2(long iters) {
  __m256 acc[kChains];
  for (int k = 0; k < kChains; ++k) acc[k] = _mm256_set1_ps(1e-3f * static_cast<float>(k));
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (long i = 0; i < iters; ++i)
    for (int k = 0; k < kChains; ++k) acc[k] = _mm256_fmadd_ps(acc[k], a, b);
  __m256 s = acc[0];
  for (int k = 1; k < kChains; ++k) s = _mm256_add_ps(s, acc[k]);
  return _mm256_cvtss_f32(s);
}

__attribute__((target("avx512f"))) float fma_loop_avx512(long iters) {
  __m512 acc[kChains];
  for (int k = 0; k < kChains; ++k) acc[k] = _mm512_set1_ps(1e-3f * static_cast<float>(k));
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (long i = 0; i < iters; ++i)
    for (int k = 0; k < kChains; ++k) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
  __m512 s = acc[0];
  for (int k = 1; k < kChains; ++k) s = _mm512_add_ps(s, acc[k]);
  alignas(64) float out[16];  // not _mm512_reduce_add_ps: GCC 12 warns inside it (-Werror=uninitialized)
  _mm512_store_ps(out, s);
  return out[0];
}

// The fp32 peak this machine delivers: every OpenMP thread runs independent FMA chains on the widest
// vectors the CPU has; best of several runs, so a descheduled thread does not understate it.
nlohmann::json fma_peak() {
  const bool avx512 = __builtin_cpu_supports("avx512f");
  NN_CHECK(avx512 || (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")),
           "compare_models --fma-peak: this CPU has no AVX2 FMA");
  const int lanes = avx512 ? 16 : 8, threads = omp_get_max_threads();
  const long iters = 20'000'000;
  double best = 0;
  float sink = 0;
  for (int run = 0; run < 5; ++run) {
    const auto t0 = Clock::now();
#pragma omp parallel reduction(+ : sink)
    sink += avx512 ? fma_loop_avx512(iters) : fma_loop_avx2(iters);
    const double s = ms_since(t0) / 1e3;
    best = std::max(best, 2.0 * lanes * kChains * static_cast<double>(iters) * threads / s);
  }
  return {{"fma_peak_gflops", best / 1e9}, {"threads", threads}, {"lanes", lanes}, {"sink", sink}};
}

nlohmann::json info(const std::string& name) {
  auto net = models::build_model(name);
  const models::Summary s = models::summarize(*net, 112, 1);
  return {{"net", name}, {"params", s.total_params}, {"forward_flops_per_sample", s.total_flops}};
}

struct Batch {
  Tensor rgb, depth, ir, labels;
};

Batch make_batch(index_t batch) {
  nn::Generator gen(1);
  Batch b;
  b.rgb = Tensor::normal({batch, 3, 112, 112}, 0, 1, gen);
  b.depth = Tensor::normal({batch, 3, 112, 112}, 0, 1, gen);
  b.ir = Tensor::normal({batch, 3, 112, 112}, 0, 1, gen);
  std::vector<std::int64_t> labels(static_cast<std::size_t>(batch));
  for (index_t i = 0; i < batch; ++i) labels[static_cast<std::size_t>(i)] = i % 2;
  b.labels = Tensor::from_labels(labels);
  return b;
}

struct Timing {
  std::vector<double> total_ms;
  std::vector<nlohmann::json> phases_ms;  // per repeat; empty objects for inference
};

nlohmann::json run_case(const std::string& name, const std::string& mode, index_t batch, int warmup, int repeats) {
  NN_CHECK(mode == "inference" || mode == "train", "compare_models: --mode is inference or train, not '", mode, "'");
  const double rss_start = proc_status_bytes("VmRSS");
  auto net = models::build_model(name);
  const Batch b = make_batch(batch);
  Timing timing;
  if (mode == "inference") {
    net->eval();
    nn::NoGradGuard no_grad;
    for (int r = 0; r < warmup + repeats; ++r) {
      const auto t0 = Clock::now();
      (void)net->logits(b.rgb, b.depth, b.ir).to_vector();
      if (r < warmup) continue;
      timing.total_ms.push_back(ms_since(t0));
      timing.phases_ms.emplace_back(nlohmann::json::object());
    }
  } else {
    net->train();
    nn::optim::Adam adam(net->parameters(), {.lr = 2e-5, .beta1 = 0.5, .beta2 = 0.999});
    for (int r = 0; r < warmup + repeats; ++r) {
      const auto t0 = Clock::now();
      adam.zero_grad();
      Tensor loss = nn::ops::cross_entropy(net->logits(b.rgb, b.depth, b.ir, b.labels), b.labels);
      (void)loss.item();
      const double forward = ms_since(t0);
      loss.backward();
      const double backward = ms_since(t0) - forward;
      adam.step();
      const double total = ms_since(t0);
      if (r >= warmup) {
        timing.total_ms.push_back(total);
        timing.phases_ms.push_back(
            {{"forward", forward}, {"backward", backward}, {"optimizer", total - forward - backward}});
      }
    }
  }
  const auto best = std::min_element(timing.total_ms.begin(), timing.total_ms.end()) - timing.total_ms.begin();
  return {{"side", "ours"},
          {"net", name},
          {"mode", mode},
          {"batch", batch},
          {"threads", omp_get_max_threads()},
          {"warmup", warmup},
          {"times_ms", timing.total_ms},
          {"best_ms", timing.total_ms[static_cast<std::size_t>(best)]},
          {"phases_ms", timing.phases_ms[static_cast<std::size_t>(best)]},
          {"rss_start_bytes", rss_start},
          {"vm_hwm_bytes", proc_status_bytes("VmHWM")},
          {"allocator_peak_bytes", nn::allocator_for(nn::Device::cpu()).stats().peak_live_bytes}};
}

constexpr const char* kUsage =
    "usage: compare_models --net NAME --mode inference|train --batch N [--warmup W] [--repeats R]\n"
    "       compare_models --info --net NAME\n"
    "       compare_models --fma-peak\n";

}  // namespace

int main(int argc, char** argv) {
  std::string net, mode = "inference";
  index_t batch = 1;
  int warmup = 1, repeats = 2;
  bool want_info = false, want_peak = false;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      const auto value = [&]() -> std::string {
        NN_CHECK(i + 1 < argc, "compare_models: ", a, " needs a value");
        return argv[++i];
      };
      if (a == "--net") net = value();
      else if (a == "--mode") mode = value();
      else if (a == "--batch") batch = std::stoll(value());
      else if (a == "--warmup") warmup = std::stoi(value());
      else if (a == "--repeats") repeats = std::stoi(value());
      else if (a == "--info") want_info = true;
      else if (a == "--fma-peak") want_peak = true;
      else {
        std::fputs(kUsage, stderr);
        return 2;
      }
    }
    if (!want_peak && net.empty()) {
      std::fputs(kUsage, stderr);
      return 2;
    }
    NN_CHECK(batch >= 1 && warmup >= 0 && repeats >= 1,
             "compare_models: need --batch >= 1, --warmup >= 0, --repeats >= 1");
    const nlohmann::json out =
        want_peak ? fma_peak() : want_info ? info(net) : run_case(net, mode, batch, warmup, repeats);
    std::printf("%s\n", out.dump().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "compare_models: %s\n", e.what());
    return 1;
  }
  return 0;
}
