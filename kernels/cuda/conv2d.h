// conv2d on the GPU: implicit GEMM (the im2col matrix is never written; each tile of it is gathered into
// shared memory straight from x), forward with the fused epilogue, backward-data and backward-weight.
// Same contracts as kernels/cpu/conv2d.h, plus the MathMode of the multiply and a trailing stream.
// x, w, y, dy, dx, dw, db are device memory; params and epilogue structs live on the host, the arrays
// they point to on the device. Outputs are assigned (=). No workspace: nothing is allocated.
#pragma once

#include "kernels/cuda/stream.h"
#include "kernels/params.h"

namespace kern {

// y = epilogue(conv2d(x, w)); e.bias is the conv's bias (p.has_bias is ignored). A default ConvEpilogue
// gives the plain conv. T = float (any MathMode) or double (fp32 only).
template <typename T>
void conv2d_forward_cuda(const Conv2dParams& p, const T* x, const T* w, const ConvEpilogue<T>& e, T* y,
                         MathMode math, Stream stream);

// dx = d(sum y * dy) / dx.
template <typename T>
void conv2d_backward_data_cuda(const Conv2dParams& p, const T* dy, const T* w, T* dx, MathMode math,
                               Stream stream);

// dw = d(sum y * dy) / dw; db[k] = sum over n, p, q of dy (when db != nullptr).
template <typename T>
void conv2d_backward_weight_cuda(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db, MathMode math,
                                 Stream stream);

}  // namespace kern
