// The CUDA twin of kernels/cpu/margin.h: ArcFace's additive angular margin over the cosine matrix,
// forward and backward. Same names with _cuda, same arguments plus a trailing stream, same contracts.
// cos, labels, y, dy, dcos are device memory; the params struct (params.h) stays on the host. T = float or
// double.
#pragma once

#include <cstdint>

#include "kernels/cuda/stream.h"
#include "kernels/params.h"

namespace kern {

// y (N, C) = s * cos, with s * phi (or the fallback) at each row's target column.
template <typename T>
void arc_margin_forward_cuda(const ArcMarginParams& p, const T* cos, const std::int64_t* labels, T* y,
                             Stream stream);

// dcos (N, C) = s * dy, times the branch's dphi/dcos at the target column. dcos may alias dy.
template <typename T>
void arc_margin_backward_cuda(const ArcMarginParams& p, const T* dy, const T* cos, const std::int64_t* labels,
                              T* dcos, Stream stream);

}  // namespace kern
