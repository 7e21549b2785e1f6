// conv2d on the CPU: forward, backward-data and backward-weight (+ bias), beside the direct 7-loop
// references that are the spec. The fast paths: the blocked gemm on im2col panels packed straight from
// the input (col2im for backward-data), or, for 3x3 stride-1 layers where it pays off, Winograd
// F(4x4, 3x3) (conv2d_winograd.h), chosen per shape; results then differ from the GEMM path's by a few
// float roundings per term, and an Inf / NaN input spreads over its 4x4 output tile.
//
// Shapes (Conv2dParams p, contiguous row-major):
//   x (N, C, H, W)   w (K, C/groups, R, S)   bias, db (K)   y, dy (N, K, P, Q)
// y[n,k,p,q] = bias[k] + sum_{c in group(k), r, s} w[k, c - c0(k), r, s] *
//              x[n, c, p*stride_h - pad_h + r*dil_h, q*stride_w - pad_w + s*dil_w]   (0 outside x)
//
// requires: C and K divisible by groups; outputs do not alias inputs.
// ensures:  y, dx, dw, db are assigned (=), never accumulated: their previous contents (NaN included)
//           are ignored. bias is read only when p.has_bias (it may be null otherwise); db is written
//           when it is not null.
// Workspace: a caller-supplied scratch of at least conv2d_workspace_size(p) elements of T (the forward:
// conv2d_forward_workspace_size) makes a call allocation-free; with workspace == nullptr the kernel
// allocates its own. The scratch holds im2col columns (backward-data), staged outputs for a chunk of
// samples, or Winograd's transformed weights and one chunk of tiles, so its size is bounded (about
// max(C*R*S*P*Q, 4 Mi) elements, or 36*K*C plus 8 Mi for Winograd) rather than growing with N.
#pragma once

#include "kernels/params.h"

namespace kern {

// Elements of T of scratch needed by any of the three directions (0 when none, e.g. a 1x1 stride-1
// conv whose samples are processed one at a time), and by the forward alone (which never writes columns),
// with or without prepared weights.
index_t conv2d_workspace_size(const Conv2dParams& p);
index_t conv2d_forward_workspace_size(const Conv2dParams& p);

// y = conv2d(x, w) + bias.
template <typename T>
void conv2d_forward_cpu(const Conv2dParams& p, const T* x, const T* w, const T* bias, T* y,
                    T* workspace = nullptr);

// y = epilogue(conv2d(x, w)); p.has_bias is ignored (e.bias decides). With prepared (below, for the
// layout conv2d_forward_weight_layout(p)), w is not read; y is bitwise the same.
// requires: e.slope_count is 1 or K when e.act == prelu.
template <typename T>
void conv2d_forward_fused_cpu(const Conv2dParams& p, const T* x, const T* w, const ConvEpilogue<T>& e, T* y,
                              T* workspace = nullptr, const T* prepared = nullptr);

// Frozen inference: the forward's weights prepared once for many calls, in the form the path it takes for
// p multiplies: packed GEMM panels per group (the im2col, padded and 1x1 paths), or Winograd's transformed
// weights packed for its 36 GEMMs (4x the weights' size), or none: where Winograd has many tiles (batch
// 32), transforming per call costs a few percent and keeping them would cost 4x the weights' memory.
// Which one depends on the whole of p (batch and plane size choose the path; prepared weights make Winograd
// pay on fewer tiles, so the choice can differ from an unprepared call's); what is inside only on K, C, R,
// S and groups. For none, call the forward with prepared == nullptr.
enum class ConvWeightLayout { gemm, winograd, none };
ConvWeightLayout conv2d_forward_weight_layout(const Conv2dParams& p);
template <typename T>
index_t conv2d_prepared_weights_size(const Conv2dParams& p, ConvWeightLayout layout);
template <typename T>
void conv2d_prepare_weights_cpu(const Conv2dParams& p, ConvWeightLayout layout, const T* w, T* prepared);

// The forward and both backward passes choose, per shape, between the implicit-im2col GEMM paths below
// and Winograd F(4x4, 3x3) (conv2d_winograd.h: 3x3 stride-1 layers with many tiles). These run the GEMM
// path whatever the shape, for tests and benchmarks; same contracts and workspace sizes.
template <typename T>
void conv2d_forward_gemm_cpu(const Conv2dParams& p, const T* x, const T* w, const ConvEpilogue<T>& e, T* y,
                             T* workspace = nullptr, const T* prepared = nullptr);
template <typename T>
void conv2d_backward_data_gemm_cpu(const Conv2dParams& p, const T* dy, const T* w, T* dx, T* workspace = nullptr);
template <typename T>
void conv2d_backward_weight_gemm_cpu(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db,
                                     T* workspace = nullptr);

// dx = d(sum y * dy) / dx.
template <typename T>
void conv2d_backward_data_cpu(const Conv2dParams& p, const T* dy, const T* w, T* dx, T* workspace = nullptr);

// dw = d(sum y * dy) / dw; db[k] = sum_{n,p,q} dy[n,k,p,q] (when db != nullptr).
template <typename T>
void conv2d_backward_weight_cpu(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db,
                            T* workspace = nullptr);

// The spec: same contracts, direct loops, single-threaded, no workspace.
template <typename T>
void conv2d_forward_reference(const Conv2dParams& p, const T* x, const T* w, const T* bias, T* y);
template <typename T>
void conv2d_backward_data_reference(const Conv2dParams& p, const T* dy, const T* w, T* dx);
template <typename T>
void conv2d_backward_weight_reference(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db);

}  // namespace kern
