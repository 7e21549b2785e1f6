// Every op on a CUDA tensor against the same op on the CPU, through the public Tensor API: the output and
// the gradient of each input, for fresh random data, with exact fp32 products (tf32 where named), on our
// kernels and on the vendor backends. Then whole networks: the HardTune nets' logits and parameter
// gradients in training mode, and the fused inference path, CPU against GPU. Last, the optimizers: their
// multi-tensor CUDA steps against the per-tensor CPU ones.
#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "libnn/autograd/grad_mode.h"
#include "libnn/core/cuda_options.h"
#include "libnn/core/cuda_runtime.h"
#include "libnn/core/rng.h"
#include "libnn/ops/activation.h"
#include "libnn/ops/affine.h"
#include "libnn/ops/arith.h"
#include "libnn/ops/batch_norm.h"
#include "libnn/ops/conv.h"
#include "libnn/ops/dropout.h"
#include "libnn/ops/loss.h"
#include "libnn/ops/margin.h"
#include "libnn/ops/math.h"
#include "libnn/ops/pool.h"
#include "libnn/ops/reduce.h"
#include "libnn/ops/tensor_ops.h"
#include "libnn/optim/adam.h"
#include "libnn/optim/sgd.h"
#include "models/registry.h"
#include "tests/cuda/gpu.h"

using namespace nn;

namespace {

using Inputs = std::vector<Tensor>;
using OpFn = std::function<Tensor(const Inputs&)>;

Tensor uniform(const Shape& shape, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Generator gen(seed);
  return Tensor::uniform(shape, lo, hi, gen);
}

CudaOptions exact(ConvBackend backend = ConvBackend::ours) {
  CudaOptions o;
  o.conv = o.batch_norm = backend;
  o.gemm = backend == ConvBackend::cudnn ? GemmBackend::cublas : GemmBackend::ours;
  o.math = kern::MathMode::fp32;
  return o;
}

void check_same_values(const Tensor& gpu, const Tensor& cpu, double tol, const std::string& what) {
  INFO(what);
  REQUIRE(gpu.defined());
  CHECK(gpu.device().is_cuda());
  REQUIRE(gpu.shape() == cpu.shape());
  NN_CHECK_REL(gpu.to_vector(), cpu.to_vector(), tol);
}

// Runs f on the inputs on the CPU and on copies of them on the GPU, backward from the same random dy, and
// compares the outputs and the gradient of every floating input.
void check_op(const std::string& name, const Inputs& inputs, const OpFn& f, double tol = gpu_test::kTolF32,
              const CudaOptions& options = exact()) {
  const CudaOptionsGuard guard(options);
  Inputs cpu, gpu;
  for (const Tensor& t : inputs) {
    Tensor c = t.detach().clone(), g = t.detach().to(Device::cuda());
    if (is_floating(t.dtype())) c.set_requires_grad(), g.set_requires_grad();
    cpu.push_back(c);
    gpu.push_back(g);
  }
  const Tensor y_cpu = f(cpu), y_gpu = f(gpu);
  check_same_values(y_gpu, y_cpu, tol, name + ": output");
  if (!y_cpu.requires_grad()) return;
  const Tensor dy = uniform(y_cpu.shape(), 99);
  y_cpu.backward(dy);
  y_gpu.backward(dy.to(Device::cuda()));
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (cpu[i].grad().defined())
      check_same_values(gpu[i].grad(), cpu[i].grad(), tol, name + ": grad of input " + std::to_string(i));
}

}  // namespace

