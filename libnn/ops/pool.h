// Pooling over x (N, C, H, W), PyTorch semantics: floor mode, no dilation.
// Window geometry is given as Size2 {h, w}, or one number for both: max_pool2d(x, 3, 2, 1).
#pragma once

#include "libnn/ops/common.h"

namespace nn::ops {

// Requires padding <= kernel / 2 and kernel <= padded input. Kernel 1 with stride 2 is a subsample.
// Backward routes each dy to the argmax saved by the forward (int64 indices, first maximum wins).
Tensor max_pool2d(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding = 0);

// count_include_pad: padded zeros count in the divisor (PyTorch's default).
Tensor avg_pool2d(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding = 0, bool count_include_pad = true);

// Only output_size 1 (global average pooling) is supported: -> (N, C, 1, 1).
Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size);

// Global max pooling, like adaptive_max_pool2d(x, 1): -> (N, C, 1, 1).
Tensor global_max_pool2d(const Tensor& x);

}  // namespace nn::ops
