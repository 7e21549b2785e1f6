// Our side of the whole-network comparison against PyTorch, on the CPU or a CUDA device
// (bench/compare_torch.py drives it and runs PyTorch's side the same way). One case per process, so the
// peak memory of the process (VmHWM) and of the device allocator belongs to that case alone; the result is
// one JSON line on stdout.
//   OMP_NUM_THREADS=2 build/bench/compare_models --net resnet34_dlas_a --mode inference|train --batch 32
//       [--warmup W] [--repeats 2] [--budget-s S] [--unfrozen]
//       [--device cpu|cuda] [--math fp32|tf32|bf16] [--backend ours|vendor]    (the last two: cuda only)
//   build/bench/compare_models --info --net NAME    parameters and forward FLOPs per sample (summary)
//   build/bench/compare_models --fma-peak           the measured fp32 FMA peak of all OpenMP threads
//
// inference = frozen (Module::freeze_for_inference: eval mode, conv weights prepared once, as PyTorch's
// jit side is torch.jit.freeze'd) under NoGradGuard, or with --unfrozen plain eval mode, whose convs
// prepare their weights every call (PyTorch's eager side); train = one training step: train-mode forward
// + cross-entropy + backward + Adam (betas 0.5 / 0.999, as the reference trains), with zero_grad (grads set
// to none) in the step, as torch's zero_grad(set_to_none=True). Inputs 112x112, three modalities. Each
// phase of a training step is timed too, so a loss can be located (forward, backward, optimizer).
//
// On CUDA the net and the batch are moved to the device before timing (a loader would have the batch there
// already), and every step starts and ends with the device idle (nn::cuda::synchronize), so the host clock
// measures the device's work. --math sets how f32 convs and GEMMs multiply; --backend vendor runs conv2d
// and batch_norm through cuDNN and linear through cuBLAS, the yardstick for our kernels. The warm-up is 3
// steps there by default, not 1: the first steps fill the caching allocator (and Adam makes its state in the
// first), and the vendor libraries choose their algorithms per shape. --budget-s S stops the timed repeats
// once the case has run S seconds (at least one is kept), which bounds a run whose speed is not known yet.
//
// Memory: rss_start = VmRSS before the net is built (the executable and its libraries), vm_hwm = VmHWM
// after the last repeat; PyTorch's worker reports the same two numbers, taken the same way.
// allocator_peak = the CPU caching allocator's peak of live tensor bytes (weights, Adam state,
// activations, gradients), which excludes the allocator's cache and everything outside tensors. On CUDA,
// device_peak = the CUDA caching allocator's peak of live bytes (PyTorch: max_memory_allocated) and
// device_reserved = what it holds from cudaMalloc at the end, live and cached (it frees nothing back to the
// driver unless an allocation fails, so this is its peak; PyTorch: max_memory_reserved).
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/fma_peak.h"
#include "libnn/autograd/grad_mode.h"
#include "libnn/core/cuda_options.h"
#include "libnn/core/cuda_runtime.h"
#include "libnn/core/device.h"
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

nlohmann::json fma_peak() {
  const bench::FmaPeak peak = bench::fma_peak();
  NN_CHECK(peak.gflops > 0, "--fma-peak: this CPU has no AVX2 FMA");
  return {{"fma_peak_gflops", peak.gflops}, {"threads", peak.threads}, {"lanes", peak.lanes}, {"sink", peak.sink}};
}

nlohmann::json info(const std::string& name) {
  auto net = models::build_model(name);
  const models::Summary s = models::summarize(*net, 112, 1);
  return {{"net", name}, {"params", s.total_params}, {"forward_flops_per_sample", s.total_flops}};
}

struct Batch {
  Tensor rgb, depth, ir, labels;

  Batch to(nn::Device device) const { return {rgb.to(device), depth.to(device), ir.to(device), labels.to(device)}; }
};

// On the host, as a loader delivers it.
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

