// Per-channel affine y = x * weight[c] + bias[c] over x (N, C, HW): dlib's "affine" layer, a batch norm
// folded into a multiply and an add (face-api's "scale" layers). The multiply and the add round
// separately, as the two tfjs ops it reproduces do. Channel reductions of the backward accumulate in double,
// one channel per thread, batch then position in order, so results do not depend on the thread count.
#pragma once

#include "kernels/params.h"

namespace kern {

// y (N, C, HW) = x * weight[c] + bias[c]; bias may be null (no add). y may alias x.
template <typename T>
void channel_affine_forward_cpu(index_t N, index_t C, index_t HW, const T* x, const T* weight, const T* bias, T* y);

// dx (N, C, HW) = dy * weight[c]; dweight (C) = sum over N, HW of dy * x; dbias (C) = sum of dy.
// dx, dweight, dbias may each be null (not wanted). dx may alias dy; nothing else aliases.
template <typename T>
void channel_affine_backward_cpu(index_t N, index_t C, index_t HW, const T* dy, const T* x, const T* weight, T* dx,
                                 T* dweight, T* dbias);

}  // namespace kern
