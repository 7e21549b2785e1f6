// Winograd F(4x4, 3x3) conv2d on the CPU for 3x3 stride-1 convs: forward, backward-data and
// backward-weight, an alternative to the GEMM paths of kernels/cpu/conv2d.h with 4x fewer multiplies on
// whole 4x4 output tiles (see conv2d_winograd.cpp for the choice of tile size and its accuracy). It pays off when there
// are many tiles per weight. Measured on ResNet34's block layers (bench/bench_conv2d --batch=N,
// BM_conv2d_*/winograd against /ours): at batch 32 the 54x54, 26x26 and 12x12 layers run 1.4-2.7x
// faster than im2col, the 5x5 one (2x2 tiles compute 64 outputs for 25) 0.75-1.15x; at batch 1, 54x54
// gains 2x, 26x26 about breaks even (0.95-1.4x), and 12x12 and 5x5 are 3-10x slower, because the 36
// K x C transformed weights are recomputed every call (38 MB at 512 channels) and then dominate.
//
// Shapes and contracts are exactly those of conv2d_forward_cpu / conv2d_backward_data_cpu /
// conv2d_backward_weight_cpu: x (N, C, H, W), w and dw (K, C, 3, 3), bias (K), y and dy (N, K, P, Q),
// contiguous row-major; y, dx and dw are assigned (=), never accumulated; bias is read only when
// p.has_bias. The transforms amplify rounding: in float the error is a few 1e-6 of the sum of |terms|
// (im2col: ~1e-7), so results match the GEMM paths closely but not bitwise. An Inf or NaN in x (or w)
// makes whole 4x4 output tiles NaN, not just the outputs whose window holds it.
// Workspace: a caller-supplied scratch of at least conv2d_winograd_workspace_size(p) elements of T makes
// a call allocation-free; with nullptr the kernel allocates its own. Tiles are processed in chunks, so
// the scratch is bounded (transformed weights plus one chunk's transformed inputs and products) rather
// than growing with N.
#pragma once

#include "kernels/params.h"

namespace kern {

// 3x3 kernel, stride 1, dilation 1, groups 1 and padding 0..2 on each side. Padding is capped at 2
// because backward-data runs as a forward conv with padding 2 - pad.
bool winograd_applicable(const Conv2dParams& p);

enum class ConvPass { forward, backward_data, backward_weight };

// Whether this pass of conv2d.h should take this path: applicable, and measured faster than the GEMM
// paths for shapes like this one (enough tiles, little edge waste, enough channels). weights_prepared:
// the forward's weights come transformed (conv2d_winograd_prepare_weights_cpu), which makes it pay off on
// fewer tiles.
bool winograd_pays_off(const Conv2dParams& p, ConvPass pass, bool weights_prepared = false);

// The forward's 4x4 output tiles, over all samples (0 when !winograd_applicable(p)).
index_t conv2d_winograd_tiles(const Conv2dParams& p);

// Elements of T of scratch needed by either direction (0 when !winograd_applicable(p)).
index_t conv2d_winograd_workspace_size(const Conv2dParams& p);

// y = conv2d(x, w) + bias. requires: winograd_applicable(p) (else throws std::invalid_argument).
template <typename T>
void conv2d_forward_winograd_cpu(const Conv2dParams& p, const T* x, const T* w, const T* bias, T* y,
                                 T* workspace = nullptr);

// y = epilogue(conv2d(x, w)) (p.has_bias is ignored), as conv2d_forward_fused_cpu. With prepared (below),
// w is not read.
template <typename T>
void conv2d_forward_winograd_cpu(const Conv2dParams& p, const T* x, const T* w, const ConvEpilogue<T>& e, T* y,
                                 T* workspace = nullptr, const T* prepared = nullptr);

// The forward's transformed weights, packed for its 36 GEMMs, made once for many calls (frozen inference):
// conv2d_winograd_prepared_size(p) elements (4x the weights), depending on p only through K and C.
// requires: winograd_applicable(p).
template <typename T>
index_t conv2d_winograd_prepared_size(const Conv2dParams& p);
template <typename T>
void conv2d_winograd_prepare_weights_cpu(const Conv2dParams& p, const T* w, T* prepared);

// dx = d(sum y * dy) / dx. requires: winograd_applicable(p) (else throws std::invalid_argument).
template <typename T>
void conv2d_backward_data_winograd_cpu(const Conv2dParams& p, const T* dy, const T* w, T* dx,
                                       T* workspace = nullptr);

// dw = d(sum y * dy) / dw, assigned (the bias gradient is conv2d_backward_weight_cpu's). requires:
// winograd_applicable(p) (else throws std::invalid_argument).
template <typename T>
void conv2d_backward_weight_winograd_cpu(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* workspace = nullptr);

}  // namespace kern