TEST_CASE("cuda_ops/pointwise_and_arithmetic") {
  NN_REQUIRE_GPU();
  const Tensor x = uniform({3, 5, 7, 9}, 1), z = uniform({3, 5, 7, 9}, 2);
  check_op("relu", {x}, [](const Inputs& in) { return ops::relu(in[0]); });
  check_op("sigmoid", {x}, [](const Inputs& in) { return ops::sigmoid(in[0]); });
  check_op("prelu per channel", {x, uniform({5}, 3, 0, 0.5)},
           [](const Inputs& in) { return ops::prelu(in[0], in[1]); });
  check_op("prelu shared", {x, uniform({1}, 4, 0, 0.5)}, [](const Inputs& in) { return ops::prelu(in[0], in[1]); });
  check_op("add", {x, z}, [](const Inputs& in) { return ops::add(in[0], in[1]); });
  check_op("add per-sample channels", {x, uniform({3, 5, 1, 1}, 5)},
           [](const Inputs& in) { return ops::add(in[0], in[1]); });
  check_op("add shared channels", {x, uniform({1, 5, 1, 1}, 6)},
           [](const Inputs& in) { return ops::add(in[0], in[1]); });
  check_op("sub", {x, z}, [](const Inputs& in) { return ops::sub(in[0], in[1]); });
  check_op("mul", {x, z}, [](const Inputs& in) { return ops::mul(in[0], in[1]); });
  check_op("mul channel gate (SE)", {x, uniform({3, 5, 1, 1}, 7)},
           [](const Inputs& in) { return ops::mul(in[0], in[1]); });
  check_op("mul spatial gate", {x, uniform({3, 1, 7, 9}, 8)}, [](const Inputs& in) { return ops::mul(in[0], in[1]); });
  check_op("add_scalar", {x}, [](const Inputs& in) { return ops::add_scalar(in[0], 0.25); });
  check_op("mul_scalar", {x}, [](const Inputs& in) { return ops::mul_scalar(in[0], -3.0); });
  check_op("sum", {x}, [](const Inputs& in) { return ops::sum(in[0]); });
  check_op("mean", {x}, [](const Inputs& in) { return ops::mean(in[0]); });
  check_op("sqrt", {uniform({1000}, 9, 0.1, 4)}, [](const Inputs& in) { return ops::sqrt(in[0]); });
  check_op("clamp", {x}, [](const Inputs& in) { return ops::clamp(in[0], -0.5, 0.3); });
  check_op("channel_affine", {x, uniform({5}, 10), uniform({5}, 11)},
           [](const Inputs& in) { return ops::channel_affine(in[0], in[1], in[2]); });
  check_op("transpose + contiguous", {x}, [](const Inputs& in) { return in[0].transpose(1, 3).contiguous(); });
  check_op("slice", {x}, [](const Inputs& in) { return in[0].slice(2, 1, 6).contiguous(); });
  check_op("cat", {x, z}, [](const Inputs& in) { return ops::cat({in[0], in[1]}, 1); });
  check_op("dropout", {x}, [](const Inputs& in) {
    Generator gen(5);  // the same draws on both devices: the mask is drawn on the host
    return ops::dropout(in[0], 0.3, true, gen);
  });
  check_op("to(f64) and back", {x}, [](const Inputs& in) { return in[0].to(DType::f64).to(DType::f32); });
}

TEST_CASE("cuda_ops/reductions_and_losses") {
  NN_REQUIRE_GPU();
  const Tensor x = uniform({4, 6, 5, 5}, 20);
  check_op("mean_dim", {x}, [](const Inputs& in) { return ops::mean_dim(in[0], 1, true); });
  check_op("amax_dim", {x}, [](const Inputs& in) { return ops::amax_dim(in[0], 1, true); });
  const Tensor logits = uniform({16, 10}, 21, -3, 3);
  std::vector<std::int64_t> labels(16);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int64_t>((i * 7) % 10);
  const Tensor target = Tensor::from_labels(labels);
  check_op("log_softmax", {logits}, [](const Inputs& in) { return ops::log_softmax(in[0]); });
  check_op("cross_entropy", {logits, target}, [](const Inputs& in) { return ops::cross_entropy(in[0], in[1]); });
  check_op("cross_entropy weighted, smoothed", {logits, target, uniform({10}, 22, 0.5, 2)},
           [](const Inputs& in) { return ops::cross_entropy(in[0], in[1], in[2].detach(), 0.1); });
  check_op("l2_normalize", {logits}, [](const Inputs& in) { return ops::l2_normalize(in[0], 1, 1e-12); });
  check_op("arc_margin", {uniform({16, 10}, 23, -0.9, 0.9), target},
           [](const Inputs& in) { return ops::arc_margin(in[0], in[1], 64.0, 0.5, false); });
}

