// conv2d, its fused inference form, and linear. On the CPU they call the kernels/cpu GEMM-based
// kernels; on a CUDA device ours (kernels/cuda) or the vendor library's, as CudaOptions says.
#include "libnn/ops/conv.h"

#include <type_traits>

#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cuda/conv2d.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/vendor.h"
#include "libnn/autograd/node.h"
#include "libnn/core/cuda_options.h"
#include "libnn/core/dispatch.h"
#include "libnn/core/trace.h"

namespace nn::ops {

namespace {

// The MathMode a CUDA product of T runs in: f64 has only the exact one.
template <typename T>
kern::MathMode math_for() {
  return std::is_same_v<T, double> ? kern::MathMode::fp32 : CudaOptions::current().math;
}

// The CUDA conv2d directions, ours or cuDNN's. The vendor forward has no epilogue but the bias, so a
// fused inference conv always runs ours.
template <typename T>
void conv2d_forward_on_cuda(const kern::Conv2dParams& p, const T* x, const T* w, const kern::ConvEpilogue<T>& e, T* y) {
  const bool plain = e.scale == nullptr && e.act == kern::Activation::none;
  if (CudaOptions::current().conv == ConvBackend::cudnn && plain)
    NN_CUDA(conv2d_forward_cudnn, p, x, w, e.bias, y, math_for<T>());
  else
    NN_CUDA(conv2d_forward_cuda, p, x, w, e, y, math_for<T>());
}

template <typename T>
void conv2d_backward_on_cuda(const kern::Conv2dParams& p, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db) {
  const bool cudnn = CudaOptions::current().conv == ConvBackend::cudnn;
  const kern::MathMode math = math_for<T>();
  if (dx && cudnn) NN_CUDA(conv2d_backward_data_cudnn, p, dy, w, dx, math);
  if (dx && !cudnn) NN_CUDA(conv2d_backward_data_cuda, p, dy, w, dx, math);
  if (dw && cudnn) NN_CUDA(conv2d_backward_weight_cudnn, p, x, dy, dw, db, math);
  if (dw && !cudnn) NN_CUDA(conv2d_backward_weight_cuda, p, x, dy, dw, db, math);
}

// C = alpha op(A) op(B) + beta C on the operands' device.
template <typename T>
void gemm_on(Device device, const kern::GemmParams& g, T alpha, const T* A, const T* B, T beta, T* C) {
  if (device.is_cpu())
    kern::gemm_cpu(g, alpha, A, B, beta, C);
  else if (CudaOptions::current().gemm == GemmBackend::cublas)
    NN_CUDA(gemm_cublas, g, alpha, A, B, beta, C, math_for<T>());
  else
    NN_CUDA(gemm_cuda, g, alpha, A, B, beta, C, math_for<T>());
}

kern::Conv2dParams conv_params(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o) {
  constexpr const char* op = "conv2d";
  check_floating(x, op, "input");
  check_floating(w, op, "weight");
  check_same(x, w, op);
  NN_CHECK(x.dim() == 4, "conv2d: input must be (N, C, H, W), got ", x.describe());
  NN_CHECK(w.dim() == 4, "conv2d: weight must be (K, C/groups, R, S), got ", w.describe());
  NN_CHECK(o.groups >= 1 && o.stride.h >= 1 && o.stride.w >= 1 && o.dilation.h >= 1 && o.dilation.w >= 1 &&
               o.padding.h >= 0 && o.padding.w >= 0,
           "conv2d: groups, stride and dilation must be >= 1 and padding >= 0");
  kern::Conv2dParams p;
  p.N = x.size(0), p.C = x.size(1), p.H = x.size(2), p.W = x.size(3);
  p.K = w.size(0), p.R = w.size(2), p.S = w.size(3);
  p.stride_h = o.stride.h, p.stride_w = o.stride.w;
  p.pad_h = o.padding.h, p.pad_w = o.padding.w;
  p.dil_h = o.dilation.h, p.dil_w = o.dilation.w;
  p.groups = o.groups;
  NN_CHECK(p.C % p.groups == 0 && p.K % p.groups == 0, "conv2d: channels in ", p.C, " and out ", p.K,
           " must be divisible by groups ", p.groups);
  NN_CHECK(w.size(1) * p.groups == p.C, "conv2d: input ", x.shape(), " has ", p.C, " channels but weight ",
           w.shape(), " expects ", w.size(1) * p.groups, " (groups ", p.groups, ")");
  NN_CHECK(p.P() >= 1 && p.Q() >= 1, "conv2d: kernel (", p.R, ", ", p.S, ") with dilation (", p.dil_h, ", ",
           p.dil_w, ") is larger than the padded input of ", x.shape(), " (padding (", p.pad_h, ", ", p.pad_w, "))");
  if (b.defined()) {
    check_same(x, b, op);
    NN_CHECK(b.dim() == 1 && b.size(0) == p.K, "conv2d: bias must be (", p.K, "), got ", b.describe());
    p.has_bias = true;
  }
  return p;
}

// The CPU kernels' scratch; the CUDA kernels need none.
Tensor workspace(Device device, index_t elements, DType dtype) {
  return device.is_cpu() && elements > 0 ? Tensor::empty({elements}, dtype) : Tensor();
}

template <typename T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

}  // namespace

Tensor conv2d(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, const Conv2dOptions& options) {
  const kern::Conv2dParams p = conv_params(x_in, w_in, b_in, options);
  const Tensor x = x_in.contiguous(), w = w_in.contiguous();
  const Tensor b = b_in.defined() ? b_in.contiguous() : Tensor();
  Tensor y = Tensor::empty({p.N, p.K, p.P(), p.Q()}, x.dtype(), x.device());
  const Tensor ws = workspace(x.device(), kern::conv2d_forward_workspace_size(p), x.dtype());
  dispatch_floating(x.dtype(), "conv2d", [&]<typename T>() {
    if (x.device().is_cuda())
      conv2d_forward_on_cuda(p, x.data<T>(), w.data<T>(), kern::ConvEpilogue<T>{.bias = data_or_null<T>(b)},
                             y.data<T>());
    else
      kern::conv2d_forward_cpu(p, x.data<T>(), w.data<T>(), data_or_null<T>(b), y.data<T>(), data_or_null<T>(ws));
  });
  if (autograd::needs_grad({&x_in, &w_in, &b_in})) {
    autograd::record(y, "conv2d", {x_in, w_in, b_in}, [p, x, w](const Tensor& dy_in, const autograd::GradMask& needs) {
      const Tensor dy = dy_in.contiguous();
      autograd::Grads g(3);
      const Tensor ws = workspace(dy.device(), kern::conv2d_workspace_size(p), dy.dtype());
      if (needs[0]) g[0] = Tensor::empty(x.shape(), x.dtype(), x.device());
      const Tensor dw = needs[1] || needs[2] ? Tensor::empty(w.shape(), w.dtype(), w.device()) : Tensor();
      if (needs[1]) g[1] = dw;
      if (needs[2]) g[2] = Tensor::empty({p.K}, w.dtype(), w.device());
      dispatch_floating(dy.dtype(), "conv2d backward", [&]<typename T>() {
        if (dy.device().is_cuda()) {
          conv2d_backward_on_cuda(p, x.data<T>(), w.data<T>(), dy.data<T>(), data_or_null<T>(g[0]), data_or_null<T>(dw),
                                  data_or_null<T>(g[2]));
          return;
        }
        if (needs[0]) kern::conv2d_backward_data_cpu(p, dy.data<T>(), w.data<T>(), g[0].data<T>(), data_or_null<T>(ws));
        if (dw.defined())
          kern::conv2d_backward_weight_cpu(p, x.data<T>(), dy.data<T>(), dw.data<T>(), data_or_null<T>(g[2]),
                                           data_or_null<T>(ws));
      });
      return g;
    });
  }
  trace::record("conv2d", y, {&x_in, &w_in, &b_in}, p.flops());
  return y;
}

Tensor PreparedConvWeights::get(int form, DType dtype, const std::function<Tensor()>& make) {
  const std::lock_guard lock(mutex_);
  Tensor& t = tensors_.at(std::size_t(form));
  if (!t.defined() || t.dtype() != dtype) t = make();
  return t;
}

void PreparedConvWeights::clear() {
  const std::lock_guard lock(mutex_);
  tensors_ = {};
}

Tensor conv2d_fused(const Tensor& x_in, const Tensor& w_in, const Conv2dOptions& options, const ConvEpilogue& e,
                    PreparedConvWeights* prepared) {
  constexpr const char* op = "conv2d_fused";
  const kern::Conv2dParams p = conv_params(x_in, w_in, {}, options);
  NN_CHECK(!autograd::needs_grad({&x_in, &w_in, &e.scale, &e.shift, &e.slope}), op,
           ": inference only, but an input needs a gradient (run under NoGradGuard or detach)");
  auto per_channel = [&](const Tensor& t, const char* arg, bool one_ok) {
    if (!t.defined()) return Tensor();
    check_same(x_in, t, op);
    NN_CHECK(t.dim() == 1 && (t.size(0) == p.K || (one_ok && t.size(0) == 1)), op, ": ", arg, " must be (",
             p.K, ")", one_ok ? " or (1)" : "", ", got ", t.describe());
    return t.contiguous();
  };
  const Tensor scale = per_channel(e.scale, "scale", false), shift = per_channel(e.shift, "shift", false);
  const Tensor slope = per_channel(e.slope, "slope", true);
  NN_CHECK(e.act != Activation::prelu || slope.defined(), op, ": PReLU needs its slope tensor");
  const Tensor x = x_in.contiguous(), w = w_in.contiguous();
  Tensor y = Tensor::empty({p.N, p.K, p.P(), p.Q()}, x.dtype(), x.device());
  const Tensor ws = workspace(x.device(), kern::conv2d_forward_workspace_size(p), x.dtype());
  dispatch_floating(x.dtype(), op, [&]<typename T>() {
    kern::ConvEpilogue<T> ke;
    ke.scale = data_or_null<T>(scale);
    ke.bias = data_or_null<T>(shift);
    ke.act = e.act == Activation::relu    ? kern::Activation::relu
             : e.act == Activation::prelu ? kern::Activation::prelu
                                          : kern::Activation::none;
    ke.slope = data_or_null<T>(slope);
    ke.slope_count = slope.defined() ? slope.numel() : 0;
    if (x.device().is_cuda()) {
      conv2d_forward_on_cuda(p, x.data<T>(), w.data<T>(), ke, y.data<T>());
      return;
    }
    Tensor ready;
    const kern::ConvWeightLayout form = kern::conv2d_forward_weight_layout(p);
    if (prepared && form != kern::ConvWeightLayout::none) {
      ready = prepared->get(int(form), x.dtype(), [&] {
        Tensor t = Tensor::empty({kern::conv2d_prepared_weights_size<T>(p, form)}, x.dtype());
        kern::conv2d_prepare_weights_cpu(p, form, w.data<T>(), t.data<T>());
        return t;
      });
    }
    kern::conv2d_forward_fused_cpu(p, x.data<T>(), w.data<T>(), ke, y.data<T>(), data_or_null<T>(ws),
                                   data_or_null<T>(ready));
  });
  trace::record("conv2d", y, {&x_in, &w_in}, p.flops());
  return y;
}

Tensor linear(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in) {
  constexpr const char* op = "linear";
  check_floating(x_in, op, "input");
  check_floating(w_in, op, "weight");
  check_same(x_in, w_in, op);
  NN_CHECK(x_in.dim() == 2 && w_in.dim() == 2 && x_in.size(1) == w_in.size(1), "linear: input ",
           x_in.shape(), " and weight ", w_in.shape(), " do not match: need (N, in) and (out, in)");
  const index_t N = x_in.size(0), in = x_in.size(1), out = w_in.size(0);
  if (b_in.defined()) {
    check_same(x_in, b_in, op);
    NN_CHECK(b_in.dim() == 1 && b_in.size(0) == out, "linear: bias must be (", out, "), got ", b_in.describe());
  }
  const Tensor x = x_in.contiguous(), w = w_in.contiguous();
  const Tensor b = b_in.defined() ? b_in.contiguous() : Tensor();
  Tensor y = Tensor::empty({N, out}, x.dtype(), x.device());
  dispatch_floating(x.dtype(), op, [&]<typename T>() {
    T* py = y.data<T>();
    if (b.defined())  // y = broadcast(b), then y += x w^T
      for (index_t n = 0; n < N; ++n) NN_KERNEL(b.device(), copy, out, b.data<T>(), py + n * out);
    kern::GemmParams g{.M = N, .N = out, .K = in, .trans_a = false, .trans_b = true};
    gemm_on(x.device(), g, T(1), x.data<T>(), w.data<T>(), b.defined() ? T(1) : T(0), py);
  });
  if (autograd::needs_grad({&x_in, &w_in, &b_in})) {
    autograd::record(y, op, {x_in, w_in, b_in}, [x, w, N, in, out](const Tensor& dy_in, const autograd::GradMask& needs) {
      const Tensor dy = dy_in.contiguous();
      autograd::Grads g(3);
      dispatch_floating(dy.dtype(), "linear backward", [&]<typename T>() {
        if (needs[0]) {  // dx (N, in) = dy (N, out) w (out, in)
          g[0] = Tensor::empty({N, in}, dy.dtype(), dy.device());
          gemm_on(dy.device(), kern::GemmParams{.M = N, .N = in, .K = out}, T(1), dy.data<T>(), w.data<T>(), T(0),
                  g[0].data<T>());
        }
        if (needs[1]) {  // dw (out, in) = dy^T (out, N) x (N, in)
          g[1] = Tensor::empty({out, in}, dy.dtype(), dy.device());
          gemm_on(dy.device(), kern::GemmParams{.M = out, .N = in, .K = N, .trans_a = true}, T(1), dy.data<T>(),
                  x.data<T>(), T(0), g[1].data<T>());
        }
        if (needs[2] && dy.device().is_cuda()) {  // db = the row sums of dy^T
          const Tensor dyt = dy.transpose(0, 1).contiguous();
          g[2] = Tensor::empty({out}, dy.dtype(), dy.device());
          NN_KERNEL(dy.device(), plane_sum, out, N, dyt.data<T>(), g[2].data<T>());
        } else if (needs[2]) {  // db = column sums of dy, accumulated in double in row order (deterministic)
          g[2] = Tensor::empty({out}, dy.dtype());
          const T* pdy = dy.data<T>();
          T* pdb = g[2].data<T>();
          for (index_t o = 0; o < out; ++o) {
            double acc = 0;
            for (index_t n = 0; n < N; ++n) acc += pdy[n * out + o];
            pdb[o] = static_cast<T>(acc);
          }
        }
      });
      return g;
    });
  }
  trace::record("linear", y, {&x_in, &w_in, &b_in}, 2.0 * N * in * out);
  return y;
}

}  // namespace nn::ops
