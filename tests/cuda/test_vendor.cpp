// The vendor backends (kernels/cuda/vendor.h) against the CPU kernels, their spec: cuDNN conv2d in all
// three directions over a stride / pad / dilation / groups / bias grid, cuDNN batch_norm (train, eval,
// backward, with the null-pointer and aliasing cases of the CPU contract), cuBLAS gemm over every
// transpose, padded leading dimensions and beta == 0 on a NaN-poisoned C. References run in double on
// the same (float) inputs, so the measured error is the GPU's alone. Outputs start poisoned (gpu.h).
#include <cstring>
#include <stdexcept>
#include <vector>

#include <cuda_runtime.h>

#include "kernels/cpu/batch_norm.h"
#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cuda/vendor.h"
#include "tests/cuda/gpu.h"
#include "tests/kernels/compare.h"

using gpu_test::DeviceBuffer;
using gpu_test::kTolF32;
using gpu_test::kTolTf32;
using kern::BatchNormParams;
using kern::Conv2dParams;
using kern::GemmParams;
using kern::index_t;
using kern::MathMode;
using kern_test::random_vector;

namespace {

// f64 on the GPU against f64 on the CPU: only summation order differs.
constexpr double kTolF64 = 1e-12;

template <typename T>
std::vector<double> to_double(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

template <typename T>
bool bitwise_equal(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

Conv2dParams conv(index_t N, index_t C, index_t H, index_t W, index_t K, index_t R, index_t S) {
  Conv2dParams p;
  p.N = N, p.C = C, p.H = H, p.W = W, p.K = K, p.R = R, p.S = S;
  return p;
}

std::vector<Conv2dParams> conv_shapes() {
  std::vector<Conv2dParams> shapes;
  auto add = [&](Conv2dParams p, index_t sh, index_t sw, index_t ph, index_t pw, index_t dh, index_t dw,
                 index_t groups, bool bias) {
    p.stride_h = sh, p.stride_w = sw, p.pad_h = ph, p.pad_w = pw, p.dil_h = dh, p.dil_w = dw;
    p.groups = groups, p.has_bias = bias;
    shapes.push_back(p);
  };
  add(conv(2, 3, 9, 9, 4, 3, 3), 1, 1, 1, 1, 1, 1, 1, true);          // basic 3x3, odd size
  add(conv(3, 8, 11, 7, 6, 3, 2), 2, 1, 1, 0, 1, 1, 2, true);         // rectangular, strided, grouped
  add(conv(2, 6, 10, 10, 6, 3, 3), 1, 1, 2, 2, 2, 2, 3, false);       // dilated, grouped
  add(conv(2, 8, 13, 13, 8, 3, 3), 2, 2, 1, 1, 1, 1, 8, true);        // depthwise, stride 2
  add(conv(4, 16, 14, 14, 32, 1, 1), 2, 2, 0, 0, 1, 1, 1, false);     // 1x1 stride-2 downsample
  add(conv(2, 3, 32, 32, 16, 7, 7), 2, 2, 3, 3, 1, 1, 1, true);       // 7x7 stride-2 stem
  add(conv(8, 64, 28, 28, 64, 3, 3), 1, 1, 1, 1, 1, 1, 1, false);     // a ResNet block, tensor-core sized
  add(conv(1, 5, 6, 8, 7, 2, 4), 3, 2, 0, 1, 2, 1, 1, true);          // N = 1, uneven everything
  return shapes;
}

// Every direction of one shape through cuDNN against conv2d_*_cpu in double.
template <typename T>
void check_conv_cudnn(const Conv2dParams& p, MathMode math, double tol) {
  CAPTURE(p.N);
  CAPTURE(p.C);
  CAPTURE(p.H);
  CAPTURE(p.W);
  CAPTURE(p.K);
  CAPTURE(p.R);
  CAPTURE(p.S);
  CAPTURE(p.stride_h);
  CAPTURE(p.pad_h);
  CAPTURE(p.dil_h);
  CAPTURE(p.groups);
  CAPTURE(p.has_bias);
  CAPTURE(int(math));
  const std::size_t nx = std::size_t(p.N * p.C * p.H * p.W), nw = std::size_t(p.K * p.C_per_group() * p.R * p.S),
                    ny = std::size_t(p.N * p.K * p.P() * p.Q()), nk = std::size_t(p.K);
  const auto x = random_vector<T>(nx, 11), w = random_vector<T>(nw, 12), bias = random_vector<T>(nk, 13),
             dy = random_vector<T>(ny, 14);
  const auto xd = to_double(x), wd = to_double(w), biasd = to_double(bias), dyd = to_double(dy);
  std::vector<double> y_ref(ny), dx_ref(nx), dw_ref(nw), db_ref(nk);
  kern::conv2d_forward_cpu<double>(p, xd.data(), wd.data(), p.has_bias ? biasd.data() : nullptr, y_ref.data());
  kern::conv2d_backward_data_cpu<double>(p, dyd.data(), wd.data(), dx_ref.data());
  kern::conv2d_backward_weight_cpu<double>(p, xd.data(), dyd.data(), dw_ref.data(), db_ref.data());

  const DeviceBuffer<T> x_d(x), w_d(w), bias_d(bias), dy_d(dy);
  DeviceBuffer<T> y(ny), dx(nx), dw(nw), db(nk);
  kern::conv2d_forward_cudnn<T>(p, x_d.get(), w_d.get(), p.has_bias ? bias_d.get() : nullptr, y.get(), math,
                                nullptr);
  NN_CHECK_REL(y.download(), y_ref, tol);
  kern::conv2d_backward_data_cudnn<T>(p, dy_d.get(), w_d.get(), dx.get(), math, nullptr);
  NN_CHECK_REL(dx.download(), dx_ref, tol);
  kern::conv2d_backward_weight_cudnn<T>(p, x_d.get(), dy_d.get(), dw.get(), p.has_bias ? db.get() : nullptr, math,
                                        nullptr);
  NN_CHECK_REL(dw.download(), dw_ref, tol);
  if (p.has_bias) NN_CHECK_REL(db.download(), db_ref, tol);
}

}  // namespace

TEST_CASE("conv2d_cudnn/fp32_matches_cpu") {
  NN_REQUIRE_GPU();
  for (const Conv2dParams& p : conv_shapes()) check_conv_cudnn<float>(p, MathMode::fp32, kTolF32);
}

TEST_CASE("conv2d_cudnn/tf32_matches_cpu") {
  NN_REQUIRE_GPU();
  for (const Conv2dParams& p : conv_shapes()) check_conv_cudnn<float>(p, MathMode::tf32, kTolTf32);
}

TEST_CASE("conv2d_cudnn/f64_matches_cpu") {
  NN_REQUIRE_GPU();
  for (const Conv2dParams& p : conv_shapes()) check_conv_cudnn<double>(p, MathMode::fp32, kTolF64);
}

// The first call of a shape runs cudnnFind, the second reuses its choice: the same algorithm on the same
// data gives the same bits (the forward algorithms accumulate in a fixed order). A second stream gets its
// own context and its own cudnnFind, so it is held to the tolerance only.
TEST_CASE("conv2d_cudnn/algorithm_cache_is_repeatable") {
  NN_REQUIRE_GPU();
  for (MathMode math : {MathMode::fp32, MathMode::tf32}) {
    CAPTURE(int(math));
    Conv2dParams p = conv(4, 32, 20, 20, 48, 3, 3);
    p.pad_h = p.pad_w = 1;
    p.has_bias = true;
    const std::size_t nx = std::size_t(p.N * p.C * p.H * p.W), nw = std::size_t(p.K * p.C * p.R * p.S),
                      ny = std::size_t(p.N * p.K * p.P() * p.Q());
    const DeviceBuffer<float> x(random_vector<float>(nx, 21)), w(random_vector<float>(nw, 22)),
        bias(random_vector<float>(std::size_t(p.K), 23));
    DeviceBuffer<float> y1(ny), y2(ny), y3(ny);
    kern::conv2d_forward_cudnn<float>(p, x.get(), w.get(), bias.get(), y1.get(), math, nullptr);
    kern::conv2d_forward_cudnn<float>(p, x.get(), w.get(), bias.get(), y2.get(), math, nullptr);
    const auto first = y1.download(), second = y2.download();
    CHECK(bitwise_equal(first, second));

    cudaStream_t stream = nullptr;
    gpu_test::check_cuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
    kern::conv2d_forward_cudnn<float>(p, x.get(), w.get(), bias.get(), y3.get(), math, stream);
    gpu_test::check_cuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    NN_CHECK_REL(y3.download(), to_double(first), math == MathMode::fp32 ? kTolF32 : kTolTf32);
    gpu_test::check_cuda(cudaStreamDestroy(stream), "cudaStreamDestroy");
  }
}

TEST_CASE("conv2d_cudnn/refuses_bf16_on_float_data") {
  NN_REQUIRE_GPU();
  const Conv2dParams p = conv(1, 2, 5, 5, 3, 3, 3);
  DeviceBuffer<float> x(50), w(54), y(27);
  CHECK_THROWS_AS(kern::conv2d_forward_cudnn<float>(p, x.get(), w.get(), nullptr, y.get(), MathMode::bf16, nullptr),
                  std::invalid_argument);
  DeviceBuffer<double> xd(50), wd(54), yd(27);
  CHECK_THROWS_AS(
      kern::conv2d_forward_cudnn<double>(p, xd.get(), wd.get(), nullptr, yd.get(), MathMode::tf32, nullptr),
      std::invalid_argument);
}

// ---- batch_norm

namespace {

struct BnCase {
  BatchNormParams p;
  bool affine, running_mean, running_var, in_place;
};

BatchNormParams bn(index_t N, index_t C, index_t HW, double eps = 1e-5, double momentum = 0.1) {
  BatchNormParams p;
  p.N = N, p.C = C, p.HW = HW, p.eps = eps, p.momentum = momentum;
  return p;
}

template <typename T>
void check_bn_cudnn(const BnCase& k, double tol) {
  const BatchNormParams& p = k.p;
  CAPTURE(p.N);
  CAPTURE(p.C);
  CAPTURE(p.HW);
  CAPTURE(k.affine);
  CAPTURE(k.running_mean);
  CAPTURE(k.running_var);
  CAPTURE(k.in_place);
  const std::size_t n = std::size_t(p.N * p.C * p.HW), c = std::size_t(p.C);
  // An offset mean, so a variance computed as E[x^2] - E[x]^2 would show.
  const auto x = random_vector<T>(n, 31, -1.0, 3.0), dy = random_vector<T>(n, 32);
  const auto gamma = random_vector<T>(c, 33, 0.5, 1.5), beta = random_vector<T>(c, 34);
  const auto rmean0 = random_vector<T>(c, 35), rvar0 = random_vector<T>(c, 36, 0.5, 2.0);
  const auto xd = to_double(x), dyd = to_double(dy), gd = to_double(gamma), bd = to_double(beta);
  const double* g_ref = k.affine ? gd.data() : nullptr;
  const double* b_ref = k.affine ? bd.data() : nullptr;

  // Training forward.
  std::vector<double> y_ref(n), mean_ref(c), invstd_ref(c), rmean_ref = to_double(rmean0), rvar_ref = to_double(rvar0);
  kern::batch_norm_forward_train_cpu<double>(p, xd.data(), g_ref, b_ref, y_ref.data(), mean_ref.data(),
                                             invstd_ref.data(), k.running_mean ? rmean_ref.data() : nullptr,
                                             k.running_var ? rvar_ref.data() : nullptr);
  DeviceBuffer<T> x_d(x), gamma_d(gamma), beta_d(beta), rmean(rmean0), rvar(rvar0);
  DeviceBuffer<T> y(n), save_mean(c), save_invstd(c);
  T* y_out = k.in_place ? x_d.get() : y.get();
  kern::batch_norm_forward_train_cudnn<T>(p, x_d.get(), k.affine ? gamma_d.get() : nullptr,
                                          k.affine ? beta_d.get() : nullptr, y_out, save_mean.get(),
                                          save_invstd.get(), k.running_mean ? rmean.get() : nullptr,
                                          k.running_var ? rvar.get() : nullptr, nullptr);
  NN_CHECK_REL((k.in_place ? x_d : y).download(), y_ref, tol);
  NN_CHECK_REL(save_mean.download(), mean_ref, tol);
  NN_CHECK_REL(save_invstd.download(), invstd_ref, tol);
  NN_CHECK_REL(rmean.download(), rmean_ref, tol);  // untouched when not tracked: still rmean0
  NN_CHECK_REL(rvar.download(), rvar_ref, tol);

  // Eval forward from the running statistics.
  {
    std::vector<double> ye_ref(n);
    const auto rm = to_double(rmean0), rv = to_double(rvar0);
    kern::batch_norm_forward_eval_cpu<double>(p, xd.data(), g_ref, b_ref, rm.data(), rv.data(), ye_ref.data());
    DeviceBuffer<T> xe(x), ye(n), rm_d(rmean0), rv_d(rvar0);
    T* out = k.in_place ? xe.get() : ye.get();
    kern::batch_norm_forward_eval_cudnn<T>(p, xe.get(), k.affine ? gamma_d.get() : nullptr,
                                           k.affine ? beta_d.get() : nullptr, rm_d.get(), rv_d.get(), out, nullptr);
    NN_CHECK_REL((k.in_place ? xe : ye).download(), ye_ref, tol);
  }

  // Backward from the CPU's saved statistics (rounded to T, as a forward on the device would give them).
  {
    std::vector<T> mean_t(mean_ref.begin(), mean_ref.end()), invstd_t(invstd_ref.begin(), invstd_ref.end());
    std::vector<double> dx_ref(n), dgamma_ref(c), dbeta_ref(c);
    const auto mean_td = to_double(mean_t), invstd_td = to_double(invstd_t);
    kern::batch_norm_backward_train_cpu<double>(p, dyd.data(), xd.data(), g_ref, mean_td.data(), invstd_td.data(),
                                                dx_ref.data(), dgamma_ref.data(), dbeta_ref.data());
    const DeviceBuffer<T> xb(x), mean_d(mean_t), invstd_d(invstd_t);
    DeviceBuffer<T> dy_d(dy), dx(n), dgamma(c), dbeta(c);
    T* dx_out = k.in_place ? dy_d.get() : dx.get();
    kern::batch_norm_backward_train_cudnn<T>(p, dy_d.get(), xb.get(), k.affine ? gamma_d.get() : nullptr,
                                             mean_d.get(), invstd_d.get(), dx_out, dgamma.get(), dbeta.get(),
                                             nullptr);
    NN_CHECK_REL((k.in_place ? dy_d : dx).download(), dx_ref, tol);
    NN_CHECK_REL(dgamma.download(), dgamma_ref, tol);
    NN_CHECK_REL(dbeta.download(), dbeta_ref, tol);

    // Each output alone (the others not wanted).
    DeviceBuffer<T> dy2(dy), dx2(n), dgamma2(c), dbeta2(c);
    kern::batch_norm_backward_train_cudnn<T>(p, dy2.get(), xb.get(), k.affine ? gamma_d.get() : nullptr,
                                             mean_d.get(), invstd_d.get(), dx2.get(), nullptr, nullptr, nullptr);
    NN_CHECK_REL(dx2.download(), dx_ref, tol);
    kern::batch_norm_backward_train_cudnn<T>(p, dy2.get(), xb.get(), k.affine ? gamma_d.get() : nullptr,
                                             mean_d.get(), invstd_d.get(), nullptr, dgamma2.get(), nullptr, nullptr);
    NN_CHECK_REL(dgamma2.download(), dgamma_ref, tol);
    kern::batch_norm_backward_train_cudnn<T>(p, dy2.get(), xb.get(), k.affine ? gamma_d.get() : nullptr,
                                             mean_d.get(), invstd_d.get(), nullptr, nullptr, dbeta2.get(), nullptr);
    NN_CHECK_REL(dbeta2.download(), dbeta_ref, tol);
  }
}

std::vector<BnCase> bn_cases() {
  return {
      {bn(4, 5, 21), true, true, true, false},
      {bn(8, 32, 196, 1e-3, 0.3), true, true, true, false},
      {bn(2, 3, 1), true, true, true, false},  // HW = 1 (after global pooling)
      {bn(3, 7, 50), false, true, true, false},   // affine = false: ones / zeros stand in
      {bn(3, 7, 50), true, true, false, false},   // only the running mean tracked
      {bn(3, 7, 50), true, false, true, false},   // only the running variance tracked
      {bn(3, 7, 50), true, false, false, false},  // track_running_stats = false
      {bn(5, 16, 49), true, true, true, true},    // y = x, dx = dy
  };
}

}  // namespace

TEST_CASE("batch_norm_cudnn/f32_matches_cpu") {
  NN_REQUIRE_GPU();
  for (const BnCase& k : bn_cases()) check_bn_cudnn<float>(k, kTolF32);
}

TEST_CASE("batch_norm_cudnn/f64_matches_cpu") {
  NN_REQUIRE_GPU();
  for (const BnCase& k : bn_cases()) check_bn_cudnn<double>(k, kTolF64);
}

TEST_CASE("batch_norm_cudnn/refuses_eps_below_cudnn_minimum") {
  NN_REQUIRE_GPU();
  const BatchNormParams p = bn(2, 3, 4, -1.0);
  DeviceBuffer<float> x(24), y(24), m(3), v(3);
  CHECK_THROWS_AS(kern::batch_norm_forward_eval_cudnn<float>(p, x.get(), nullptr, nullptr, m.get(), v.get(), y.get(),
                                                             nullptr),
                  std::invalid_argument);
}

// ---- gemm

namespace {

template <typename T>
void check_gemm_cublas(index_t M, index_t N, index_t K, bool ta, bool tb, index_t pad, T alpha, T beta,
                       MathMode math, double tol) {
  CAPTURE(M);
  CAPTURE(N);
  CAPTURE(K);
  CAPTURE(ta);
  CAPTURE(tb);
  CAPTURE(pad);
  CAPTURE(double(beta));
  CAPTURE(int(math));
  GemmParams p;
  p.M = M, p.N = N, p.K = K, p.trans_a = ta, p.trans_b = tb;
  const index_t a_rows = ta ? K : M, a_cols = ta ? M : K, b_rows = tb ? N : K, b_cols = tb ? K : N;
  // pad 0 leaves the leading dimensions packed (0 in p); otherwise rows are pad elements longer.
  p.lda = pad ? a_cols + pad : 0, p.ldb = pad ? b_cols + pad : 0, p.ldc = pad ? N + pad : 0;
  const index_t lda = a_cols + pad, ldb = b_cols + pad, ldc = N + pad;
  const auto A = random_vector<T>(std::size_t(a_rows * lda), 41), B = random_vector<T>(std::size_t(b_rows * ldb), 42);
  const auto C0 = random_vector<T>(std::size_t(M * ldc), 43);
  const auto Ad = to_double(A), Bd = to_double(B);
  // beta == 0: the reference starts from NaN too (the CPU kernel must not read it either); the padding
  // of C is then compared as NaN on both sides, so compare only the M x N block.
  std::vector<double> C_ref = beta == T(0) ? std::vector<double>(C0.size(), 0.0) : to_double(C0);
  kern::gemm_reference<double>(p, double(alpha), Ad.data(), Bd.data(), double(beta), C_ref.data());

  const DeviceBuffer<T> A_d(A), B_d(B);
  DeviceBuffer<T> C(C0.size());  // poisoned with NaN
  if (beta != T(0)) C.upload(C0);
  kern::gemm_cublas<T>(p, alpha, A_d.get(), B_d.get(), beta, C.get(), math, nullptr);
  const auto got = C.download();
  std::vector<T> block;
  std::vector<double> want;
  for (index_t i = 0; i < M; ++i)
    for (index_t j = 0; j < N; ++j) {
      block.push_back(got[std::size_t(i * ldc + j)]);
      want.push_back(C_ref[std::size_t(i * ldc + j)]);
    }
  NN_CHECK_REL(block, want, tol);
  // The padding past column N is not C's: it must be left as it was.
  bool padding_kept = true;
  for (index_t i = 0; i < M; ++i)
    for (index_t j = N; j < ldc; ++j) {
      const T g = got[std::size_t(i * ldc + j)];
      padding_kept &= beta == T(0) ? g != g : g == C0[std::size_t(i * ldc + j)];
    }
  CHECK(padding_kept);
}

template <typename T>
void gemm_grid(MathMode math, double tol) {
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (index_t pad : {0, 3}) {
        check_gemm_cublas<T>(37, 29, 45, ta, tb, pad, T(1.5), T(0), math, tol);
        check_gemm_cublas<T>(37, 29, 45, ta, tb, pad, T(-0.5), T(0.75), math, tol);
        check_gemm_cublas<T>(256, 192, 320, ta, tb, pad, T(1), T(0), math, tol);
        check_gemm_cublas<T>(1, 7, 300, ta, tb, pad, T(1), T(1), math, tol);  // a GEMV-shaped one
      }
}

}  // namespace

TEST_CASE("gemm_cublas/fp32_matches_cpu") {
  NN_REQUIRE_GPU();
  gemm_grid<float>(MathMode::fp32, kTolF32);
}

TEST_CASE("gemm_cublas/tf32_matches_cpu") {
  NN_REQUIRE_GPU();
  gemm_grid<float>(MathMode::tf32, kTolTf32);
}

TEST_CASE("gemm_cublas/f64_matches_cpu") {
  NN_REQUIRE_GPU();
  gemm_grid<double>(MathMode::fp32, kTolF64);
}

TEST_CASE("gemm_cublas/refuses_bf16_on_float_data") {
  NN_REQUIRE_GPU();
  GemmParams p;
  DeviceBuffer<float> A(1), B(1), C(1);
  CHECK_THROWS_AS(kern::gemm_cublas<float>(p, 1.0f, A.get(), B.get(), 0.0f, C.get(), MathMode::bf16, nullptr),
                  std::invalid_argument);
}
