// kernels/cuda/affine.h against its CPU twin kernels/cpu/affine.h. The forward and dx round each multiply
// and add exactly as the CPU does, so they must match bit for bit (an FMA would show up here); the
// channel sums are trees in double, compared at kTol.
#include <doctest/doctest.h>

#include <type_traits>
#include <vector>

#include "kernels/cpu/affine.h"
#include "kernels/cuda/affine.h"
#include "tests/cuda/gpu.h"
#include "tests/kernels/compare.h"

using namespace kern;
using gpu_test::DeviceBuffer;
using gpu_test::kTol;
using gpu_test::kTolF32;
using kern_test::random_vector;

namespace {

struct Shape {
  index_t N, C, HW;
};
// face-api's scale layers at batch 32, the 7x7 head, N = 1, odd sizes, long rows of few channels.
const std::vector<Shape> kShapes = {{32, 64, 56 * 56}, {2, 512, 7 * 7}, {1, 16, 28 * 28}, {3, 5, 7}, {3, 2, 5000}};

}  // namespace

TEST_CASE_TEMPLATE("channel_affine/cuda_forward_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  unsigned seed = 1;
  for (const auto& [N, C, HW] : kShapes) {
    CAPTURE(N);
    CAPTURE(C);
    CAPTURE(HW);
    const std::size_t n = std::size_t(N * C * HW);
    const auto x = random_vector<T>(n, seed), w = random_vector<T>(std::size_t(C), seed + 1);
    const auto b = random_vector<T>(std::size_t(C), seed + 2);
    seed += 3;
    for (const bool bias : {true, false})
      for (const bool in_place : {false, true}) {
        CAPTURE(bias);
        CAPTURE(in_place);
        std::vector<T> y(n);
        channel_affine_forward_cpu(N, C, HW, x.data(), w.data(), bias ? b.data() : nullptr, y.data());
        DeviceBuffer<T> d_x(x), d_w(w), d_b(b), d_y(n);
        T* out = in_place ? d_x.get() : d_y.get();
        channel_affine_forward_cuda(N, C, HW, d_x.get(), d_w.get(), bias ? d_b.get() : nullptr, out, nullptr);
        NN_CHECK_REL((in_place ? d_x : d_y).download(), y, 0.0);
      }
  }
}

TEST_CASE_TEMPLATE("channel_affine/cuda_backward_matches_cpu", T, float, double) {
  NN_REQUIRE_GPU();
  struct Wanted {
    bool dx, dweight, dbias, in_place;
  };
  const std::vector<Wanted> kWanted = {{true, true, true, false}, {true, false, false, false},
                                       {false, true, false, false}, {false, false, true, false},
                                       {true, true, true, true}};
  unsigned seed = 100;
  for (const auto& [N, C, HW] : kShapes) {
    CAPTURE(N);
    CAPTURE(C);
    CAPTURE(HW);
    const std::size_t n = std::size_t(N * C * HW), nc = std::size_t(C);
    // x with a nonzero mean, so sum(dy * x) is not a sum of cancelling terms only.
    const auto x = random_vector<T>(n, seed, -1, 3), dy = random_vector<T>(n, seed + 1);
    const auto w = random_vector<T>(nc, seed + 2);
    seed += 3;
    for (const Wanted& want : kWanted) {
      CAPTURE(want.dx);
      CAPTURE(want.dweight);
      CAPTURE(want.dbias);
      CAPTURE(want.in_place);
      std::vector<T> dx(n), dw(nc), db(nc);
      channel_affine_backward_cpu(N, C, HW, dy.data(), x.data(), w.data(), want.dx ? dx.data() : nullptr,
                                  want.dweight ? dw.data() : nullptr, want.dbias ? db.data() : nullptr);
      DeviceBuffer<T> d_x(x), d_dy(dy), d_w(w), d_dx(n), d_dw(nc), d_db(nc);
      DeviceBuffer<double> ws(std::size_t(channel_affine_backward_workspace_size(N, C, HW)));
      T* gdx = want.dx ? (want.in_place ? d_dy.get() : d_dx.get()) : nullptr;
      channel_affine_backward_cuda(N, C, HW, d_dy.get(), d_x.get(), d_w.get(), gdx,
                                   want.dweight ? d_dw.get() : nullptr, want.dbias ? d_db.get() : nullptr, ws.get(),
                                   nullptr);
      if (want.dx) NN_CHECK_REL((want.in_place ? d_dy : d_dx).download(), dx, 0.0);
      if (want.dweight) NN_CHECK_REL(d_dw.download(), dw, kTol<T>);
      if (want.dbias) NN_CHECK_REL(d_db.download(), db, kTol<T>);
    }
  }
}
