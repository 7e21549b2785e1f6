// Shared by the .cu files of the pointwise op families (elementwise, activation, dropout, ...): the
// arithmetic type of a storage type, and one map kernel that applies a functor element by element with
// 16-byte vector loads and stores whenever every array allows them. Included by .cu files only.
#pragma once

#include <cstdint>

#include "kernels/cuda/common.cuh"

namespace kern::cu {

// Pointwise arithmetic runs in T itself for f32 and f64 (so results round as the CPU twin's do) and in
// float for bf16 (as PyTorch computes bf16 ops), rounding once on the store.
template <typename T> struct MathOf { using type = T; };
template <> struct MathOf<__nv_bfloat16> { using type = float; };
template <typename T> using Math = typename MathOf<T>::type;

template <typename T>
__host__ __device__ __forceinline__ Math<T> to_math(T v) { return v; }
__host__ __device__ __forceinline__ float to_math(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__host__ __device__ __forceinline__ T from_math(Math<T> v) { return static_cast<T>(v); }
template <>
__host__ __device__ __forceinline__ __nv_bfloat16 from_math<__nv_bfloat16>(float v) { return __float2bfloat16(v); }

// Elements per 16-byte access of an array of T.
template <typename T> constexpr int kVec = 16 / sizeof(T) > 0 ? int(16 / sizeof(T)) : 1;

template <typename T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

template <int V, typename T>
__device__ __forceinline__ Pack<T, V> load_pack(const T* p) { return *reinterpret_cast<const Pack<T, V>*>(p); }

// Every input is read (all of its pack) before the output is written, so y may alias an input exactly.
template <int V, typename T, typename F, typename... P>
__device__ __forceinline__ void apply_pack(const F& f, T* y, const P&... in) {
  Pack<T, V> out;
#pragma unroll
  for (int k = 0; k < V; ++k) out.v[k] = f(in.v[k]...);
  *reinterpret_cast<Pack<T, V>*>(y) = out;
}

// y[i] = f(in[i]...) for i < n: V elements per step (packs), the tail of n % V one element per thread.
template <int V, typename T, typename F, typename... In>
__global__ void map_kernel(index_t n, F f, T* y, const In*... in) {
  const index_t packs = n / V;
  for (index_t p = global_index(); p < packs; p += grid_stride())
    apply_pack<V>(f, y + p * V, load_pack<V>(in + p * V)...);
  for (index_t i = packs * V + global_index(); i < n; i += grid_stride()) y[i] = f(in[i]...);
}

template <int V, typename T>
inline bool pack_aligned(const T* p) {
  return reinterpret_cast<std::uintptr_t>(p) % (sizeof(T) * V) == 0;
}

// Launches map_kernel, vectorised when the output and every input start on a pack boundary (any offset
// view breaks that; it then runs one element per thread, same results).
template <typename T, typename F, typename... In>
void launch_map(const char* name, index_t n, const F& f, Stream stream, T* y, const In*... in) {
  if (n <= 0) return;
  constexpr int V = kVec<T>;
  if (pack_aligned<V>(y) && (pack_aligned<V>(in) && ...))
    map_kernel<V><<<blocks_for(ceil_div(n, V)), kThreads, 0, stream>>>(n, f, y, in...);
  else
    map_kernel<1><<<blocks_for(n), kThreads, 0, stream>>>(n, f, y, in...);
  check_launch(name);
}

// Threads of a block that reduces rows of D elements: a warp for short rows, up to kThreads for long ones
// (a power of two, so block_sum's multiple-of-32 rule holds).
inline int row_threads(index_t D) {
  int t = 32;
  while (t < kThreads && t < D) t *= 2;
  return t;
}

// Row-block kernels loop over rows with a grid-stride on blockIdx.x.
inline int row_blocks(index_t rows) {
  return static_cast<int>(rows < 1 ? 1 : rows > kMaxBlocks ? kMaxBlocks : rows);
}

}  // namespace kern::cu
