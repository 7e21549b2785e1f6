// ArcFace margin CUDA kernels; contracts in margin.h (and kernels/cpu/margin.h). One thread per element;
// an element reads only dy and cos at its own index (the target's too), so dcos may alias dy.
#include "kernels/cuda/margin.h"

#include "kernels/cuda/common.cuh"

namespace kern {

namespace {

// The params' constants, rounded to T on the host as the CPU kernel rounds them.
template <typename T>
struct MarginConsts {
  index_t C;
  T s, cos_m, sin_m, th, mm;
  bool easy_margin;
};

template <typename T>
MarginConsts<T> margin_consts(const ArcMarginParams& p) {
  return {p.C, T(p.s), T(p.cos_m()), T(p.sin_m()), T(p.th()), T(p.mm()), p.easy_margin};
}

template <typename T>
struct TargetLogit {
  bool margin;  // phi = cos(theta + m) was taken (not the fallback)
  T sine;
  T value;
};

template <typename T>
__device__ __forceinline__ TargetLogit<T> target_logit(const MarginConsts<T>& k, T c) {
  const T v = T(1) - c * c;
  const T sine = sqrt(v > T(0) ? v : T(0));
  const T phi = c * k.cos_m - sine * k.sin_m;
  const bool margin = k.easy_margin ? c > T(0) : c > k.th;
  return {margin, sine, margin ? phi : k.easy_margin ? c : c - k.mm};
}

template <typename T>
__global__ void arc_margin_forward_kernel(MarginConsts<T> k, index_t n, const T* cos, const std::int64_t* labels,
                                          T* y) {
  for (index_t j = cu::global_index(); j < n; j += cu::grid_stride()) {
    const T c = cos[j];
    y[j] = (j % k.C == labels[j / k.C] ? target_logit(k, c).value : c) * k.s;
  }
}

template <typename T>
__global__ void arc_margin_backward_kernel(MarginConsts<T> k, index_t n, const T* dy, const T* cos,
                                           const std::int64_t* labels, T* dcos) {
  for (index_t j = cu::global_index(); j < n; j += cu::grid_stride()) {
    const T d = dy[j];
    if (j % k.C != labels[j / k.C]) {
      dcos[j] = d * k.s;
      continue;
    }
    const T c = cos[j];
    const TargetLogit<T> tl = target_logit(k, c);
    T slope = T(1);
    if (tl.margin) {
      // d sine / d cos = -cos / sine inside the clamp (its lower bound included, like clamp_backward).
      const T dsine = T(1) - c * c >= T(0) ? -c / tl.sine : T(0);
      slope = k.cos_m - dsine * k.sin_m;
    }
    dcos[j] = d * k.s * slope;
  }
}

}  // namespace

template <typename T>
void arc_margin_forward_cuda(const ArcMarginParams& p, const T* cos, const std::int64_t* labels, T* y,
                             Stream stream) {
  const index_t n = p.N * p.C;
  if (n <= 0) return;
  arc_margin_forward_kernel<<<cu::blocks_for(n), cu::kThreads, 0, stream>>>(margin_consts<T>(p), n, cos, labels, y);
  cu::check_launch("arc_margin_forward_cuda");
}

template <typename T>
void arc_margin_backward_cuda(const ArcMarginParams& p, const T* dy, const T* cos, const std::int64_t* labels,
                              T* dcos, Stream stream) {
  const index_t n = p.N * p.C;
  if (n <= 0) return;
  arc_margin_backward_kernel<<<cu::blocks_for(n), cu::kThreads, 0, stream>>>(margin_consts<T>(p), n, dy, cos,
                                                                             labels, dcos);
  cu::check_launch("arc_margin_backward_cuda");
}

#define KERN_INSTANTIATE(T)                                                                                    \
  template void arc_margin_forward_cuda<T>(const ArcMarginParams&, const T*, const std::int64_t*, T*, Stream); \
  template void arc_margin_backward_cuda<T>(const ArcMarginParams&, const T*, const T*, const std::int64_t*,  \
                                            T*, Stream);
KERN_INSTANTIATE(float)
KERN_INSTANTIATE(double)
#undef KERN_INSTANTIATE

}  // namespace kern
