// Finite-difference gradient checks, in double precision.
// L = sum(y * dy) for a random dy; each input element is nudged by ±eps and the central difference of L
// is compared with the gradient that backward() produced. Kink filter (ReLU, PReLU, max-pool): an
// element whose one-sided differences disagree sits on a kink and is skipped rather than failed.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "libnn/core/tensor.h"

namespace nn::testing {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-6;
  double rtol = 1e-5;
  bool kink_filter = false;
  std::uint64_t seed = 1234;
};

struct GradcheckResult {
  double max_abs_error = 0.0;
  std::size_t checked = 0;
  std::size_t skipped_kinks = 0;
  std::size_t failures = 0;
  std::string first_failure;
};

using GradFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Checks every element of every input that requires grad (inputs must be contiguous f64 leaves).
// Reports through doctest CHECKs labelled with `name`; also returns the measurements.
GradcheckResult gradcheck(const std::string& name, const GradFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

// A contiguous f64 leaf with normal(0, 1) values that requires grad.
Tensor randn_leaf(const Shape& shape, std::uint64_t seed, double scale = 1.0);

}  // namespace nn::testing
