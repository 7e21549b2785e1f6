// kernels/cuda/margin.h against its CPU twin kernels/cpu/margin.h on random cosines. Either compiler may
// fuse 1 - cos^2 and the phi terms into FMAs, so results are compared with a tolerance.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "kernels/cpu/margin.h"
#include "kernels/cuda/margin.h"
#include "tests/cuda/twins.h"

using namespace kern;
using namespace gpu_test;
using kern_test::random_vector;

TEST_CASE_TEMPLATE("arc_margin/cuda_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  const std::vector<std::pair<index_t, index_t>> shapes = {{1, 1}, {3, 5}, {64, 1000}, {7, 257}, {128, 10007}};
  for (const auto& [N, C] : shapes) {
    for (const bool easy_margin : {true, false}) {
      CAPTURE(N);
      CAPTURE(C);
      CAPTURE(easy_margin);
      ArcMarginParams p;
      p.N = N;
      p.C = C;
      p.easy_margin = easy_margin;
      const std::size_t n = std::size_t(N * C);
      // Cosines over both branches of either mode (th = cos(pi - m) ~ -0.878), clear of |cos| = 1.
      const auto cos = random_vector<T>(n, 1, -0.99, 0.99);
      const auto dy = random_vector<T>(n, 2);
      const auto u = random_vector<double>(std::size_t(N), 3, 0, 1);
      std::vector<std::int64_t> labels(static_cast<std::size_t>(N));
      for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = std::int64_t(u[i] * double(C)) % C;

      const DeviceBuffer<T> dcos_in(cos);
      const DeviceBuffer<std::int64_t> dlabels(labels);
      std::vector<T> y(n), dcos(n);
      arc_margin_forward_cpu(p, cos.data(), labels.data(), y.data());
      DeviceBuffer<T> dy_out(n);
      arc_margin_forward_cuda(p, dcos_in.get(), dlabels.get(), dy_out.get(), nullptr);
      check_matches(dy_out.download(), y, kTol<T>);

      arc_margin_backward_cpu(p, dy.data(), cos.data(), labels.data(), dcos.data());
      DeviceBuffer<T> inplace(dy);  // dcos aliasing dy
      arc_margin_backward_cuda(p, inplace.get(), dcos_in.get(), dlabels.get(), inplace.get(), nullptr);
      check_matches(inplace.download(), dcos, kTol<T>);
    }
  }
}
