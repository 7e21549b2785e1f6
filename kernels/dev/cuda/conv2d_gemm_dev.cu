// Kernel playground for conv2d and GEMM (STYLE.md's dev/cuda): numbered variants per direction, each
// checked against the CPU kernels on random data before it is timed.
//   conv2d: 1 naive direct (forward only: one thread per output, the obvious loop)
//           2 our implicit GEMM, fp32 FFMA tiles      3 ... tf32 mma.sync (production)
//           4 ... bf16 mma.sync                       5 cuDNN, tensor-op math (tf32)   6 cuDNN, FMA math
//   gemm:   2 / 3 / 4 ours as above                   5 cuBLAS tf32                    6 cuBLAS fp32
// Timing: CUDA events around each launch, 3 warm-ups, the median of 20 runs, L2 flushed before every
// run. Reported: ms, TFLOP/s, % of the H200's dense ceiling for the variant's math (fp32 67, tf32 495,
// bf16 990 TFLOP/s, datasheet) and the ratio of cuDNN / cuBLAS (tensor-op) time to ours.
// Validation runs the layer at batch 2 (the CPU reference at batch 64 would dominate the run).
//
// usage: conv2d_gemm_dev [conv|gemm|all] [batch (default 32)]
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cuda/conv2d.h"
#include "kernels/cuda/gemm.h"

using kern::Conv2dParams;
using kern::index_t;
using kern::MathMode;

namespace {

void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}
void cudnn_check(cudnnStatus_t s, const char* what) {
  if (s != CUDNN_STATUS_SUCCESS) throw std::runtime_error(std::string(what) + ": " + cudnnGetErrorString(s));
}
void cublas_check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) throw std::runtime_error(std::string(what) + ": cuBLAS status " + std::to_string(s));
}

struct Buffer {
  float* p = nullptr;
  std::size_t n = 0;
  explicit Buffer(std::size_t count) : n(count) { cuda_check(cudaMalloc(&p, (n ? n : 1) * sizeof(float)), "cudaMalloc"); }
  ~Buffer() { cudaFree(p); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  void upload(const std::vector<float>& h) {
    cuda_check(cudaMemcpy(p, h.data(), n * sizeof(float), cudaMemcpyHostToDevice), "upload");
  }
  std::vector<float> download() const {
    cuda_check(cudaDeviceSynchronize(), "kernel run");
    std::vector<float> h(n);
    cuda_check(cudaMemcpy(h.data(), p, n * sizeof(float), cudaMemcpyDeviceToHost), "download");
    return h;
  }
};

std::vector<float> random_values(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& e : v) e = u(gen);
  return v;
}

double rel_l2(const std::vector<float>& got, const std::vector<float>& want) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    num += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    den += double(want[i]) * want[i];
  }
  return std::sqrt(num / (den > 0 ? den : 1));
}

