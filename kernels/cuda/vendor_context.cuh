// The per-(device, stream) state of the vendor backends (cuDNN in conv2d_cudnn.cu / batch_norm_cudnn.cu,
// cuBLAS in gemm_cublas.cu): one cache shape for both.
//
// Why a cache at all, when the rest of kernels/ holds no state: a cuDNN or cuBLAS handle costs
// milliseconds to create, cudnnFind costs a benchmark run per shape, and a workspace cudaMalloc'd per
// call would synchronise the device. So each (device, stream) gets one context, created on first use and
// kept until the process exits: its handle is bound to that stream once, its workspace and algorithm
// choices serve every later call. Nothing else is process-global. Calls on different streams touch
// different contexts and run concurrently; calls on one stream are ordered by the stream anyway, and the
// context's mutex orders their host side (two threads may share a stream).
//
// Contexts are never destroyed: destructors run after the CUDA runtime has been torn down at exit, when
// cudnnDestroy / cudaFree can fail or crash. A stream destroyed and a new one created at the same address
// finds the old context, which is harmless: the context holds only that address, the same stream value.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>

#include "kernels/cuda/common.cuh"

namespace kern::cu {

// A context of type Ctx (constructed as Ctx(stream) with the device current) and the lock on it, held
// for the duration of one vendor call.
template <typename Ctx>
struct LockedContext {
  Ctx& ctx;
  std::unique_lock<std::mutex> lock;
};

template <typename Ctx>
LockedContext<Ctx> context_for(Stream stream) {
  static std::mutex map_mutex;
  // Leaked on purpose: see the file comment.
  static auto* contexts = new std::map<std::pair<int, Stream>, std::unique_ptr<Ctx>>();
  int device = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  Ctx* ctx;
  {
    std::lock_guard<std::mutex> guard(map_mutex);
    auto& slot = (*contexts)[{device, stream}];
    if (!slot) slot = std::make_unique<Ctx>(stream);
    ctx = slot.get();
  }
  return {*ctx, std::unique_lock<std::mutex>(ctx->mutex)};
}

// Device memory that only grows: a cudaMalloc when a call needs more than any before it, never in steady
// state. Ordered on its context's stream: the old buffer may still be read by work queued there, so a
// growth waits for the stream before freeing it.
class GrowBuffer {
 public:
  explicit GrowBuffer(Stream stream) : stream_(stream) {}
  GrowBuffer(const GrowBuffer&) = delete;
  GrowBuffer& operator=(const GrowBuffer&) = delete;

  void* get() const { return ptr_; }
  std::size_t bytes() const { return bytes_; }

  // Returns true when the buffer was reallocated (its contents are then undefined).
  bool reserve(std::size_t bytes) {
    if (bytes <= bytes_) return false;
    if (ptr_) {
      check(cudaStreamSynchronize(stream_), "workspace growth: cudaStreamSynchronize");
      check(cudaFree(ptr_), "workspace growth: cudaFree");
      ptr_ = nullptr;
      bytes_ = 0;
    }
    const std::string what = "workspace growth: cudaMalloc of " + std::to_string(bytes) + " bytes";
    check(cudaMalloc(&ptr_, bytes), what.c_str());
    bytes_ = bytes;
    return true;
  }

 private:
  Stream stream_;
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

// Carves aligned pieces out of a workspace: offsets rounded up to 256 bytes (cudaMalloc's alignment).
constexpr std::size_t align_up(std::size_t bytes) { return (bytes + 255) / 256 * 256; }

// The MathMode a float or double vendor call accepts: double multiplies in fp64 whatever the mode, so only
// fp32 is meaningful; bf16 needs bf16 tensors.
template <typename T>
void check_math(MathMode math, const char* op) {
  if (math == MathMode::bf16)
    throw std::invalid_argument(std::string(op) + ": MathMode::bf16 needs bf16 tensors, not f32/f64 data");
  if constexpr (sizeof(T) == 8) {
    if (math != MathMode::fp32) throw std::invalid_argument(std::string(op) + ": f64 data takes MathMode::fp32 only");
  }
}

// cuDNN and cuBLAS take int sizes.
inline int to_int(index_t v, const std::string& op) {
  if (v < 0 || v > 0x7fffffff)
    throw std::invalid_argument(op + ": size " + std::to_string(v) + " does not fit the vendor library's int");
  return static_cast<int>(v);
}

}  // namespace kern::cu
