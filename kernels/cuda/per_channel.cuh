// Launch shapes and reductions for per-channel kernels over (N, C, HW) tensors, shared by batch_norm.cu
// and affine.cu. Included by .cu files only.
//
// A channel's N * HW values are reduced in two levels: (channel, chunk) blocks write partial results to
// a caller-provided workspace, then one warp per channel merges its chunks. One block per channel would
// leave most of an H200 idle at C = 64; chunking gives every channel several blocks. The chunk count
// depends on the shape only, never on the device or on timing, so the summation tree (and every bit of
// the result) is the same on every run.
//
// Element-wise passes run on a plane grid: blockIdx.y strides over the (n, c) planes and x over the HW
// positions, so a per-channel coefficient is computed once per plane and no element needs a division.
#pragma once

#include "kernels/cuda/common.cuh"

namespace kern::cu {

// A warp merges a channel's chunks, one per lane.
constexpr index_t kMaxChunks = 32;
// About four resident blocks of kThreads per SM of an H200 (132 SMs): one wave that keeps memory busy.
constexpr index_t kReductionBlocks = 132 * 4;
// Below this many values per chunk a block's partial costs more than the parallelism buys.
constexpr index_t kMinChunkValues = 2048;
// gridDim.y's hardware limit; larger counts are covered by striding.
constexpr index_t kMaxGridY = 65535;

struct ChannelChunks {
  index_t N, C, HW, chunks;

