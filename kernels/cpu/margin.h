// ArcFace's additive angular margin on the target logit (ArcMarginProduct of the reference,
// REFERENCE.md §1.6), fused into one op over the cosine matrix. Forward and backward.
#pragma once

#include <cstdint>

#include "kernels/params.h"

namespace kern {

// y (N, C) = s * cos, except at the target column c = labels[n]: y = s * phi with
//   sine = sqrt(max(1 - cos^2, 0)),  phi = cos * cos_m - sine * sin_m    (cos(theta + m))
//   easy_margin: phi if cos > 0 else cos;  otherwise: phi if cos > th else cos - mm.
// Computed in T with the constants rounded to T, as PyTorch evaluates the reference in f32.
// The reference takes sqrt(1 - cos^2) unclamped; the clamp only differs where rounding makes |cos| > 1,
// where the reference gives NaN.
template <typename T>
void arc_margin_forward_cpu(const ArcMarginParams& p, const T* cos, const std::int64_t* labels, T* y);

// dcos (N, C) = s * dy, except at the target column: s * dy * dphi/dcos of the branch taken, where
// dphi/dcos = cos_m + sin_m * cos / sine (1 - cos^2 >= 0; 0 past the clamp) for the margin branch and 1
// for the fallback. At |cos| == 1 exactly (sine 0) the margin branch's derivative is infinite, as in
// the reference. dcos may alias dy.
template <typename T>
void arc_margin_backward_cpu(const ArcMarginParams& p, const T* dy, const T* cos, const std::int64_t* labels, T* dcos);

}  // namespace kern
