// conv2d through cuDNN: forward (+ bias through cudnnAddTensor), backward-data, backward-weight (+ db
// through cudnnConvolutionBackwardBias). Contracts of vendor.h / kernels/cpu/conv2d.h.
//
// Algorithm choice: the first call of a shape (on a stream) runs cudnnFind*AlgorithmEx on the caller's
// buffers, timing every algorithm whose workspace fits under kMaxFindWorkspace, and caches the fastest;
// later calls reuse it, so a result is bitwise repeatable within a process. The choice follows timings,
// so two processes may pick different algorithms and differ by roundings; so may the backward
// directions from one call to the next where the fastest algorithm accumulates with atomics (cuDNN's
// non-deterministic ones are not excluded: this backend is the speed yardstick).
//
// MathMode: fp32 sets CUDNN_FMA_MATH, which excludes tensor cores and so TF32 (CUDNN_DEFAULT_MATH would
// let cuDNN use TF32 for float data on Ampere and later); tf32 sets CUDNN_TENSOR_OP_MATH and then runs
// each shape in the math type cudnnFind reported for its winner. f64 data runs in CUDNN_DEFAULT_MATH.
#include <algorithm>
#include <string>

#include "kernels/cuda/cudnn_common.cuh"
#include "kernels/cuda/vendor.h"

namespace kern {

namespace {

using cu::check_cudnn;
using cu::ConvAlgo;
using cu::CudnnContext;
using cu::TensorDesc;
using cu::to_int;

// cudnnFind skips algorithms that want more scratch than this. FFT-based ones can ask for gigabytes at
// training batch sizes, never for a speed-up worth holding that much memory for the rest of the process.
constexpr std::size_t kMaxFindWorkspace = std::size_t(1) << 30;

enum class Direction : index_t { forward, backward_data, backward_weight };

std::string shape(const Conv2dParams& p) {
  using std::to_string;
  return " (N=" + to_string(p.N) + " C=" + to_string(p.C) + " H=" + to_string(p.H) + " W=" + to_string(p.W) +
         " K=" + to_string(p.K) + " R=" + to_string(p.R) + " S=" + to_string(p.S) +
         " stride=" + to_string(p.stride_h) + "x" + to_string(p.stride_w) + " pad=" + to_string(p.pad_h) + "x" +
         to_string(p.pad_w) + " dil=" + to_string(p.dil_h) + "x" + to_string(p.dil_w) +
         " groups=" + to_string(p.groups) + ")";
}

// The op's name and shape for messages, once the shape is known to be one cuDNN can describe.
std::string describe(const char* name, const Conv2dParams& p) {
  std::string op = std::string(name) + shape(p);
  if (p.groups < 1 || p.C % p.groups != 0 || p.K % p.groups != 0)
    throw std::invalid_argument(op + ": C and K must be divisible by groups");
  return op;
}

class FilterDesc {
 public:
  FilterDesc(cudnnDataType_t type, const Conv2dParams& p, const std::string& op) {
    const int k = to_int(p.K, op), c = to_int(p.C_per_group(), op), r = to_int(p.R, op), s = to_int(p.S, op);
    check_cudnn(cudnnCreateFilterDescriptor(&desc_), "cudnnCreateFilterDescriptor", op);
    const cudnnStatus_t status = cudnnSetFilter4dDescriptor(desc_, type, CUDNN_TENSOR_NCHW, k, c, r, s);
    if (status != CUDNN_STATUS_SUCCESS) {
      cudnnDestroyFilterDescriptor(desc_);
      cu::throw_cudnn(status, op + ": cudnnSetFilter4dDescriptor");
    }
  }
  ~FilterDesc() { cudnnDestroyFilterDescriptor(desc_); }
  FilterDesc(const FilterDesc&) = delete;
  FilterDesc& operator=(const FilterDesc&) = delete;
  operator cudnnFilterDescriptor_t() const { return desc_; }

