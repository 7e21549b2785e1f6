// conv2d and linear: gradient checks over a stride/padding/dilation/groups grid, non-contiguous inputs,
// frozen weights, and argument errors. PyTorch parity is in test_ops_parity.cpp.
#include <doctest/doctest.h>

#include "libnn/autograd/grad_mode.h"
#include "libnn/core/rng.h"
#include "libnn/ops/conv.h"
#include "tests/support/gradcheck.h"

using namespace nn;
using nn::testing::gradcheck;
using nn::testing::randn_leaf;

TEST_CASE("conv2d/gradcheck_grid") {
  struct Case {
    index_t N, C, H, W, K, R, S;
    ops::Conv2dOptions o;
    bool bias;
  };
  const Case cases[] = {
      {2, 3, 6, 5, 4, 3, 3, {}, false},                                   // the ResNet-caffe stage conv (p0)
      {1, 2, 5, 5, 3, 3, 3, {.padding = 1}, true},                        // batch 1, BasicBlock conv (p1)
      {2, 3, 7, 7, 2, 3, 3, {.stride = 2, .padding = 1}, false},          // IR unit's strided conv
      {2, 4, 5, 6, 2, 1, 1, {.stride = 2}, true},                         // 1x1 stride-2 shortcut
      {1, 4, 7, 6, 4, 3, 2, {.stride = {1, 2}, .padding = {2, 1}, .dilation = {2, 1}, .groups = 2}, true},
      {2, 3, 4, 4, 3, 3, 3, {.padding = 1, .groups = 3}, false},          // depthwise
  };
  int i = 0;
  for (const Case& c : cases) {
    CAPTURE(i++);
    auto x = randn_leaf({c.N, c.C, c.H, c.W}, 10 + i);
    auto w = randn_leaf({c.K, c.C / c.o.groups, c.R, c.S}, 20 + i, 0.5);
    auto b = c.bias ? randn_leaf({c.K}, 30 + i) : Tensor();
    const auto o = c.o;
    gradcheck("conv2d", [o](const auto& in) { return ops::conv2d(in[0], in[1], in[2], o); }, {x, w, b});
  }
}

TEST_CASE("conv2d/non_contiguous_input_and_frozen_weight") {
  auto x = randn_leaf({5, 5, 3, 2}, 1);  // fed as permute(3, 2, 0, 1): (2, 3, 5, 5), not contiguous
  Tensor w = randn_leaf({4, 3, 3, 3}, 2).set_requires_grad(false);  // frozen: needs no gradient
  gradcheck("conv2d_permuted", [w](const auto& in) { return ops::conv2d(in[0].permute({3, 2, 0, 1}), w, {}, {.padding = 1}); },
            {x});
  CHECK_FALSE(w.grad().defined());
}

TEST_CASE("linear/gradcheck") {
  auto x = randn_leaf({3, 7}, 1), w = randn_leaf({5, 7}, 2), b = randn_leaf({5}, 3);
  gradcheck("linear", [](const auto& in) { return ops::linear(in[0], in[1], in[2]); }, {x, w, b});
  gradcheck("linear_batch1_nobias", [](const auto& in) { return ops::linear(in[0].slice(0, 1, 2), in[1]); }, {x, w});
  gradcheck("linear_transposed_input",
            [](const auto& in) { return ops::linear(in[0].transpose(0, 1), in[1]); }, {randn_leaf({7, 3}, 4), w});
}

TEST_CASE("conv2d/errors_name_the_shapes") {
  Tensor x = Tensor::zeros({2, 3, 8, 8}), w = Tensor::zeros({4, 3, 3, 3});
  CHECK_THROWS_WITH_AS(ops::conv2d(x, Tensor::zeros({4, 2, 3, 3})),
                       "conv2d: input (2, 3, 8, 8) has 3 channels but weight (4, 2, 3, 3) expects 2 (groups 1)", Error);
  CHECK_THROWS_WITH_AS(ops::conv2d(Tensor::zeros({3, 8, 8}), w), doctest::Contains("input must be (N, C, H, W)"), Error);
  CHECK_THROWS_WITH_AS(ops::conv2d(Tensor::zeros({1, 3, 2, 2}), w), doctest::Contains("larger than the padded input"),
                       Error);
  CHECK_THROWS_WITH_AS(ops::conv2d(x, w, Tensor::zeros({3})), doctest::Contains("bias must be (4)"), Error);
  CHECK_THROWS_WITH_AS(ops::conv2d(x, Tensor::zeros({4, 1, 3, 3}), {}, {.groups = 2}),
                       doctest::Contains("divisible by groups 2"), Error);
  CHECK_THROWS_AS(ops::conv2d(x, w, {}, {.stride = 0}), Error);
  CHECK_THROWS_AS(ops::conv2d(x.to(DType::f64), w), Error);
  CHECK_THROWS_WITH_AS(ops::linear(Tensor::zeros({2, 5}), Tensor::zeros({3, 4})),
                       "linear: input (2, 5) and weight (3, 4) do not match: need (N, in) and (out, in)", Error);
}

TEST_CASE("conv2d/float_matches_double") {
  // The f32 path (blocked AVX-512 GEMM) against the f64 path on the same values.
  auto x64 = randn_leaf({2, 16, 12, 12}, 5).detach(), w64 = randn_leaf({32, 16, 3, 3}, 6).detach();
  const auto y64 = ops::conv2d(x64, w64, {}, {.padding = 1}).to_vector();
  const auto y32 = ops::conv2d(x64.to(DType::f32), w64.to(DType::f32), {}, {.padding = 1}).to_vector();
  double worst = 0;
  for (std::size_t i = 0; i < y64.size(); ++i) worst = std::max(worst, std::abs(y64[i] - y32[i]));
  CHECK(worst < 1e-4);  // 144-term dot products of N(0,1) values: f32 error ~ 1e-6 * sqrt(144) * 12
}

TEST_CASE("conv2d_fused/inference_only_and_checked_arguments") {
  Generator gen(5);
  const Tensor x = Tensor::normal({1, 2, 5, 5}, 0.0, 1.0, gen), w = Tensor::normal({3, 2, 3, 3}, 0.0, 1.0, gen);
  ops::ConvEpilogue e;
  e.act = ops::Activation::prelu;
  e.slope = Tensor::full({3}, 0.25);
  {
    NoGradGuard no_grad;
    CHECK(ops::conv2d_fused(x, w, {.padding = 1}, e).shape() == Shape{1, 3, 5, 5});
    ops::ConvEpilogue wrong = e;
    wrong.slope = Tensor::full({2}, 0.25);
    CHECK_THROWS_WITH_AS(ops::conv2d_fused(x, w, {}, wrong), doctest::Contains("slope must be (3) or (1)"), Error);
    wrong = e;
    wrong.scale = Tensor::ones({4});
    CHECK_THROWS_WITH_AS(ops::conv2d_fused(x, w, {}, wrong), doctest::Contains("scale must be (3)"), Error);
    wrong = e;
    wrong.slope = Tensor();
    CHECK_THROWS_WITH_AS(ops::conv2d_fused(x, w, {}, wrong), doctest::Contains("PReLU needs its slope"), Error);
  }
  Tensor leaf = x.clone();
  leaf.set_requires_grad(true);
  CHECK_THROWS_WITH_AS(ops::conv2d_fused(leaf, w, {}, e), doctest::Contains("inference only"), Error);
}
