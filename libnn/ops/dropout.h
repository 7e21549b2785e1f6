// Inverted dropout, torch.nn.functional.dropout semantics.
#pragma once

#include "libnn/core/rng.h"
#include "libnn/core/tensor.h"

namespace nn::ops {

// training and p > 0: each element is kept with probability 1 - p and scaled by 1 / (1 - p), else 0
// (p == 1 drops everything). Otherwise returns x itself. The mask is drawn from gen's Philox stream:
// element i depends only on (seed, offset, i), so it is reproducible and independent of thread count;
// gen's offset advances by ceil(numel / 4).
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen = default_generator());

}  // namespace nn::ops
