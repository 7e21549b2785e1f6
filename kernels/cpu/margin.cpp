// ArcFace margin CPU kernels; contracts in margin.h.
#include "kernels/cpu/margin.h"

#include <cmath>

namespace kern {

namespace {

// Which branch the target logit takes, and its value (without the scale s).
template <typename T>
struct TargetLogit {
  bool margin;  // phi = cos(theta + m) was taken (not the fallback)
  T sine;       // sqrt(max(1 - cos^2, 0))
  T value;
};

template <typename T>
TargetLogit<T> target_logit(const ArcMarginParams& p, T c) {
  const T v = T(1) - c * c;
  const T sine = std::sqrt(v > T(0) ? v : T(0));
  const T phi = c * T(p.cos_m()) - sine * T(p.sin_m());
  const bool margin = p.easy_margin ? c > T(0) : c > T(p.th());
  return {margin, sine, margin ? phi : p.easy_margin ? c : c - T(p.mm())};
}

}  // namespace

template <typename T>
void arc_margin_forward_cpu(const ArcMarginParams& p, const T* cos, const std::int64_t* labels, T* y) {
  const T s = T(p.s);
  for (index_t n = 0; n < p.N; ++n) {
    const T* cr = cos + n * p.C;
    T* yr = y + n * p.C;
    for (index_t c = 0; c < p.C; ++c) yr[c] = cr[c] * s;
    const index_t t = labels[n];
    yr[t] = target_logit(p, cr[t]).value * s;
  }
}

template <typename T>
void arc_margin_backward_cpu(const ArcMarginParams& p, const T* dy, const T* cos, const std::int64_t* labels, T* dcos) {
  const T s = T(p.s);
  for (index_t n = 0; n < p.N; ++n) {
    const T* cr = cos + n * p.C;
    const T* dr = dy + n * p.C;
    T* gr = dcos + n * p.C;
    const index_t t = labels[n];
    const T dt = dr[t];  // read before the row is written: dcos may alias dy
    for (index_t c = 0; c < p.C; ++c) gr[c] = dr[c] * s;
    const T c = cr[t];
    const TargetLogit<T> tl = target_logit(p, c);
    T slope = T(1);
    if (tl.margin) {
      // d sine / d cos = -cos / sine inside the clamp (its lower bound included, like clamp_backward).
      const T dsine = T(1) - c * c >= T(0) ? -c / tl.sine : T(0);
      slope = T(p.cos_m()) - dsine * T(p.sin_m());
    }
    gr[t] = dt * s * slope;
  }
}

#define KERN_INSTANTIATE(T)                                                                           \
  template void arc_margin_forward_cpu<T>(const ArcMarginParams&, const T*, const std::int64_t*, T*); \
  template void arc_margin_backward_cpu<T>(const ArcMarginParams&, const T*, const T*, const std::int64_t*, T*);
KERN_INSTANTIATE(float)
KERN_INSTANTIATE(double)
#undef KERN_INSTANTIATE

}  // namespace kern
