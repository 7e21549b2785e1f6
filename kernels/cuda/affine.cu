// channel_affine CUDA kernels; contracts in kernels/cpu/affine.h and kernels/cuda/affine.h.
// The CPU kernel is compiled with -ffp-contract=off; nvcc would fuse x * w + b into an FMA, so the
// forward spells out the two roundings with the _rn intrinsics, which are never contracted.
#include "kernels/cuda/affine.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/per_channel.cuh"

namespace kern {

namespace {

__device__ __forceinline__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double add_rn(double a, double b) { return __dadd_rn(a, b); }

template <typename T>
struct Forward {
  const T *x, *weight, *bias;
  T* y;

  struct At {
    const T* x;
    T* y;
    T w, b;
    bool has_bias;
    __device__ void operator()(index_t o) const {
      const T scaled = mul_rn(x[o], w);
      y[o] = has_bias ? add_rn(scaled, b) : scaled;
    }
  };
  __device__ At channel(index_t c) const { return {x, y, weight[c], bias ? bias[c] : T(0), bias != nullptr}; }
};

template <typename T>
struct Dx {
  const T *dy, *weight;
  T* dx;

  struct At {
    const T* dy;
    T* dx;
    T w;
    __device__ void operator()(index_t o) const { dx[o] = mul_rn(dy[o], w); }
  };
  __device__ At channel(index_t c) const { return {dy, dx, weight[c]}; }
};

// s0 = sum(dy * x), s1 = sum(dy).
template <typename T>
struct GradSums {
  const T *dy, *x;

  struct At {
    const T *dy, *x;
    __device__ void operator()(index_t o, double& s0, double& s1) const {
      const double g = dy[o];
      s0 += g * double(x[o]);
      s1 += g;
    }
  };
  __device__ At channel(index_t) const { return {dy, x}; }
};

}  // namespace

index_t channel_affine_backward_workspace_size(index_t N, index_t C, index_t HW) {
  return cu::channel_sums2_workspace_size(cu::channel_chunks(N, C, HW));
}

template <typename T>
void channel_affine_forward_cuda(index_t N, index_t C, index_t HW, const T* x, const T* weight, const T* bias, T* y,
                                 Stream stream) {
  cu::per_plane(N, C, HW, Forward<T>{x, weight, bias, y}, stream, "channel_affine forward");
}

template <typename T>
void channel_affine_backward_cuda(index_t N, index_t C, index_t HW, const T* dy, const T* x, const T* weight, T* dx,
                                  T* dweight, T* dbias, double* workspace, Stream stream) {
  if (C == 0) return;
  // The sums read dy before the dx pass may overwrite it (dx may alias dy); the stream orders them.
  if (dweight || dbias)
    cu::channel_sums2(cu::channel_chunks(N, C, HW), GradSums<T>{dy, x}, workspace, dweight, dbias, stream,
                      "channel_affine grad sums");
  if (dx) cu::per_plane(N, C, HW, Dx<T>{dy, weight, dx}, stream, "channel_affine dx");
}

#define KERN_INSTANTIATE(T)                                                                                   \
  template void channel_affine_forward_cuda<T>(index_t, index_t, index_t, const T*, const T*, const T*, T*,  \
                                               Stream);                                                      \
  template void channel_affine_backward_cuda<T>(index_t, index_t, index_t, const T*, const T*, const T*, T*, \
                                                T*, T*, double*, Stream);
KERN_INSTANTIATE(float)
KERN_INSTANTIATE(double)
#undef KERN_INSTANTIATE

}  // namespace kern