struct CaseOptions {
  std::string net, mode = "inference";
  index_t batch = 1;
  int warmup = -1;  // -1: 1 on the CPU, 3 on CUDA
  int repeats = 2;
  double budget_s = 0;  // 0: no limit
  nn::Device device = nn::Device::cpu();
  std::string math = "tf32", backend = "ours";
  bool unfrozen = false;  // inference in plain eval mode
};

nn::CudaOptions cuda_options(const CaseOptions& o) {
  nn::CudaOptions c;
  NN_CHECK(o.backend == "ours" || o.backend == "vendor", "--backend is ours or vendor, not '", o.backend, "'");
  if (o.backend == "vendor") {
    c.conv = c.batch_norm = nn::ConvBackend::cudnn;
    c.gemm = nn::GemmBackend::cublas;
  }
  NN_CHECK(o.math == "fp32" || o.math == "tf32" || o.math == "bf16", "--math is fp32, tf32 or bf16, not '", o.math,
           "'");
  c.math = o.math == "fp32" ? kern::MathMode::fp32 : o.math == "tf32" ? kern::MathMode::tf32 : kern::MathMode::bf16;
  return c;
}

void synchronize(nn::Device device) {
  if (device.is_cuda()) nn::cuda::synchronize();
}

struct Timing {
  std::vector<double> total_ms;
  std::vector<nlohmann::json> phases_ms;  // per repeat; empty objects for inference
};

// Runs warm-up + repeats steps and keeps the timed ones; step(t0) runs one and returns its phases.
template <class Step>
Timing time_steps(const CaseOptions& o, Step step) {
  Timing timing;
  const auto start = Clock::now();
  for (int r = 0; r < o.warmup + o.repeats; ++r) {
    synchronize(o.device);
    const auto t0 = Clock::now();
    nlohmann::json phases = step(t0);
    synchronize(o.device);
    const double total = ms_since(t0);
    if (r < o.warmup) continue;
    timing.total_ms.push_back(total);
    timing.phases_ms.push_back(std::move(phases));
    if (o.budget_s > 0 && ms_since(start) > 1e3 * o.budget_s) break;
  }
  return timing;
}

nlohmann::json run_case(const CaseOptions& o) {
  NN_CHECK(o.mode == "inference" || o.mode == "train", "--mode is inference or train, not '", o.mode, "'");
  const bool cuda = o.device.is_cuda();
  NN_CHECK(!cuda || nn::cuda::is_available(), "--device cuda: ",
           nn::cuda::built_with_cuda() ? "no CUDA device answers" : "built without CUDA");
  const nn::CudaOptionsGuard options(cuda_options(o));  // CPU tensors ignore it
  const double rss_start = proc_status_bytes("VmRSS");
  auto net = models::build_model(o.net);
  net->to(o.device);
  const Batch b = make_batch(o.batch).to(o.device);
  Timing timing;
  if (o.mode == "inference") {
    if (o.unfrozen)
      net->eval();
    else
      net->freeze_for_inference();  // as PyTorch's jit side, which is torch.jit.freeze'd
    nn::NoGradGuard no_grad;
    timing = time_steps(o, [&](Clock::time_point) {
      (void)net->logits(b.rgb, b.depth, b.ir).to_vector();
      return nlohmann::json::object();
    });
  } else {
    net->train();
    nn::optim::Adam adam(net->parameters(), {.lr = 2e-5, .beta1 = 0.5, .beta2 = 0.999});
    timing = time_steps(o, [&](Clock::time_point t0) {
      adam.zero_grad();
      Tensor loss = nn::ops::cross_entropy(net->logits(b.rgb, b.depth, b.ir, b.labels), b.labels);
      (void)loss.item();
      const double forward = ms_since(t0);
      loss.backward();
      synchronize(o.device);
      const double backward = ms_since(t0) - forward;
      adam.step();
      synchronize(o.device);
      const double total = ms_since(t0);
      return nlohmann::json{{"forward", forward}, {"backward", backward}, {"optimizer", total - forward - backward}};
    });
  }
  const auto best = static_cast<std::size_t>(std::min_element(timing.total_ms.begin(), timing.total_ms.end()) -
                                             timing.total_ms.begin());
  const double best_ms = timing.total_ms[best];
  nlohmann::json out = {{"side", o.backend == "vendor" ? "ours_vendor" : "ours"},
                        {"net", o.net},
                        {"mode", o.mode},
                        {"batch", o.batch},
                        {"device", cuda ? "cuda" : "cpu"},
                        {"threads", omp_get_max_threads()},
                        {"warmup", o.warmup},
                        {"times_ms", timing.total_ms},
                        {"best_ms", best_ms},
                        {"triplets_per_s", 1e3 * static_cast<double>(o.batch) / best_ms},
                        {"phases_ms", timing.phases_ms[best]},
                        {"rss_start_bytes", rss_start},
                        {"vm_hwm_bytes", proc_status_bytes("VmHWM")},
                        {"allocator_peak_bytes", nn::allocator_for(nn::Device::cpu()).stats().peak_live_bytes}};
  if (cuda) {
    const nn::AllocatorStats s = nn::allocator_for(o.device).stats();
    out["math"] = o.math;
    out["backend"] = o.backend;
    out["device_peak_bytes"] = s.peak_live_bytes;
    out["device_reserved_bytes"] = s.live_bytes + s.cached_bytes;
  }
  return out;
}

