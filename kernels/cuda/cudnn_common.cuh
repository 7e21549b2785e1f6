// What conv2d_cudnn.cu and batch_norm_cudnn.cu share: the cuDNN context of a (device, stream), status
// checks that name the op and its shapes, and RAII descriptors.
//
// We call cuDNN's legacy API (cudnnConvolutionForward, cudnnBatchNormalization*, ...). cuDNN 9 marks
// most of it deprecated, but the marks are compiled only when CUDNN_WARN_DEPRECATED is defined, which
// this build never does: the calls still exist in 9.x and are what PyTorch's v7 path uses too.
#pragma once

#include <cudnn.h>

#include <array>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

#include "kernels/cuda/vendor_context.cuh"

namespace kern::cu {

// One cuDNN convolution algorithm choice: what cudnnFind measured fastest for a shape.
struct ConvAlgo {
  int algo = 0;  // a cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t, by direction
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  std::size_t workspace = 0;  // bytes the algorithm needs
};

// direction, element size, MathMode, then every Conv2dParams field but has_bias (the bias is a separate
// cuDNN call and does not change the algorithm).
using ConvAlgoKey = std::array<index_t, 17>;

struct CudnnContext {
  std::mutex mutex;
  cudnnHandle_t handle = nullptr;
  // Scratch of the call in progress: the conv algorithms' workspace, batch_norm's staged inputs and
  // unwanted outputs. Large enough for every shape seen so far.
  GrowBuffer workspace;
  // Stand-ins for batch_norm's null gamma / beta (affine = false): ones per type, and zero bytes.
  GrowBuffer ones_f32, ones_f64, zeros;
  std::map<ConvAlgoKey, ConvAlgo> algos;

  explicit CudnnContext(Stream stream);
};

[[noreturn]] void throw_cudnn(cudnnStatus_t status, const std::string& where);

inline void check_cudnn(cudnnStatus_t status, const char* call, const std::string& op) {
  if (status != CUDNN_STATUS_SUCCESS) throw_cudnn(status, op + ": " + call);
}

// Element type of a cuDNN tensor holding T, which is also the type of its alpha / beta scalars.
template <typename T> constexpr cudnnDataType_t cudnn_type();
template <> constexpr cudnnDataType_t cudnn_type<float>() { return CUDNN_DATA_FLOAT; }
template <> constexpr cudnnDataType_t cudnn_type<double>() { return CUDNN_DATA_DOUBLE; }

// A contiguous NCHW tensor descriptor.
class TensorDesc {
 public:
  TensorDesc(cudnnDataType_t type, index_t n, index_t c, index_t h, index_t w, const std::string& op);
  ~TensorDesc() { cudnnDestroyTensorDescriptor(desc_); }
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
  operator cudnnTensorDescriptor_t() const { return desc_; }

 private:
  cudnnTensorDescriptor_t desc_ = nullptr;
};

}  // namespace kern::cu
