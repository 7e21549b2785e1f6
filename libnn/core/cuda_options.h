// How ops on CUDA tensors compute: which implementation runs conv2d, batch_norm and GEMMs (ours, or the
// vendor library as a backend and yardstick) and how f32 products multiply (MathMode). Thread-local,
// like grad mode, and set for a scope with CudaOptionsGuard; CPU tensors ignore it.
#pragma once

#include "kernels/params.h"

namespace nn {

enum class ConvBackend { ours, cudnn };
enum class GemmBackend { ours, cublas };

struct CudaOptions {
  ConvBackend conv = ConvBackend::ours;        // conv2d
  ConvBackend batch_norm = ConvBackend::ours;  // batch_norm (cudnn: cuDNN's spatial batch norm)
  GemmBackend gemm = GemmBackend::ours;        // linear
  // tf32 by default, as PyTorch's convolutions (torch.backends.cudnn.allow_tf32). f64 data always uses fp32.
  kern::MathMode math = kern::MathMode::tf32;

  static CudaOptions& current();  // this thread's
};

// Sets this thread's CudaOptions for its scope.
class CudaOptionsGuard {
 public:
  explicit CudaOptionsGuard(const CudaOptions& options) : previous_(CudaOptions::current()) {
    CudaOptions::current() = options;
  }
  ~CudaOptionsGuard() { CudaOptions::current() = previous_; }
  CudaOptionsGuard(const CudaOptionsGuard&) = delete;
  CudaOptionsGuard& operator=(const CudaOptionsGuard&) = delete;

 private:
  CudaOptions previous_;
};

}  // namespace nn