// Median ms of fn over 20 runs after 3 warm-ups; a 256 MiB memset before each run evicts L2 (50 MiB).
double time_ms(const std::function<void()>& fn) {
  static Buffer flush(64 << 20);
  cudaEvent_t start, stop;
  cuda_check(cudaEventCreate(&start), "event");
  cuda_check(cudaEventCreate(&stop), "event");
  for (int i = 0; i < 3; ++i) fn();
  std::vector<double> ms;
  for (int i = 0; i < 20; ++i) {
    cuda_check(cudaMemsetAsync(flush.p, i, flush.n * sizeof(float)), "flush");
    cuda_check(cudaEventRecord(start), "record");
    fn();
    cuda_check(cudaEventRecord(stop), "record");
    cuda_check(cudaEventSynchronize(stop), "sync");
    float t = 0;
    cuda_check(cudaEventElapsedTime(&t, start, stop), "elapsed");
    ms.push_back(t);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// Variant 1: the direct loop, one thread per output element.
__global__ void conv2d_forward_naive(Conv2dParams p, index_t P, index_t Q, const float* x, const float* w, float* y) {
  const index_t total = p.N * p.K * P * Q, Cg = p.C / p.groups, Kg = p.K / p.groups;
  for (index_t i = blockIdx.x * index_t(blockDim.x) + threadIdx.x; i < total; i += index_t(gridDim.x) * blockDim.x) {
    const index_t q = i % Q, pp = (i / Q) % P, k = (i / (P * Q)) % p.K, n = i / (P * Q * p.K);
    float sum = 0;
    for (index_t c = 0; c < Cg; ++c)
      for (index_t r = 0; r < p.R; ++r)
        for (index_t s = 0; s < p.S; ++s) {
          const index_t h = pp * p.stride_h - p.pad_h + r * p.dil_h, ww = q * p.stride_w - p.pad_w + s * p.dil_w;
          if (h < 0 || h >= p.H || ww < 0 || ww >= p.W) continue;
          sum += w[((k * Cg + c) * p.R + r) * p.S + s] * x[((n * p.C + (k / Kg) * Cg + c) * p.H + h) * p.W + ww];
        }
    y[i] = sum;
  }
}

enum class Dir { forward, backward_data, backward_weight };
const char* dir_name(Dir d) { return d == Dir::forward ? "fwd" : d == Dir::backward_data ? "bwd-data" : "bwd-weight"; }

// One conv layer's device buffers and cuDNN descriptors.
struct ConvSetup {
  Conv2dParams p;
  Buffer x, w, dy, y, dx, dw;
  cudnnHandle_t handle;
  cudnnTensorDescriptor_t xd, yd;
  cudnnFilterDescriptor_t wd;
  cudnnConvolutionDescriptor_t cd;
  Buffer* workspace = nullptr;

  explicit ConvSetup(const Conv2dParams& params, cudnnHandle_t h)
      : p(params), x(p.N * p.C * p.H * p.W), w(p.K * p.C / p.groups * p.R * p.S), dy(p.N * p.K * p.P() * p.Q()),
        y(dy.n), dx(x.n), dw(w.n), handle(h) {
    x.upload(random_values(x.n, 1));
    w.upload(random_values(w.n, 2));
    dy.upload(random_values(dy.n, 3));
    cudnn_check(cudnnCreateTensorDescriptor(&xd), "desc");
    cudnn_check(cudnnCreateTensorDescriptor(&yd), "desc");
    cudnn_check(cudnnCreateFilterDescriptor(&wd), "desc");
    cudnn_check(cudnnCreateConvolutionDescriptor(&cd), "desc");
    cudnn_check(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(p.N), int(p.C), int(p.H), int(p.W)), "x desc");
    cudnn_check(cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(p.N), int(p.K), int(p.P()), int(p.Q())), "y desc");
    cudnn_check(cudnnSetFilter4dDescriptor(wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, int(p.K), int(p.C / p.groups), int(p.R), int(p.S)), "w desc");
    cudnn_check(cudnnSetConvolution2dDescriptor(cd, int(p.pad_h), int(p.pad_w), int(p.stride_h), int(p.stride_w),
                                                int(p.dil_h), int(p.dil_w), CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT), "conv desc");
    cudnn_check(cudnnSetConvolutionGroupCount(cd, int(p.groups)), "groups");
  }
  ~ConvSetup() {
    delete workspace;
    cudnnDestroyTensorDescriptor(xd);
    cudnnDestroyTensorDescriptor(yd);
    cudnnDestroyFilterDescriptor(wd);
    cudnnDestroyConvolutionDescriptor(cd);
  }

  // The output buffer of a direction, and the launch of variant v writing it (empty: no such variant).
  Buffer& out(Dir d) { return d == Dir::forward ? y : d == Dir::backward_data ? dx : dw; }

  std::function<void()> variant(int v, Dir d) {
    switch (v) {
      case 1:
        if (d != Dir::forward) return {};
        return [this] { conv2d_forward_naive<<<132 * 16, 256>>>(p, p.P(), p.Q(), x.p, w.p, y.p); };
      case 2: case 3: case 4: {
        const MathMode m = v == 2 ? MathMode::fp32 : v == 3 ? MathMode::tf32 : MathMode::bf16;
        if (d == Dir::forward) return [this, m] { kern::conv2d_forward_cuda<float>(p, x.p, w.p, {}, y.p, m, nullptr); };
        if (d == Dir::backward_data)
          return [this, m] { kern::conv2d_backward_data_cuda<float>(p, dy.p, w.p, dx.p, m, nullptr); };
        return [this, m] { kern::conv2d_backward_weight_cuda<float>(p, x.p, dy.p, dw.p, nullptr, m, nullptr); };
      }
      case 5: case 6: return cudnn(v == 5 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH, d);
    }
    return {};
  }

  std::function<void()> cudnn(cudnnMathType_t math, Dir d) {
    cudnn_check(cudnnSetConvolutionMathType(cd, math), "math type");
    int found = 0;
    std::size_t bytes = 0;
    std::function<void()> fn;
    static const float one = 1.f, zero = 0.f;
    if (d == Dir::forward) {
      cudnnConvolutionFwdAlgoPerf_t perf;
      cudnn_check(cudnnGetConvolutionForwardAlgorithm_v7(handle, xd, wd, cd, yd, 1, &found, &perf), "fwd algo");
      cudnn_check(cudnnGetConvolutionForwardWorkspaceSize(handle, xd, wd, cd, yd, perf.algo, &bytes), "ws");
      reserve(bytes);
      fn = [this, perf, bytes] {
        cudnn_check(cudnnConvolutionForward(handle, &one, xd, x.p, wd, w.p, cd, perf.algo, workspace->p, bytes, &zero, yd, y.p), "fwd");
      };
    } else if (d == Dir::backward_data) {
      cudnnConvolutionBwdDataAlgoPerf_t perf;
      cudnn_check(cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, wd, yd, cd, xd, 1, &found, &perf), "bwd-data algo");
      cudnn_check(cudnnGetConvolutionBackwardDataWorkspaceSize(handle, wd, yd, cd, xd, perf.algo, &bytes), "ws");
      reserve(bytes);
      fn = [this, perf, bytes] {
        cudnn_check(cudnnConvolutionBackwardData(handle, &one, wd, w.p, yd, dy.p, cd, perf.algo, workspace->p, bytes, &zero, xd, dx.p), "bwd-data");
      };
    } else {
      cudnnConvolutionBwdFilterAlgoPerf_t perf;
      cudnn_check(cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle, xd, yd, cd, wd, 1, &found, &perf), "bwd-w algo");
      cudnn_check(cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, xd, yd, cd, wd, perf.algo, &bytes), "ws");
      reserve(bytes);
      fn = [this, perf, bytes] {
        cudnn_check(cudnnConvolutionBackwardFilter(handle, &one, xd, x.p, yd, dy.p, cd, perf.algo, workspace->p, bytes, &zero, wd, dw.p), "bwd-w");
      };
    }
    return fn;
  }

  void reserve(std::size_t bytes) {
    if (!workspace || workspace->n * sizeof(float) < bytes) {
      delete workspace;
      workspace = new Buffer(bytes / sizeof(float) + 1);
    }
  }
};

