// Joining tensors.
#pragma once

#include <vector>

#include "libnn/core/tensor.h"

namespace nn::ops {

// torch.cat: tensors of one dtype and device, equal shapes except along dim (negative counts from the
// end). Any dtype; gradients flow to the floating inputs as slices of dy.
Tensor cat(const std::vector<Tensor>& tensors, int dim);

}  // namespace nn::ops