constexpr const char* kUsage =
    "usage: compare_models --net NAME --mode inference|train --batch N [--warmup W] [--repeats R] [--budget-s S]\n"
    "                      [--unfrozen]\n"
    "                      [--device cpu|cuda] [--math fp32|tf32|bf16] [--backend ours|vendor]\n"
    "       compare_models --info --net NAME\n"
    "       compare_models --fma-peak\n";

}  // namespace

int main(int argc, char** argv) {
  CaseOptions o;
  bool want_info = false, want_peak = false, cuda_flags = false;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      const auto value = [&]() -> std::string {
        NN_CHECK(i + 1 < argc, a, " needs a value");
        return argv[++i];
      };
      if (a == "--net") o.net = value();
      else if (a == "--mode") o.mode = value();
      else if (a == "--batch") o.batch = std::stoll(value());
      else if (a == "--warmup") o.warmup = std::stoi(value());
      else if (a == "--repeats") o.repeats = std::stoi(value());
      else if (a == "--budget-s") o.budget_s = std::stod(value());
      else if (a == "--unfrozen") o.unfrozen = true;
      else if (a == "--device") {
        const std::string d = value();
        NN_CHECK(d == "cpu" || d == "cuda", "--device is cpu or cuda, not '", d, "'");
        o.device = d == "cuda" ? nn::Device::cuda() : nn::Device::cpu();
      } else if (a == "--math") {
        o.math = value();
        cuda_flags = true;
      } else if (a == "--backend") {
        o.backend = value();
        cuda_flags = true;
      } else if (a == "--info") want_info = true;
      else if (a == "--fma-peak") want_peak = true;
      else {
        std::fputs(kUsage, stderr);
        return 2;
      }
    }
    if (!want_peak && o.net.empty()) {
      std::fputs(kUsage, stderr);
      return 2;
    }
    // A CPU result labelled "vendor" or "bf16" would be measured as plain fp32 ours.
    NN_CHECK(o.device.is_cuda() || !cuda_flags, "--math and --backend need --device cuda");
    if (o.warmup < 0) o.warmup = o.device.is_cuda() ? 3 : 1;
    NN_CHECK(o.batch >= 1 && o.warmup >= 0 && o.repeats >= 1 && o.budget_s >= 0,
             "need --batch >= 1, --warmup >= 0, --repeats >= 1, --budget-s >= 0");
    const nlohmann::json out = want_peak ? fma_peak() : want_info ? info(o.net) : run_case(o);
    std::printf("%s\n", out.dump().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "compare_models: %s\n", e.what());
    return 1;
  }
  return 0;
}