// CPU result of a direction (the fast CPU kernels, themselves tested against the direct reference).
std::vector<float> cpu_result(const Conv2dParams& p, Dir d, const std::vector<float>& x, const std::vector<float>& w,
                              const std::vector<float>& dy) {
  if (d == Dir::forward) {
    std::vector<float> y(p.N * p.K * p.P() * p.Q());
    kern::conv2d_forward_cpu<float>(p, x.data(), w.data(), nullptr, y.data());
    return y;
  }
  if (d == Dir::backward_data) {
    std::vector<float> dx(x.size());
    kern::conv2d_backward_data_cpu(p, dy.data(), w.data(), dx.data());
    return dx;
  }
  std::vector<float> dw(w.size());
  kern::conv2d_backward_weight_cpu<float>(p, x.data(), dy.data(), dw.data(), nullptr);
  return dw;
}

// cuDNN's FMA-math algorithms include FFT and Winograd ones, a little less exact than a direct sum.
double tolerance(int v) { return v == 1 || v == 2 ? 1e-5 : v == 6 ? 1e-4 : v == 4 ? 1e-2 : 1e-3; }
double ceiling(int v) { return v == 4 ? 990 : v == 3 || v == 5 ? 495 : 67; }  // TFLOP/s, dense, datasheet
const char* variant_name(int v) {
  static const char* names[] = {"", "naive", "ours fp32", "ours tf32", "ours bf16", "vendor tf32", "vendor fp32"};
  return names[v];
}