TEST_CASE("cuda_ops/batch_norm_and_pooling") {
  NN_REQUIRE_GPU();
  const Tensor x = uniform({4, 8, 9, 9}, 30, -2, 3);
  for (const ConvBackend backend : {ConvBackend::ours, ConvBackend::cudnn}) {
    CAPTURE(backend == ConvBackend::cudnn);
    const CudaOptions o = exact(backend);
    // Training mode, running statistics updated on each device: compare them too.
    const Tensor rm = uniform({8}, 31), rv = uniform({8}, 32, 0.5, 2);
    Tensor rm_cpu = rm.clone(), rv_cpu = rv.clone(), rm_gpu = rm.to(Device::cuda()), rv_gpu = rv.to(Device::cuda());
    check_op(
        "batch_norm train", {x, uniform({8}, 33), uniform({8}, 34)},
        [&](const Inputs& in) {
          const bool gpu = in[0].device().is_cuda();
          return ops::batch_norm(in[0], gpu ? rm_gpu : rm_cpu, gpu ? rv_gpu : rv_cpu, in[1], in[2], true, 0.1, 1e-5);
        },
        gpu_test::kTolF32, o);
    check_same_values(rm_gpu, rm_cpu, gpu_test::kTolF32, "running_mean");
    check_same_values(rv_gpu, rv_cpu, gpu_test::kTolF32, "running_var");
    check_op(
        "batch_norm eval", {x, uniform({8}, 35), uniform({8}, 36)},
        [&](const Inputs& in) {
          const bool gpu = in[0].device().is_cuda();
          return ops::batch_norm(in[0], gpu ? rm_gpu : rm_cpu, gpu ? rv_gpu : rv_cpu, in[1], in[2], false, 0.1, 1e-5);
        },
        gpu_test::kTolF32, o);
  }
  check_op("max_pool 3x3/2 pad 1", {x}, [](const Inputs& in) { return ops::max_pool2d(in[0], 3, 2, 1); });
  check_op("max_pool 2x2/2", {x}, [](const Inputs& in) { return ops::max_pool2d(in[0], 2, 2); });
  check_op("max_pool 1x1/2", {x}, [](const Inputs& in) { return ops::max_pool2d(in[0], 1, 2); });
  check_op("avg_pool 3x3/2 pad 1", {x}, [](const Inputs& in) { return ops::avg_pool2d(in[0], 3, 2, 1, false); });
  check_op("global avg pool", {x}, [](const Inputs& in) { return ops::adaptive_avg_pool2d(in[0], 1); });
  check_op("global max pool", {x}, [](const Inputs& in) { return ops::global_max_pool2d(in[0]); });
}

TEST_CASE("cuda_ops/conv2d_and_linear") {
  NN_REQUIRE_GPU();
  struct Case {
    Shape x, w;
    ops::Conv2dOptions o;
  };
  const std::vector<Case> cases = {
      {{2, 16, 14, 14}, {32, 16, 3, 3}, {.stride = 1, .padding = 1}},
      {{2, 16, 15, 13}, {24, 16, 3, 3}, {.stride = 2, .padding = 1}},
      {{2, 16, 14, 14}, {32, 16, 1, 1}, {.stride = 2}},
      {{2, 3, 32, 32}, {16, 3, 7, 7}, {.stride = 2, .padding = 3}},
      {{2, 8, 12, 12}, {8, 1, 3, 3}, {.stride = 1, .padding = 1, .groups = 8}},
      {{1, 6, 11, 11}, {4, 6, 3, 3}, {.stride = 1, .padding = 2, .dilation = 2}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.x);
    CAPTURE(c.w);
    const Inputs in = {uniform(c.x, 40), uniform(c.w, 41), uniform({c.w[0]}, 42)};
    auto conv = [&](const Inputs& t) { return ops::conv2d(t[0], t[1], t[2], c.o); };
    check_op("conv2d fp32 ours", in, conv);
    check_op("conv2d fp32 cuDNN", in, conv, gpu_test::kTolF32, exact(ConvBackend::cudnn));
    CudaOptions tf32 = exact();
    tf32.math = kern::MathMode::tf32;
    check_op("conv2d tf32 ours", in, conv, gpu_test::kTolTf32, tf32);
    tf32.math = kern::MathMode::bf16;
    check_op("conv2d bf16 ours", in, conv, gpu_test::kTolBf16, tf32);
  }
  const Inputs lin = {uniform({8, 40}, 43), uniform({12, 40}, 44), uniform({12}, 45)};
  auto linear = [](const Inputs& t) { return ops::linear(t[0], t[1], t[2]); };
  check_op("linear ours", lin, linear);
  check_op("linear cuBLAS", lin, linear, gpu_test::kTolF32, exact(ConvBackend::cudnn));
}

