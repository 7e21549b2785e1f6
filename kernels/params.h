// Parameter structs shared by every implementation of an op: the CPU kernel (the spec), the fast CPU
// path, CUDA kernels, cuDNN wrappers, tests and benchmarks. A new shape is one line in a table.
// kernels/ never includes libnn: kernels see raw pointers, contiguous NCHW row-major memory and these.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>

namespace kern {

using index_t = std::int64_t;

// Below this many elements an OpenMP loop runs serially: starting threads costs more than the loop.
constexpr index_t kParallelMin = 1 << 15;

// conv2d: x (N, C, H, W), w (K, C/groups, R, S), optional bias (K), y (N, K, P, Q).
struct Conv2dParams {
  index_t N = 1, C = 1, H = 1, W = 1;  // input
  index_t K = 1, R = 1, S = 1;         // output channels, kernel height and width
  index_t stride_h = 1, stride_w = 1;
  index_t pad_h = 0, pad_w = 0;
  index_t dil_h = 1, dil_w = 1;
  index_t groups = 1;
  bool has_bias = false;

  index_t P() const { return (H + 2 * pad_h - dil_h * (R - 1) - 1) / stride_h + 1; }
  index_t Q() const { return (W + 2 * pad_w - dil_w * (S - 1) - 1) / stride_w + 1; }
  index_t C_per_group() const { return C / groups; }
  index_t K_per_group() const { return K / groups; }
  double flops() const { return 2.0 * N * K * P() * Q() * C_per_group() * R * S; }
};

// What the forward does to each output value before storing it, while the block is still in cache:
// y = act(scale[k] * conv + bias[k]). Inference folds an eval-mode BatchNorm into scale and bias, so
// conv -> BN -> PReLU is one pass over y, and the weights are used as they are (nothing to re-fold when
// they change).
enum class Activation { none, relu, prelu };
template <typename T>
struct ConvEpilogue {
  const T* scale = nullptr;  // (K), or null (1)
  const T* bias = nullptr;   // (K), or null (0)
  Activation act = Activation::none;
  const T* slope = nullptr;  // prelu: negative slopes, slope_count of them (1: shared, K: per channel)
  index_t slope_count = 0;
};

// How a GPU conv or GEMM on f32 data multiplies (the CPU always uses fp32). fp32: ordinary FMAs, exact to
// about 1e-6; tf32: tensor cores with 10-bit mantissa operands and fp32 accumulation (~1e-3, PyTorch's
// allow_tf32); bf16: operands rounded to bfloat16, fp32 accumulation (~1e-2, the mixed-precision mode).
enum class MathMode { fp32, tf32, bf16 };

// max_pool2d / avg_pool2d, floor mode: x (N, C, H, W) -> y (N, C, P, Q).
struct Pool2dParams {
  index_t N = 1, C = 1, H = 1, W = 1;
  index_t kernel_h = 1, kernel_w = 1;
  index_t stride_h = 1, stride_w = 1;
  index_t pad_h = 0, pad_w = 0;
  bool count_include_pad = true;  // avg_pool2d only, PyTorch's default

  index_t P() const { return (H + 2 * pad_h - kernel_h) / stride_h + 1; }
  index_t Q() const { return (W + 2 * pad_w - kernel_w) / stride_w + 1; }
};

// batch_norm over (N, C, HW): statistics per channel C.
struct BatchNormParams {
  index_t N = 1, C = 1, HW = 1;
  double eps = 1e-5;
  double momentum = 0.1;  // running = (1 - momentum) * running + momentum * batch
};

// cross_entropy from log-probabilities (N, C) and int64 targets (N), mean reduction, PyTorch semantics:
// loss = (1 - ls) * nll + ls / C * smooth, both divided by the sum over non-ignored rows of
// weight[target] (the row count without weights). Rows whose target == ignore_index count nowhere.
struct CrossEntropyParams {
  index_t N = 1, C = 1;
  double label_smoothing = 0.0;
  bool has_weight = false;
  index_t ignore_index = -100;  // PyTorch's default
};

// torch.optim.SGD, one tensor at a time.
struct SgdParams {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  bool maximize = false;
};

// torch.optim.Adam and AdamW share these; AdamW callers usually want weight_decay = 1e-2 (its default),
// and the kernels differ only in how weight_decay enters (added to the gradient vs decoupled decay).
struct AdamParams {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool amsgrad = false;
  bool maximize = false;
};

// arc_margin (ArcFace): cos (N, C) holds cos(theta) between each sample and each class centre; labels (N)
// in [0, C).
struct ArcMarginParams {
  index_t N = 1, C = 1;
  double s = 30.0;  // scale of every logit
  double m = 0.5;   // angular margin added to the target angle
  bool easy_margin = true;

  double cos_m() const { return std::cos(m); }
  double sin_m() const { return std::sin(m); }
  double th() const { return std::cos(std::numbers::pi - m); }      // below it cos(theta + m) is not monotonic in theta
  double mm() const { return std::sin(std::numbers::pi - m) * m; }  // the linear fallback's offset
};

// Row-major GEMM: C (M, N) = alpha * op(A) (M, K) * op(B) (K, N) + beta * C.
// op(A) = A when !trans_a (A is M x K, lda >= K), else A^T (A is K x M, lda >= M); likewise B.
struct GemmParams {
  index_t M = 1, N = 1, K = 1;
  bool trans_a = false, trans_b = false;
  index_t lda = 0, ldb = 0, ldc = 0;  // 0 means "packed": the natural leading dimension
  double flops() const { return 2.0 * M * N * K; }
};

}  // namespace kern