Conv2dParams layer(index_t N, index_t C, index_t HW, index_t K, index_t R, index_t stride, index_t pad) {
  Conv2dParams p;
  p.N = N, p.C = C, p.H = p.W = HW, p.K = K, p.R = p.S = R;
  p.stride_h = p.stride_w = stride;
  p.pad_h = p.pad_w = pad;
  return p;
}

void run_conv(index_t batch, cudnnHandle_t handle) {
  struct Layer {
    const char* name;
    Conv2dParams p;
  };
  const Layer layers[] = {
      {"stem 7x7 s2 3->64 @224", layer(batch, 3, 224, 64, 7, 2, 3)},
      {"3x3 64->64 @56", layer(batch, 64, 56, 64, 3, 1, 1)},
      {"3x3 128->128 @28", layer(batch, 128, 28, 128, 3, 1, 1)},
      {"3x3 256->256 @14", layer(batch, 256, 14, 256, 3, 1, 1)},
      {"3x3 512->512 @7", layer(batch, 512, 7, 512, 3, 1, 1)},
      {"3x3 s2 64->128 @56", layer(batch, 64, 56, 128, 3, 2, 1)},
      {"1x1 s2 64->128 @56", layer(batch, 64, 56, 128, 1, 2, 0)},
      {"1x1 s2 256->512 @14", layer(batch, 256, 14, 512, 1, 2, 0)},
  };
  std::printf("%-24s %-10s %-12s %9s %9s %7s %9s\n", "layer", "dir", "variant", "ms", "TFLOP/s", "%peak", "vendor/us");
  for (const Layer& l : layers) {
    Conv2dParams small = l.p;
    small.N = 2;
    ConvSetup check(small, handle), timed(l.p, handle);
    const auto x = check.x.download(), w = check.w.download(), dy = check.dy.download();
    for (const Dir d : {Dir::forward, Dir::backward_data, Dir::backward_weight}) {
      const auto want = cpu_result(small, d, x, w, dy);
      double vendor_ms = 0;
      std::vector<std::pair<int, double>> rows;
      for (int v = 1; v <= 6; ++v) {
        const auto fn = check.variant(v, d);
        if (!fn) continue;
        fn();
        const double err = rel_l2(check.out(d).download(), want);
        if (!(err <= tolerance(v))) {
          std::printf("%-24s %-10s %-12s FAILED validation: relative L2 error %.3g\n", l.name, dir_name(d), variant_name(v), err);
          continue;
        }
        const double ms = time_ms(timed.variant(v, d));
        if (v == 5) vendor_ms = ms;
        rows.emplace_back(v, ms);
      }
      for (const auto& [v, ms] : rows) {
        const double tflops = l.p.flops() / (ms * 1e-3) / 1e12;
        std::printf("%-24s %-10s %-12s %9.3f %9.2f %6.1f%% %9.2f\n", l.name, dir_name(d), variant_name(v), ms, tflops,
                    100 * tflops / ceiling(v), vendor_ms > 0 ? vendor_ms / ms : 0.0);
      }
    }
  }
}

