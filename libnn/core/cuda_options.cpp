#include "libnn/core/cuda_options.h"

namespace nn {

CudaOptions& CudaOptions::current() {
  thread_local CudaOptions options;
  return options;
}

}  // namespace nn
