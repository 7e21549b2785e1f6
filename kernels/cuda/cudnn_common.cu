#include "kernels/cuda/cudnn_common.cuh"

namespace kern::cu {

CudnnContext::CudnnContext(Stream stream)
    : workspace(stream), ones_f32(stream), ones_f64(stream), zeros(stream) {
  check_cudnn(cudnnCreate(&handle), "cudnnCreate", "cuDNN context");
  check_cudnn(cudnnSetStream(handle, stream), "cudnnSetStream", "cuDNN context");
}

void throw_cudnn(cudnnStatus_t status, const std::string& where) {
  throw std::runtime_error(where + ": " + cudnnGetErrorString(status));
}

TensorDesc::TensorDesc(cudnnDataType_t type, index_t n, index_t c, index_t h, index_t w, const std::string& op) {
  const int dims[4] = {to_int(n, op), to_int(c, op), to_int(h, op), to_int(w, op)};
  check_cudnn(cudnnCreateTensorDescriptor(&desc_), "cudnnCreateTensorDescriptor", op);
  const cudnnStatus_t status =
      cudnnSetTensor4dDescriptor(desc_, CUDNN_TENSOR_NCHW, type, dims[0], dims[1], dims[2], dims[3]);
  if (status != CUDNN_STATUS_SUCCESS) {
    cudnnDestroyTensorDescriptor(desc_);
    throw_cudnn(status, op + ": cudnnSetTensor4dDescriptor");
  }
}

}  // namespace kern::cu