  __host__ __device__ index_t count() const { return N * HW; }
  // Chunk j covers the channel's values [begin(j), begin(j + 1)) in (n, k) order.
  __host__ __device__ index_t begin(index_t j) const { return count() * j / chunks; }
};

inline ChannelChunks channel_chunks(index_t N, index_t C, index_t HW) {
  index_t chunks = ceil_div(kReductionBlocks, C < 1 ? 1 : C);
  const index_t by_size = ceil_div(N * HW, kMinChunkValues);
  if (chunks > by_size) chunks = by_size;
  if (chunks > kMaxChunks) chunks = kMaxChunks;
  if (chunks < 1) chunks = 1;
  return {N, C, HW, chunks};
}

// The (chunk, channel) grid of a partial kernel: blockIdx.x is the chunk, blockIdx.y strides channels.
inline dim3 chunk_grid(const ChannelChunks& g) {
  return dim3(static_cast<unsigned>(g.chunks), static_cast<unsigned>(g.C < kMaxGridY ? g.C : kMaxGridY));
}

// Calls f(offset into the (N, C, HW) tensor) for this thread's share of chunk j of channel c. The chunk
// is walked one sample's row at a time with the threads striding along the row, so loads coalesce.
template <typename F>
__device__ void for_each_in_chunk(const ChannelChunks& g, index_t c, index_t j, F&& f) {
  const index_t e0 = g.begin(j), e1 = g.begin(j + 1);
  if (e0 >= e1) return;  // also keeps HW == 0 out of the division
  for (index_t n = e0 / g.HW; n * g.HW < e1; ++n) {
    const index_t k0 = e0 > n * g.HW ? e0 - n * g.HW : 0;
    const index_t k1 = e1 - n * g.HW < g.HW ? e1 - n * g.HW : g.HW;
    const index_t base = (n * g.C + c) * g.HW;
    for (index_t k = k0 + threadIdx.x; k < k1; k += blockDim.x) f(base + k);
  }
}

// Threads per block of a plane grid: whole warps, no more than a plane needs (HW = 49 uses 64).
struct PlaneGrid {
  dim3 grid;
  int threads;
};

inline PlaneGrid plane_grid(index_t planes, index_t HW) {
  const index_t warps = ceil_div(HW, 32);
  const int threads = static_cast<int>(warps * 32 < kThreads ? warps * 32 : kThreads);
  index_t x = ceil_div(HW, threads);
  if (x > kMaxBlocks) x = kMaxBlocks;
  const index_t y_want = ceil_div(kMaxBlocks * 4, x);  // enough blocks in all, planes striding past it
  index_t y = planes < y_want ? planes : y_want;
  if (y > kMaxGridY) y = kMaxGridY;
  return {dim3(static_cast<unsigned>(x), static_cast<unsigned>(y)), threads};
}

// Runs an element-wise op over (planes = N * C, HW): op.channel(c) returns a functor at(offset), made once
// per plane so that per-channel coefficients are read or computed once.
template <typename Op>
__global__ void per_plane_kernel(index_t planes, index_t C, index_t HW, Op op) {
  for (index_t plane = blockIdx.y; plane < planes; plane += gridDim.y) {
    const auto at = op.channel(plane % C);
    for (index_t k = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < HW;
         k += static_cast<index_t>(gridDim.x) * blockDim.x)
      at(plane * HW + k);
  }
}

template <typename Op>
void per_plane(index_t N, index_t C, index_t HW, const Op& op, Stream stream, const char* what) {
  if (N * C * HW == 0) return;
  const PlaneGrid pg = plane_grid(N * C, HW);
  per_plane_kernel<<<pg.grid, pg.threads, 0, stream>>>(N * C, C, HW, op);
  check_launch(what);
}

// Sums of two per-element terms over each channel, e.g. sum(dy) and sum(dy * x_hat).
// Workspace: the partial sums (C * chunks pairs), then the channel sums (C pairs).
inline index_t channel_sums2_workspace_size(const ChannelChunks& g) { return g.C * (g.chunks + 1) * 2; }
inline double* channel_sums2_result(const ChannelChunks& g, double* workspace) {
  return workspace + g.C * g.chunks * 2;
}

// terms.channel(c) returns a functor at(offset, s0, s1) that adds an element's two terms to s0 and s1;
// it is made once per block and channel, so per-channel constants are read once.
template <typename Terms>
__global__ void channel_sums2_partial_kernel(ChannelChunks g, Terms terms, double* partial) {
  for (index_t c = blockIdx.y; c < g.C; c += gridDim.y) {
    const auto at = terms.channel(c);
    double s0 = 0, s1 = 0;
    for_each_in_chunk(g, c, blockIdx.x, [&](index_t o) { at(o, s0, s1); });
    s0 = block_sum(s0);
    s1 = block_sum(s1);
    if (threadIdx.x == 0) {
      partial[(c * g.chunks + blockIdx.x) * 2] = s0;
      partial[(c * g.chunks + blockIdx.x) * 2 + 1] = s1;
    }
  }
}

// One warp per channel adds the chunks' partial sums (lane j holds chunk j) in warp_sum's fixed tree.
// sums (C pairs) receives them in double; out0, out1 (C), when not null, in T.
template <typename T>
__global__ void channel_sums2_finalize_kernel(ChannelChunks g, const double* partial, double* sums, T* out0,
                                              T* out1) {
  const index_t warps = grid_stride() / 32;
  const int lane = threadIdx.x & 31;
  for (index_t c = global_index() / 32; c < g.C; c += warps) {
    const bool mine = lane < g.chunks;
    const double s0 = warp_sum(mine ? partial[(c * g.chunks + lane) * 2] : 0.0);
    const double s1 = warp_sum(mine ? partial[(c * g.chunks + lane) * 2 + 1] : 0.0);
    if (lane == 0) {
      sums[c * 2] = s0;
      sums[c * 2 + 1] = s1;
      if (out0) out0[c] = T(s0);
      if (out1) out1[c] = T(s1);
    }
  }
}

// Blocks for one warp per channel.
inline int warp_per_channel_blocks(index_t C) { return blocks_for(C * 32); }

template <typename T, typename Terms>
void channel_sums2(const ChannelChunks& g, const Terms& terms, double* workspace, T* out0, T* out1,
                   Stream stream, const char* what) {
  channel_sums2_partial_kernel<<<chunk_grid(g), kThreads, 0, stream>>>(g, terms, workspace);
  check_launch(what);
  channel_sums2_finalize_kernel<<<warp_per_channel_blocks(g.C), kThreads, 0, stream>>>(
      g, workspace, channel_sums2_result(g, workspace), out0, out1);
  check_launch(what);
}

}  // namespace kern::cu