 private:
  cudnnFilterDescriptor_t desc_ = nullptr;
};

class ConvDesc {
 public:
  ConvDesc(cudnnDataType_t type, const Conv2dParams& p, cudnnMathType_t math, const std::string& op) : op_(op) {
    const int ph = to_int(p.pad_h, op), pw = to_int(p.pad_w, op), sh = to_int(p.stride_h, op),
              sw = to_int(p.stride_w, op), dh = to_int(p.dil_h, op), dw = to_int(p.dil_w, op),
              g = to_int(p.groups, op);
    check_cudnn(cudnnCreateConvolutionDescriptor(&desc_), "cudnnCreateConvolutionDescriptor", op);
    try {
      // The CPU kernels' formula is cross-correlation (no kernel flip), as in every DL framework.
      check_cudnn(cudnnSetConvolution2dDescriptor(desc_, ph, pw, sh, sw, dh, dw, CUDNN_CROSS_CORRELATION, type),
                  "cudnnSetConvolution2dDescriptor", op);
      check_cudnn(cudnnSetConvolutionGroupCount(desc_, g), "cudnnSetConvolutionGroupCount", op);
      set_math(math);
    } catch (...) {
      cudnnDestroyConvolutionDescriptor(desc_);
      throw;
    }
  }
  ~ConvDesc() { cudnnDestroyConvolutionDescriptor(desc_); }
  ConvDesc(const ConvDesc&) = delete;
  ConvDesc& operator=(const ConvDesc&) = delete;
  operator cudnnConvolutionDescriptor_t() const { return desc_; }
  void set_math(cudnnMathType_t math) {
    check_cudnn(cudnnSetConvolutionMathType(desc_, math), "cudnnSetConvolutionMathType", op_);
  }

 private:
  cudnnConvolutionDescriptor_t desc_ = nullptr;
  std::string op_;
};

// Everything one call describes to cuDNN: x (N, C, H, W), w (K, C/g, R, S), y (N, K, P, Q), the conv.
template <typename T>
struct ConvCall {
  std::string op;
  MathMode math;
  TensorDesc x, y;
  FilterDesc w;
  ConvDesc conv;

  ConvCall(const char* name, const Conv2dParams& p, MathMode m)
      : op(describe(name, p)),
        math(m),
        x(cu::cudnn_type<T>(), p.N, p.C, p.H, p.W, op),
        y(cu::cudnn_type<T>(), p.N, p.K, p.P(), p.Q(), op),
        w(cu::cudnn_type<T>(), p, op),
        conv(cu::cudnn_type<T>(), p, initial_math(m), op) {}

  static cudnnMathType_t initial_math(MathMode m) {
    if constexpr (sizeof(T) == 8)
      return CUDNN_DEFAULT_MATH;
    else
      return m == MathMode::tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
  }

  // The key of this shape in the context's algorithm cache.
  cu::ConvAlgoKey key(Direction dir, const Conv2dParams& p) const {
    return {index_t(dir), index_t(sizeof(T)), index_t(math), p.N, p.C, p.H, p.W, p.K, p.R, p.S,
            p.stride_h, p.stride_w, p.pad_h, p.pad_w, p.dil_h, p.dil_w, p.groups};
  }

