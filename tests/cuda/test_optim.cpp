// kernels/cuda/optim.h against its CPU twin kernels/cpu/optim.h over several steps, and the fused
// multi-tensor steps against the single-tensor ones. Where the CPU kernel fuses its multiply-adds (built
// with FMA, as -march=native on x86-64 is), the trajectories must agree bit for bit; a portable CPU build
// rounds twice there and is only close.
#include <doctest/doctest.h>

#include <cstdint>
#include <span>
#include <vector>

#include "kernels/cpu/optim.h"
#include "kernels/cuda/optim.h"
#include "tests/cuda/twins.h"

using namespace kern;
using namespace gpu_test;
using kern_test::random_vector;

namespace {

const std::vector<index_t> kOptimSizes = {1, 7, 1001, 1048579};
constexpr int kSteps = 5;

template <typename T>
void check_trajectory(const std::vector<T>& got, const std::vector<T>& want) {
#if defined(__FMA__)
  check_same(got, want);
#else
  check_matches(got, want, kTol<T>);
#endif
}

std::vector<SgdParams> sgd_configs() {
  std::vector<SgdParams> c(4);
  c[1].momentum = 0.9;
  c[2].momentum = 0.9;
  c[2].nesterov = true;
  c[2].weight_decay = 1e-4;
  c[3].lr = 0.1;
  c[3].momentum = 0.9;
  c[3].dampening = 0.1;
  c[3].weight_decay = 5e-4;
  c[3].maximize = true;
  return c;
}

std::vector<AdamParams> adam_configs() {
  std::vector<AdamParams> c(4);
  c[1].weight_decay = 1e-2;
  c[1].amsgrad = true;
  c[2].weight_decay = 0.1;
  c[2].maximize = true;
  c[3].lr = 1e-2;
  c[3].beta1 = 0.8;
  c[3].beta2 = 0.99;
  c[3].eps = 1e-6;
  c[3].amsgrad = true;
  return c;
}

// A list of tensors carved out of one allocation per role: sizes with zeros, ones, odd sizes, and more
// tensors than one launch takes.
const std::vector<index_t> kTensorSizes = [] {
  const index_t pattern[] = {0, 1, 5, 4099, 64, 1001, 3, 65537, 256, 7};
  std::vector<index_t> s;
  for (int i = 0; i < 110; ++i) s.push_back(pattern[i % 10]);
  return s;
}();

index_t total_of(const std::vector<index_t>& sizes) {
  index_t t = 0;
  for (const index_t n : sizes) t += n;
  return t;
}

}  // namespace

TEST_CASE_TEMPLATE("sgd_step/cuda_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  for (const index_t n : kOptimSizes) {
    for (const SgdParams& p : sgd_configs()) {
      CAPTURE(n);
      CAPTURE(p.momentum);
      CAPTURE(p.nesterov);
      CAPTURE(p.maximize);
      std::vector<T> param = random_vector<T>(std::size_t(n), 1), buf(std::size_t(n), T(0));
      DeviceBuffer<T> dparam(param), dbuf(buf), dgrad(static_cast<std::size_t>(n));
      T* buf_ptr = p.momentum != 0 ? buf.data() : nullptr;
      T* dbuf_ptr = p.momentum != 0 ? dbuf.get() : nullptr;
      for (int step = 1; step <= kSteps; ++step) {
        const auto grad = random_vector<T>(std::size_t(n), 10u + unsigned(step));
        dgrad.upload(grad);
        sgd_step_cpu(p, n, param.data(), grad.data(), buf_ptr, step == 1);
        sgd_step_cuda(p, n, dparam.get(), dgrad.get(), dbuf_ptr, step == 1, nullptr);
      }
      check_trajectory(dparam.download(), param);
      if (p.momentum != 0) check_trajectory(dbuf.download(), buf);
    }
  }
}

TEST_CASE_TEMPLATE("adam_step/cuda_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  for (const index_t n : kOptimSizes) {
    for (const AdamParams& p : adam_configs()) {
      for (const bool decoupled : {false, true}) {
        CAPTURE(n);
        CAPTURE(p.weight_decay);
        CAPTURE(p.amsgrad);
        CAPTURE(p.maximize);
        CAPTURE(decoupled);
        const std::size_t sn = std::size_t(n);
        std::vector<T> param = random_vector<T>(sn, 2), m(sn, T(0)), v(sn, T(0)), vmax(sn, T(0));
        DeviceBuffer<T> dparam(param), dm(m), dv(v), dvmax(vmax), dgrad(sn);
        T* vmax_ptr = p.amsgrad ? vmax.data() : nullptr;
        T* dvmax_ptr = p.amsgrad ? dvmax.get() : nullptr;
        for (int step = 1; step <= kSteps; ++step) {
          // Gradients of mixed scale, so exp_avg_sq falls as well as rises (amsgrad's max matters).
          const auto grad = random_vector<T>(sn, 20u + unsigned(step), -1.0 / step, 1.0 / step);
          dgrad.upload(grad);
          if (decoupled) {
            adamw_step_cpu(p, n, step, param.data(), grad.data(), m.data(), v.data(), vmax_ptr);
            adamw_step_cuda(p, n, step, dparam.get(), dgrad.get(), dm.get(), dv.get(), dvmax_ptr, nullptr);
          } else {
            adam_step_cpu(p, n, step, param.data(), grad.data(), m.data(), v.data(), vmax_ptr);
            adam_step_cuda(p, n, step, dparam.get(), dgrad.get(), dm.get(), dv.get(), dvmax_ptr, nullptr);
          }
        }
        check_trajectory(dparam.download(), param);
        check_trajectory(dm.download(), m);
        check_trajectory(dv.download(), v);
        if (p.amsgrad) check_trajectory(dvmax.download(), vmax);
      }
    }
  }
}