void run_gemm(cublasHandle_t handle) {
  const index_t sizes[][3] = {{512, 512, 512}, {1024, 1024, 1024}, {4096, 4096, 4096}, {512, 25088, 64}, {64, 3136, 576}};
  std::printf("%-22s %-5s %-12s %9s %9s %7s %9s\n", "M x N x K", "op", "variant", "ms", "TFLOP/s", "%peak", "vendor/us");
  for (const auto& s : sizes)
    for (const bool ta : {false, true}) {
      kern::GemmParams p;
      p.M = s[0], p.N = s[1], p.K = s[2], p.trans_a = ta;
      Buffer A(p.M * p.K), B(p.K * p.N), C(p.M * p.N);
      const auto a = random_values(A.n, 1), b = random_values(B.n, 2);
      A.upload(a);
      B.upload(b);
      std::vector<float> want(C.n);
      kern::gemm_cpu(p, 1.f, a.data(), b.data(), 0.f, want.data());
      double vendor_ms = 0;
      std::vector<std::pair<int, double>> rows;
      for (int v = 2; v <= 6; ++v) {
        std::function<void()> fn;
        if (v <= 4) {
          const MathMode m = v == 2 ? MathMode::fp32 : v == 3 ? MathMode::tf32 : MathMode::bf16;
          fn = [&, m] { kern::gemm_cuda<float>(p, 1.f, A.p, B.p, 0.f, C.p, m, nullptr); };
        } else {
          // Row-major C = op(A) B is column-major C^T = B^T op(A)^T: swap the operands for cuBLAS.
          cublas_check(cublasSetMathMode(handle, v == 5 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH), "math");
          fn = [&] {
            static const float one = 1.f, zero = 0.f;
            cublas_check(cublasSgemm(handle, CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, int(p.N), int(p.M), int(p.K), &one,
                                     B.p, int(p.N), A.p, ta ? int(p.M) : int(p.K), &zero, C.p, int(p.N)), "sgemm");
          };
        }
        fn();
        const double err = rel_l2(C.download(), want);
        if (!(err <= tolerance(v))) {
          std::printf("%5lld x %5lld x %5lld %-5s %-12s FAILED validation: relative L2 error %.3g\n", (long long)p.M,
                      (long long)p.N, (long long)p.K, ta ? "TN" : "NN", variant_name(v), err);
          continue;
        }
        const double ms = time_ms(fn);
        if (v == 5) vendor_ms = ms;
        rows.emplace_back(v, ms);
      }
      for (const auto& [v, ms] : rows) {
        const double tflops = p.flops() / (ms * 1e-3) / 1e12;
        std::printf("%5lld x %5lld x %5lld %-5s %-12s %9.3f %9.2f %6.1f%% %9.2f\n", (long long)p.M, (long long)p.N,
                    (long long)p.K, ta ? "TN" : "NN", variant_name(v), ms, tflops, 100 * tflops / ceiling(v),
                    vendor_ms > 0 ? vendor_ms / ms : 0.0);
      }
    }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "all";
  const index_t batch = argc > 2 ? std::atoll(argv[2]) : 32;
  try {
    if (what == "conv" || what == "all") {
      cudnnHandle_t handle;
      cudnn_check(cudnnCreate(&handle), "cudnnCreate");
      run_conv(batch, handle);
      cudnnDestroy(handle);
    }
    if (what == "gemm" || what == "all") {
      cublasHandle_t handle;
      cublas_check(cublasCreate(&handle), "cublasCreate");
      run_gemm(handle);
      cublasDestroy(handle);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "conv2d_gemm_dev: %s\n", e.what());
    return 1;
  }
  return 0;
}