TEST_CASE("cuda_ops/conv2d_fused_inference") {
  NN_REQUIRE_GPU();
  const Tensor x = uniform({2, 16, 10, 10}, 50), w = uniform({24, 16, 3, 3}, 51);
  for (const ops::Activation act : {ops::Activation::none, ops::Activation::relu, ops::Activation::prelu}) {
    ops::ConvEpilogue e{uniform({24}, 52, 0.5, 1.5), uniform({24}, 53), act, uniform({24}, 54, 0, 0.3)};
    check_op("conv2d_fused", {x, w}, [&](const Inputs& in) {
      NoGradGuard no_grad;
      const Device d = in[0].device();
      const ops::ConvEpilogue ed{e.scale.to(d), e.shift.to(d), e.act, e.slope.to(d)};
      return ops::conv2d_fused(in[0], in[1], {.stride = 1, .padding = 1}, ed);
    });
  }
}

TEST_CASE("cuda_ops/whole_networks") {
  NN_REQUIRE_GPU();
  const CudaOptionsGuard guard(exact());
  for (const std::string name : {"resnet34_dlas_a_tiny", "ir50_dlas_a_tiny", "ir_se50_dlas_a_tiny"}) {
    CAPTURE(name);
    auto cpu = models::build_model(name), gpu = models::build_model(name);
    gpu->load_state_dict(cpu->state_dict());
    gpu->to(Device::cuda());
    const Tensor rgb = uniform({4, 3, 112, 112}, 60), depth = uniform({4, 3, 112, 112}, 61),
                 ir = uniform({4, 3, 112, 112}, 62);
    auto on = [](const Tensor& t) { return t.to(Device::cuda()); };

    // Training mode: logits, every parameter's gradient, BN running statistics.
    const Tensor y_cpu = cpu->logits(rgb, depth, ir), y_gpu = gpu->logits(on(rgb), on(depth), on(ir));
    check_same_values(y_gpu, y_cpu, 1e-4, name + " logits (train)");
    ops::sum(ops::mul(y_cpu, y_cpu)).backward();
    ops::sum(ops::mul(y_gpu, y_gpu)).backward();
    const auto pc = cpu->named_parameters(), pg = gpu->named_parameters();
    for (std::size_t i = 0; i < pc.size(); ++i)
      if (pc[i].second.grad().defined()) check_same_values(pg[i].second.grad(), pc[i].second.grad(), 1e-3, pc[i].first);
    const auto bc = cpu->named_buffers(), bg = gpu->named_buffers();
    for (std::size_t i = 0; i < bc.size(); ++i)
      if (is_floating(bc[i].second.dtype())) check_same_values(bg[i].second, bc[i].second, 1e-5, bc[i].first);

    // Eval mode under no-grad: the fused conv + BN + activation path on both devices.
    cpu->eval();
    gpu->eval();
    NoGradGuard no_grad;
    check_same_values(gpu->logits(on(rgb), on(depth), on(ir)), cpu->logits(rgb, depth, ir), 1e-4,
                      name + " logits (eval)");
  }
}

