// ArcFace's additive angular margin (the reference's ArcMarginProduct, REFERENCE.md §1.6) as one fused op
// on the cosine matrix. The head computes cos = linear(l2_normalize(x), l2_normalize(W)) with the
// ordinary ops and calls arc_margin in training mode; in eval mode it outputs s * cos.
#pragma once

#include "libnn/core/tensor.h"

namespace nn::ops {

// cos (N, C) floating, labels i64 (N) in [0, C) -> (N, C) logits: s * cos everywhere except the target
// column labels[n], which becomes s * phi with
//   sine = sqrt(max(1 - cos^2, 0)), phi = cos cos(m) - sine sin(m)   (= cos(theta + m))
//   easy_margin: phi where cos > 0, else cos
//   otherwise:   phi where cos > cos(pi - m), else cos - sin(pi - m) m
// i.e. s * (one_hot * phi + (1 - one_hot) * cos). Differentiable in cos; labels are constants.
Tensor arc_margin(const Tensor& cos, const Tensor& labels, double s, double m, bool easy_margin);

}  // namespace nn::ops