TEST_CASE_TEMPLATE("sgd_step/cuda_multi_tensor_is_bitwise_single", T, float, double) {
  NN_REQUIRE_GPU();
  const std::size_t total = std::size_t(total_of(kTensorSizes));
  const auto param0 = random_vector<T>(total, 3);
  for (const SgdParams& p : sgd_configs()) {
    CAPTURE(p.momentum);
    CAPTURE(p.nesterov);
    DeviceBuffer<T> multi_param(param0), single_param(param0), grad(total);
    DeviceBuffer<T> multi_buf(std::vector<T>(total, T(0))), single_buf(std::vector<T>(total, T(0)));
    for (int step = 1; step <= kSteps; ++step) {
      grad.upload(random_vector<T>(total, 30u + unsigned(step)));
      std::vector<SgdTensor<T>> tensors;
      index_t at = 0;
      for (std::size_t k = 0; k < kTensorSizes.size(); ++k) {
        const index_t n = kTensorSizes[k];
        // Alternate tensors start their momentum a step late, as a parameter whose gradient came late.
        const bool first = step == (k % 2 ? 2 : 1);
        if (step >= (k % 2 ? 2 : 1)) {
          tensors.push_back({n, multi_param.get() + at, grad.get() + at,
                             p.momentum != 0 ? multi_buf.get() + at : nullptr, first});
          sgd_step_cuda(p, n, single_param.get() + at, grad.get() + at,
                        p.momentum != 0 ? single_buf.get() + at : nullptr, first, nullptr);
        }
        at += n;
      }
      sgd_step_multi_cuda<T>(p, tensors, nullptr);
    }
    check_same(multi_param.download(), single_param.download());
    if (p.momentum != 0) check_same(multi_buf.download(), single_buf.download());
  }
}

TEST_CASE_TEMPLATE("adam_step/cuda_multi_tensor_is_bitwise_single", T, float, double) {
  NN_REQUIRE_GPU();
  const std::size_t total = std::size_t(total_of(kTensorSizes));
  const auto param0 = random_vector<T>(total, 4);
  const std::vector<T> zeros(total, T(0));
  for (const AdamParams& p : adam_configs()) {
    for (const bool decoupled : {false, true}) {
      CAPTURE(p.amsgrad);
      CAPTURE(decoupled);
      DeviceBuffer<T> param[2] = {DeviceBuffer<T>(param0), DeviceBuffer<T>(param0)};
      DeviceBuffer<T> m[2] = {DeviceBuffer<T>(zeros), DeviceBuffer<T>(zeros)};
      DeviceBuffer<T> v[2] = {DeviceBuffer<T>(zeros), DeviceBuffer<T>(zeros)};
      DeviceBuffer<T> vmax[2] = {DeviceBuffer<T>(zeros), DeviceBuffer<T>(zeros)};
      DeviceBuffer<T> grad(total);
      for (int step = 1; step <= kSteps; ++step) {
        grad.upload(random_vector<T>(total, 40u + unsigned(step)));
        std::vector<AdamTensor<T>> tensors;
        index_t at = 0;
        for (const index_t n : kTensorSizes) {
          auto tensor = [&](int s) {
            return AdamTensor<T>{n, param[s].get() + at, grad.get() + at, m[s].get() + at, v[s].get() + at,
                                 p.amsgrad ? vmax[s].get() + at : nullptr};
          };
          tensors.push_back(tensor(0));
          const AdamTensor<T> t = tensor(1);
          if (decoupled)
            adamw_step_cuda(p, t.n, step, t.param, t.grad, t.exp_avg, t.exp_avg_sq, t.max_exp_avg_sq, nullptr);
          else
            adam_step_cuda(p, t.n, step, t.param, t.grad, t.exp_avg, t.exp_avg_sq, t.max_exp_avg_sq, nullptr);
          at += n;
        }
        if (decoupled)
          adamw_step_multi_cuda<T>(p, step, tensors, nullptr);
        else
          adam_step_multi_cuda<T>(p, step, tensors, nullptr);
      }
      check_same(param[0].download(), param[1].download());
      check_same(m[0].download(), m[1].download());
      check_same(v[0].download(), v[1].download());
      if (p.amsgrad) check_same(vmax[0].download(), vmax[1].download());
    }
  }
}
