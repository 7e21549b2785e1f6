#include "tests/support/gradcheck.h"

#include <doctest/doctest.h>

#include <cmath>

#include "libnn/autograd/grad_mode.h"
#include "libnn/core/rng.h"
#include "libnn/ops/arith.h"

namespace nn::testing {

namespace {
double loss_value(const GradFn& fn, const std::vector<Tensor>& inputs, const Tensor& dy) {
  NoGradGuard no_grad;
  const Tensor y = fn(inputs);
  const auto yv = y.to_vector(), dv = dy.to_vector();
  double l = 0.0;
  for (std::size_t i = 0; i < yv.size(); ++i) l += yv[i] * dv[i];
  return l;
}
}  // namespace

Tensor randn_leaf(const Shape& shape, std::uint64_t seed, double scale) {
  Generator gen(seed);
  Tensor t = Tensor::normal(shape, 0.0, scale, gen, DType::f64);
  t.set_requires_grad(true);
  return t;
}

GradcheckResult gradcheck(const std::string& name, const GradFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& opt) {
  for (const auto& t : inputs) {
    if (!t.defined() || !t.requires_grad()) continue;
    REQUIRE_MESSAGE(t.dtype() == DType::f64, name, ": gradcheck inputs must be f64");
    REQUIRE_MESSAGE((t.is_contiguous() && t.is_leaf()), name, ": gradcheck inputs must be contiguous leaves");
    t.set_grad(Tensor());
  }
  const Tensor y = fn(inputs);
  Generator gen(opt.seed);
  const Tensor dy = Tensor::normal(y.shape(), 0.0, 1.0, gen, DType::f64);
  y.backward(dy);

  GradcheckResult r;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    if (!x.defined() || !x.requires_grad()) continue;
    REQUIRE_MESSAGE(x.grad().defined(), name, ": input ", k, " received no gradient");
    const auto analytic = x.grad().to_vector();
    double* p = static_cast<double*>(x.raw_data());
    for (index_t i = 0; i < x.numel(); ++i) {
      const double orig = p[i];
      p[i] = orig + opt.eps;
      const double lp = loss_value(fn, inputs, dy);
      p[i] = orig - opt.eps;
      const double lm = loss_value(fn, inputs, dy);
      p[i] = orig;
      if (opt.kink_filter) {
        const double l0 = loss_value(fn, inputs, dy);
        const double right = (lp - l0) / opt.eps, left = (l0 - lm) / opt.eps;
        if (std::abs(right - left) > 1e-3 * (1.0 + std::abs(right) + std::abs(left))) {
          ++r.skipped_kinks;
          continue;
        }
      }
      const double numeric = (lp - lm) / (2 * opt.eps);
      const double err = std::abs(numeric - analytic[i]);
      r.max_abs_error = std::max(r.max_abs_error, err);
      ++r.checked;
      if (err > opt.atol + opt.rtol * std::abs(numeric)) {
        if (r.failures++ == 0)
          r.first_failure = str("input ", k, " ", x.shape(), " element ", i, ": analytic ", analytic[i],
                                " numeric ", numeric);
      }
    }
  }
  INFO(name, ": checked ", r.checked, " elements, skipped ", r.skipped_kinks, " kinks, max abs error ",
       r.max_abs_error);
  CHECK_MESSAGE(r.failures == 0, name, ": ", r.failures, " gradient mismatches; first: ", r.first_failure);
  CHECK_MESSAGE(r.checked > 0, name, ": nothing was checked");
  return r;
}

}  // namespace nn::testing
