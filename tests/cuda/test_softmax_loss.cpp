// kernels/cuda/softmax_loss.h against its CPU twin kernels/cpu/softmax_loss.h. Sums run in double on
// both sides but through different trees, so results are compared with a tolerance.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/cpu/softmax_loss.h"
#include "kernels/cuda/softmax_loss.h"
#include "tests/cuda/twins.h"

using namespace kern;
using namespace gpu_test;
using kern_test::random_vector;

namespace {

// (N, C): one element, odd rows, a warp-sized and a block-sized row, many classes, over 1e6 elements.
const std::vector<std::pair<index_t, index_t>> kRows = {{1, 1}, {3, 5}, {5, 32}, {7, 257}, {64, 1000},
                                                        {3, 100003}, {2, 600001}};

}  // namespace

TEST_CASE_TEMPLATE("log_softmax/cuda_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  for (const auto& [N, C] : kRows) {
    CAPTURE(N);
    CAPTURE(C);
    const std::size_t n = std::size_t(N * C);
    auto x = random_vector<T>(n, 1, -8, 8);
    if (N >= 3) {
      x[std::size_t(C)] = std::numeric_limits<T>::quiet_NaN();  // row 1 comes out all NaN
      x[std::size_t(2 * C)] = -std::numeric_limits<T>::infinity();  // row 2: that entry -inf, the rest finite
    }
    const auto dy = random_vector<T>(n, 2);
    std::vector<T> y(n), dx(n);
    log_softmax_forward_cpu(N, C, x.data(), y.data());
    DeviceBuffer<T> dx_in(x), dout(n);
    log_softmax_forward_cuda(N, C, dx_in.get(), dout.get(), nullptr);
    check_matches(dout.download(), y, kTol<T>);
    log_softmax_forward_cuda(N, C, dx_in.get(), dx_in.get(), nullptr);  // in place
    check_matches(dx_in.download(), y, kTol<T>);

    const DeviceBuffer<T> dyy(y);
    DeviceBuffer<T> ddy(dy);
    log_softmax_backward_cpu(N, C, dy.data(), y.data(), dx.data());
    log_softmax_backward_cuda(N, C, ddy.get(), dyy.get(), dout.get(), nullptr);
    check_matches(dout.download(), dx, kTol<T>);
    log_softmax_backward_cuda(N, C, ddy.get(), dyy.get(), ddy.get(), nullptr);  // in place
    check_matches(ddy.download(), dx, kTol<T>);
  }
}

TEST_CASE_TEMPLATE("cross_entropy/cuda_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  const std::vector<std::pair<index_t, index_t>> shapes = {{1, 1}, {1, 10}, {7, 5}, {64, 1000}, {300, 3001},
                                                           {2000, 600}};
  for (const auto& [N, C] : shapes) {
    for (const double ls : {0.0, 0.1}) {
      for (const bool has_weight : {false, true}) {
        for (const bool some_ignored : {false, true}) {
          CAPTURE(N);
          CAPTURE(C);
          CAPTURE(ls);
          CAPTURE(has_weight);
          CAPTURE(some_ignored);
          CrossEntropyParams p;
          p.N = N;
          p.C = C;
          p.label_smoothing = ls;
          p.has_weight = has_weight;
          p.ignore_index = some_ignored ? 3 : -100;  // a valid class index, to be ignored as PyTorch does
          const std::size_t n = std::size_t(N * C);
          // Log-probabilities of random logits, so the loss has its usual size.
          std::vector<T> logp(n);
          log_softmax_forward_cpu(N, C, random_vector<T>(n, 11, -4, 4).data(), logp.data());
          const auto u = random_vector<double>(std::size_t(N), 12, 0, 1);
          std::vector<std::int64_t> target(static_cast<std::size_t>(N));
          for (std::size_t i = 0; i < target.size(); ++i) target[i] = std::int64_t(u[i] * double(C)) % C;
          if (some_ignored)
            for (std::size_t i = 0; i < target.size(); i += 3) target[i] = p.ignore_index;
          const auto weight = random_vector<T>(std::size_t(C), 13, 0.5, 2);
          const T dloss_value = T(0.75);

          const DeviceBuffer<T> dlogp_in(logp), dweight(weight);
          const DeviceBuffer<std::int64_t> dtarget(target);
          const T* w = has_weight ? dweight.get() : nullptr;
          T loss{};
          cross_entropy_forward_cpu(p, logp.data(), target.data(), has_weight ? weight.data() : nullptr, &loss);
          DeviceBuffer<T> dloss_out(1);
          cross_entropy_forward_cuda(p, dlogp_in.get(), dtarget.get(), w, dloss_out.get(), nullptr);
          check_matches(dloss_out.download(), std::vector<T>{loss}, kTol<T>);

          std::vector<T> dlogp(n);
          cross_entropy_backward_cpu(p, logp.data(), target.data(), has_weight ? weight.data() : nullptr,
                                     &dloss_value, dlogp.data());
          const DeviceBuffer<T> ddloss(std::vector<T>{dloss_value});
          DeviceBuffer<T> dout(n);
          cross_entropy_backward_cuda(p, dlogp_in.get(), dtarget.get(), w, ddloss.get(), dout.get(), nullptr);
          check_matches(dout.download(), dlogp, kTol<T>);
        }
      }
    }
  }
}

TEST_CASE_TEMPLATE("cross_entropy/cuda_all_rows_ignored_is_nan", T, float, double) {
  NN_REQUIRE_GPU();
  CrossEntropyParams p;
  p.N = 4;
  p.C = 3;
  const std::vector<T> logp(12, T(-1));
  const std::vector<std::int64_t> target(4, p.ignore_index);
  T loss{};
  cross_entropy_forward_cpu(p, logp.data(), target.data(), static_cast<const T*>(nullptr), &loss);
  REQUIRE(std::isnan(double(loss)));
  const DeviceBuffer<T> dlogp(logp);
  const DeviceBuffer<std::int64_t> dtarget(target);
  DeviceBuffer<T> dloss(std::vector<T>{T(0)});
  cross_entropy_forward_cuda(p, dlogp.get(), dtarget.get(), static_cast<const T*>(nullptr), dloss.get(), nullptr);
  CHECK(std::isnan(double(dloss.download()[0])));
  // The backward writes zeros over every ignored row.
  const DeviceBuffer<T> one(std::vector<T>{T(1)});
  DeviceBuffer<T> dout(12);
  cross_entropy_backward_cuda(p, dlogp.get(), dtarget.get(), static_cast<const T*>(nullptr), one.get(), dout.get(),
                              nullptr);
  check_same(dout.download(), std::vector<T>(12, T(0)));
}
