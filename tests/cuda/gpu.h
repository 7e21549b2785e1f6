// Shared by the GPU tests (tests/cuda/): device buffers, the skip, and METHOD.md's error measure.
// Every test case starts with NN_REQUIRE_GPU(). Their meson entries pass --gpu, which makes the test
// binary exit with 77 (meson's SKIP) when no CUDA device answers, so CI shows them as skipped.
#pragma once

#include <doctest/doctest.h>

#include <cuda_runtime.h>

#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "libnn/core/device.h"

#define NN_REQUIRE_GPU()                                 \
  do {                                                   \
    if (!::nn::cuda::is_available()) {                   \
      MESSAGE("skipped: no CUDA device");                \
      return;                                            \
    }                                                    \
  } while (0)

namespace gpu_test {

inline void check_cuda(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

// A device array of n T. A new buffer is poisoned with 0xff bytes (NaN for f32, f64 and bf16, -1 for
// i64), so an output element the kernel failed to write shows up as NaN, never as a plausible zero.
template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(std::size_t n) : n_(n) {
    check_cuda(cudaMalloc(&ptr_, bytes() ? bytes() : 1), "cudaMalloc");
    poison();
  }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) { upload(host); }
  ~DeviceBuffer() { cudaFree(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* get() const { return ptr_; }
  std::size_t size() const { return n_; }
  std::size_t bytes() const { return n_ * sizeof(T); }
  void poison() { check_cuda(cudaMemset(ptr_, 0xff, bytes()), "cudaMemset"); }
  void upload(const std::vector<T>& host) {
    REQUIRE(host.size() == n_);
    check_cuda(cudaMemcpy(ptr_, host.data(), bytes(), cudaMemcpyHostToDevice), "upload");
  }
  // Synchronises with the device first, so a kernel's failure is reported here, by name of the step.
  std::vector<T> download() const {
    check_cuda(cudaDeviceSynchronize(), "kernel run");
    std::vector<T> host(n_);
    check_cuda(cudaMemcpy(host.data(), ptr_, bytes(), cudaMemcpyDeviceToHost), "download");
    return host;
  }

 private:
  std::size_t n_;
  T* ptr_ = nullptr;
};

// ||got - want|| / ||want|| in double (METHOD.md's measure); NaN or Inf anywhere in got gives +inf.
template <typename G, typename W>
double rel_l2_error(const std::vector<G>& got, const std::vector<W>& want) {
  if (got.size() != want.size()) return INFINITY;
  double num = 0, den = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = double(got[i]), w = double(want[i]);
    if (!std::isfinite(g)) return INFINITY;
    num += (g - w) * (g - w);
    den += w * w;
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// METHOD.md's tolerances: fp32 arithmetic, tf32 tensor cores, bf16 operands.
constexpr double kTolF32 = 1e-5;
constexpr double kTolTf32 = 1e-3;
constexpr double kTolBf16 = 1e-2;
// kTolF32 for f32 data; f64 results are f64 roundings of double sums taken in another order, far closer.
template <typename T>
constexpr double kTol = std::is_same_v<T, double> ? 1e-12 : kTolF32;

#define NN_CHECK_REL(got, want, tol)                                        \
  do {                                                                      \
    const double nn_rel_err_ = ::gpu_test::rel_l2_error((got), (want));     \
    INFO(#got " vs " #want ": relative L2 error " << nn_rel_err_);          \
    CHECK(nn_rel_err_ <= (tol));                                            \
  } while (0)

}  // namespace gpu_test
