// kernels/cuda/reduce.h against its CPU twin kernels/cpu/reduce.h. Each output is one thread's walk over
// d in the CPU's order, so everything is compared exactly.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/cpu/reduce.h"
#include "kernels/cuda/reduce.h"
#include "tests/cuda/twins.h"

using namespace kern;
using namespace gpu_test;
using kern_test::random_vector;

namespace {

struct Dims {
  index_t outer, D, inner;
};
// Channel reduction of small and large maps, a last-dim reduction (inner 1), D == 1, over 1e6 elements.
const std::vector<Dims> kDims = {{1, 1, 1}, {2, 3, 5}, {3, 1000, 1}, {4, 1, 77}, {4, 64, 49}, {2, 7, 257},
                                 {4, 64, 4099}};

}  // namespace

TEST_CASE_TEMPLATE("mean_dim/cuda_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  for (const auto& [outer, D, inner] : kDims) {
    CAPTURE(outer);
    CAPTURE(D);
    CAPTURE(inner);
    const std::size_t nx = std::size_t(outer * D * inner), ny = std::size_t(outer * inner);
    const auto x = random_vector<T>(nx, 1), dy = random_vector<T>(ny, 2);
    const DeviceBuffer<T> dx_in(x), ddy(dy);
    DeviceBuffer<T> dout_y(ny), dout_x(nx);
    std::vector<T> y(ny), dx(nx);
    mean_dim_forward_cpu(outer, D, inner, x.data(), y.data());
    mean_dim_forward_cuda(outer, D, inner, dx_in.get(), dout_y.get(), nullptr);
    check_same(dout_y.download(), y);
    mean_dim_backward_cpu(outer, D, inner, dy.data(), dx.data());
    mean_dim_backward_cuda(outer, D, inner, ddy.get(), dout_x.get(), nullptr);
    check_same(dout_x.download(), dx);
  }
}

TEST_CASE_TEMPLATE("amax_dim/cuda_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  for (const auto& [outer, D, inner] : kDims) {
    CAPTURE(outer);
    CAPTURE(D);
    CAPTURE(inner);
    const std::size_t nx = std::size_t(outer * D * inner), ny = std::size_t(outer * inner);
    // Few distinct values, so ties are everywhere (the first maximum keeps the index), and NaNs, some
    // columns holding two (the first one is indexed).
    auto x = random_vector<T>(nx, 3, 0, 5);
    for (auto& v : x) v = std::floor(v);
    for (std::size_t i = 7; i < nx; i += 97) x[i] = std::numeric_limits<T>::quiet_NaN();
    for (std::size_t i = 7 + std::size_t(inner); i < nx; i += 389) x[i] = std::numeric_limits<T>::quiet_NaN();
    const auto dy = random_vector<T>(ny, 4);
    const DeviceBuffer<T> dx_in(x), ddy(dy);
    DeviceBuffer<T> dout_y(ny), dout_x(nx);
    DeviceBuffer<std::int64_t> dindex(ny);
    std::vector<T> y(ny), dx(nx);
    std::vector<std::int64_t> index(ny);
    amax_dim_forward_cpu(outer, D, inner, x.data(), y.data(), index.data());
    amax_dim_forward_cuda(outer, D, inner, dx_in.get(), dout_y.get(), dindex.get(), nullptr);
    check_same(dout_y.download(), y);
    CHECK(dindex.download() == index);

    const DeviceBuffer<std::int64_t> dindex_cpu(index);
    amax_dim_backward_cpu(outer, D, inner, dy.data(), index.data(), dx.data());
    amax_dim_backward_cuda(outer, D, inner, ddy.get(), dindex_cpu.get(), dout_x.get(), nullptr);
    check_same(dout_x.download(), dx);
  }
}