  // Whether a cudnnFind result may serve this mode. ALLOW_CONVERSION would round f32 operands to fp16,
  // which no mode asks for; fp32 takes no tensor-core result (Find under FMA math should return none).
  bool accepts(cudnnMathType_t m) const {
    if (m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return false;
    return sizeof(T) == 8 || math == MathMode::tf32 || m != CUDNN_TENSOR_OP_MATH;
  }

  // Runs in the winner's math type where cuDNN may choose it (tf32); fp32 stays on FMA math whatever
  // cudnnFind reported, so TF32 can never slip in.
  void use(const ConvAlgo& a) {
    if (math == MathMode::tf32) conv.set_math(a.math);
  }
};

// The cached algorithm of `key`, or cudnnFind's fastest on first use. size_of(algo, &bytes) asks the
// workspace of one algorithm; find(perf, count, &returned, workspace, bytes) runs cudnnFind*Ex.
template <typename Perf, int kCount, typename T, typename SizeOf, typename Find>
ConvAlgo choose_algo(CudnnContext& ctx, const ConvCall<T>& c, Direction dir, const Conv2dParams& p,
                     const char* find_name, SizeOf size_of, Find find) {
  const cu::ConvAlgoKey key = c.key(dir, p);
  const std::string& op = c.op;
  if (auto it = ctx.algos.find(key); it != ctx.algos.end()) return it->second;
  std::size_t budget = 0;
  for (int a = 0; a < kCount; ++a) {
    std::size_t bytes = 0;
    if (size_of(a, &bytes) == CUDNN_STATUS_SUCCESS && bytes <= kMaxFindWorkspace) budget = std::max(budget, bytes);
  }
  ctx.workspace.reserve(budget);
  Perf perf[kCount];
  int returned = 0;
  check_cudnn(find(perf, kCount, &returned, ctx.workspace.get(), budget), find_name, op);
  for (int i = 0; i < returned; ++i) {
    const Perf& r = perf[i];  // sorted fastest first
    if (r.status != CUDNN_STATUS_SUCCESS || r.memory > budget || !c.accepts(r.mathType)) continue;
    const ConvAlgo chosen{int(r.algo), r.mathType, r.memory};
    ctx.algos.emplace(key, chosen);
    return chosen;
  }
  throw std::runtime_error(op + ": " + find_name + " found no usable algorithm");
}

}  // namespace

template <typename T>
void conv2d_forward_cudnn(const Conv2dParams& p, const T* x, const T* w, const T* bias, T* y, MathMode math,
                          Stream stream) {
  cu::check_math<T>(math, "conv2d_forward_cudnn");
  if (p.N == 0 || p.K == 0) return;  // y is empty; cuDNN refuses zero-sized tensors
  ConvCall<T> c("conv2d_forward_cudnn", p, math);
  auto locked = cu::context_for<CudnnContext>(stream);
  CudnnContext& ctx = locked.ctx;
  const ConvAlgo a = choose_algo<cudnnConvolutionFwdAlgoPerf_t, CUDNN_CONVOLUTION_FWD_ALGO_COUNT>(
      ctx, c, Direction::forward, p, "cudnnFindConvolutionForwardAlgorithmEx",
      [&](int algo, std::size_t* bytes) {
        return cudnnGetConvolutionForwardWorkspaceSize(ctx.handle, c.x, c.w, c.conv, c.y,
                                                       cudnnConvolutionFwdAlgo_t(algo), bytes);
      },
      [&](cudnnConvolutionFwdAlgoPerf_t* perf, int count, int* returned, void* ws, std::size_t bytes) {
        return cudnnFindConvolutionForwardAlgorithmEx(ctx.handle, c.x, x, c.w, w, c.conv, c.y, y, count, returned,
                                                      perf, ws, bytes);
      });
  c.use(a);
  const T one = 1, zero = 0;
  check_cudnn(cudnnConvolutionForward(ctx.handle, &one, c.x, x, c.w, w, c.conv, cudnnConvolutionFwdAlgo_t(a.algo),
                                      ctx.workspace.get(), a.workspace, &zero, c.y, y),
              "cudnnConvolutionForward", c.op);
  if (p.has_bias) {
    const TensorDesc b(cu::cudnn_type<T>(), 1, p.K, 1, 1, c.op);
    check_cudnn(cudnnAddTensor(ctx.handle, &one, b, bias, &one, c.y, y), "cudnnAddTensor", c.op);
  }
}

template <typename T>
void conv2d_backward_data_cudnn(const Conv2dParams& p, const T* dy, const T* w, T* dx, MathMode math,
                                Stream stream) {
  cu::check_math<T>(math, "conv2d_backward_data_cudnn");
  if (p.N == 0 || p.C == 0) return;  // dx is empty
  if (p.K == 0) {  // no term: dx = 0
    cu::check(cudaMemsetAsync(dx, 0, sizeof(T) * std::size_t(p.N * p.C * p.H * p.W), stream),
              "conv2d_backward_data_cudnn: cudaMemsetAsync");
    return;
  }
  ConvCall<T> c("conv2d_backward_data_cudnn", p, math);
  auto locked = cu::context_for<CudnnContext>(stream);
  CudnnContext& ctx = locked.ctx;
  const ConvAlgo a = choose_algo<cudnnConvolutionBwdDataAlgoPerf_t, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT>(
      ctx, c, Direction::backward_data, p, "cudnnFindConvolutionBackwardDataAlgorithmEx",
      [&](int algo, std::size_t* bytes) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(ctx.handle, c.w, c.y, c.conv, c.x,
                                                            cudnnConvolutionBwdDataAlgo_t(algo), bytes);
      },
      [&](cudnnConvolutionBwdDataAlgoPerf_t* perf, int count, int* returned, void* ws, std::size_t bytes) {
        return cudnnFindConvolutionBackwardDataAlgorithmEx(ctx.handle, c.w, w, c.y, dy, c.conv, c.x, dx, count,
                                                           returned, perf, ws, bytes);
      });
  c.use(a);
  const T one = 1, zero = 0;
  check_cudnn(cudnnConvolutionBackwardData(ctx.handle, &one, c.w, w, c.y, dy, c.conv,
                                           cudnnConvolutionBwdDataAlgo_t(a.algo), ctx.workspace.get(),
                                           a.workspace, &zero, c.x, dx),
              "cudnnConvolutionBackwardData", c.op);
}

template <typename T>
void conv2d_backward_weight_cudnn(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db, MathMode math,
                                  Stream stream) {
  cu::check_math<T>(math, "conv2d_backward_weight_cudnn");
  if (p.N == 0) {  // no sample: every gradient is an empty sum
    const std::size_t nw = std::size_t(p.K * p.C_per_group() * p.R * p.S);
    cu::check(cudaMemsetAsync(dw, 0, sizeof(T) * nw, stream), "conv2d_backward_weight_cudnn: cudaMemsetAsync");
    if (db) cu::check(cudaMemsetAsync(db, 0, sizeof(T) * std::size_t(p.K), stream),
                      "conv2d_backward_weight_cudnn: cudaMemsetAsync");
    return;
  }
  if (p.K == 0) return;  // dw and db are empty
  ConvCall<T> c("conv2d_backward_weight_cudnn", p, math);
  auto locked = cu::context_for<CudnnContext>(stream);
  CudnnContext& ctx = locked.ctx;
  const ConvAlgo a = choose_algo<cudnnConvolutionBwdFilterAlgoPerf_t, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT>(
      ctx, c, Direction::backward_weight, p, "cudnnFindConvolutionBackwardFilterAlgorithmEx",
      [&](int algo, std::size_t* bytes) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(ctx.handle, c.x, c.y, c.conv, c.w,
                                                              cudnnConvolutionBwdFilterAlgo_t(algo), bytes);
      },
      [&](cudnnConvolutionBwdFilterAlgoPerf_t* perf, int count, int* returned, void* ws, std::size_t bytes) {
        return cudnnFindConvolutionBackwardFilterAlgorithmEx(ctx.handle, c.x, x, c.y, dy, c.conv, c.w, dw, count,
                                                             returned, perf, ws, bytes);
      });
  c.use(a);
  const T one = 1, zero = 0;
  check_cudnn(cudnnConvolutionBackwardFilter(ctx.handle, &one, c.x, x, c.y, dy, c.conv,
                                             cudnnConvolutionBwdFilterAlgo_t(a.algo), ctx.workspace.get(),
                                             a.workspace, &zero, c.w, dw),
              "cudnnConvolutionBackwardFilter", c.op);
  if (db) {
    const TensorDesc b(cu::cudnn_type<T>(), 1, p.K, 1, 1, c.op);
    check_cudnn(cudnnConvolutionBackwardBias(ctx.handle, &one, c.y, dy, &zero, b, db),
                "cudnnConvolutionBackwardBias", c.op);
  }
}

#define KERN_INSTANTIATE(T)                                                                                    \
  template void conv2d_forward_cudnn<T>(const Conv2dParams&, const T*, const T*, const T*, T*, MathMode,       \
                                        Stream);                                                               \
  template void conv2d_backward_data_cudnn<T>(const Conv2dParams&, const T*, const T*, T*, MathMode, Stream);  \
  template void conv2d_backward_weight_cudnn<T>(const Conv2dParams&, const T*, const T*, T*, T*, MathMode,     \
                                                Stream);
KERN_INSTANTIATE(float)
KERN_INSTANTIATE(double)
#undef KERN_INSTANTIATE

}  // namespace kern