TEST_CASE("cuda_ops/async_copy_and_streams") {
  NN_REQUIRE_GPU();
  const Tensor src = uniform({64, 3, 112, 112}, 70);
  Tensor pinned = Tensor::empty_pinned(src.shape());
  pinned.copy_(src);
  const cuda::Stream copies;
  const Tensor on_gpu = pinned.to(Device::cuda(), copies);
  cuda::current_stream_wait_for(copies.get());
  check_same_values(ops::mul_scalar(on_gpu, 2.0), ops::mul_scalar(src, 2.0), 0.0, "async copy");
  // Work on a stream of our own, then back on the default one.
  const cuda::Stream compute;
  Tensor y;
  {
    const cuda::StreamGuard guard(compute);
    y = ops::relu(on_gpu);
  }
  cuda::current_stream_wait_for(compute.get());
  check_same_values(y, ops::relu(src), 0.0, "relu on a side stream");
}

TEST_CASE("cuda_ops/optimizers") {
  NN_REQUIRE_GPU();
  using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;
  const std::vector<std::pair<std::string, MakeOptimizer>> optimizers = {
      {"Adam",
       [](std::vector<Tensor> p) {
         return std::make_unique<optim::Adam>(std::move(p), optim::AdamOptions{.lr = 1e-2, .weight_decay = 1e-3});
       }},
      {"AdamW", [](std::vector<Tensor> p) { return std::make_unique<optim::AdamW>(std::move(p)); }},
      {"SGD",
       [](std::vector<Tensor> p) { return std::make_unique<optim::SGD>(std::move(p), optim::SgdOptions{.lr = 0.1}); }},
      {"SGD nesterov",
       [](std::vector<Tensor> p) {
         return std::make_unique<optim::SGD>(
             std::move(p), optim::SgdOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-4, .nesterov = true});
       }},
      {"SGD dampening",
       [](std::vector<Tensor> p) {
         return std::make_unique<optim::SGD>(
             std::move(p), optim::SgdOptions{.lr = 0.05, .momentum = 0.9, .dampening = 0.1, .weight_decay = 5e-4});
       }},
  };
  // Both dtypes in one group, so each gets its own launch list.
  const std::vector<Shape> shapes = {{1}, {7}, {31, 33}, {64, 3, 3, 3}, {1001}, {5, 5}};
  const auto dtype_of = [](std::size_t i) { return i % 2 ? DType::f64 : DType::f32; };
  // This parameter gets no gradient in step 1, so its step count lags the others' from then on.
  constexpr std::size_t kLagging = 2;
  constexpr int kSteps = 4;
  for (const auto& [name, make] : optimizers) {
    CAPTURE(name);
    std::vector<Tensor> cpu, gpu;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      cpu.push_back(uniform(shapes[i], 80 + i).to(dtype_of(i)));
      gpu.push_back(cpu.back().to(Device::cuda()));
    }
    const auto opt_cpu = make(cpu), opt_gpu = make(gpu);
    for (int s = 0; s < kSteps; ++s) {
      for (std::size_t i = 0; i < shapes.size(); ++i) {
        const bool skip = s == 1 && i == kLagging;
        const Tensor g = skip ? Tensor() : uniform(shapes[i], 100 * s + i).to(dtype_of(i));
        cpu[i].set_grad(g);
        gpu[i].set_grad(skip ? Tensor() : g.to(Device::cuda()));
      }
      opt_cpu->step();
      opt_gpu->step();
    }
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      const std::string what = name + ": parameter " + std::to_string(i);
      const double tol = dtype_of(i) == DType::f64 ? gpu_test::kTol<double> : gpu_test::kTol<float>;
      check_same_values(gpu[i], cpu[i], tol, what);
      const optim::ParamState& state_cpu = opt_cpu->state(cpu[i]);
      const optim::ParamState& state_gpu = opt_gpu->state(gpu[i]);
      CHECK(state_gpu.step == state_cpu.step);
      for (const auto& [buffer, t] : state_cpu.buffers)
        if (t.defined()) check_same_values(state_gpu.find(buffer), t, tol, what + " " + buffer);
    }
    CHECK(opt_gpu->state(gpu[kLagging]).step == kSteps - 1);
  }
}
