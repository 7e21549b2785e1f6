// BM_gemm/ours beside BM_gemm/openblas (cblas_sgemm, same thread count) on square sizes and on the
// GEMMs that conv2d_forward issues for the ResNet34-caffe layers (M = K_out, N = samples-per-chunk * P*Q,
// K = C*R*S; see conv2d.cpp for the chunking). Reported in GFLOP/s (wall clock: the work is threaded).
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <omp.h>

#include <string>
#include <vector>

#include "bench/rate.h"
#include "kernels/cpu/gemm.h"

namespace {

struct Shape {
  std::string name;
  kern::index_t M, N, K;
  bool trans_a = false, trans_b = false;
};

std::vector<Shape> shapes() {
  std::vector<Shape> s;
  for (kern::index_t n : {256, 512, 1024, 2048}) s.push_back({"square_" + std::to_string(n), n, n, n});
  // name: layer, (M, N, K) of its forward GEMM as conv2d_forward issues it
  s.push_back({"conv1_3to32_k3_112", 32, 12100, 27});
  s.push_back({"stage_32to64_k3_110", 64, 11664, 288});
  s.push_back({"stage_64to128_k3_54", 128, 2704, 576});
  s.push_back({"stage_128to256_k3_26", 256, 576, 1152});
  s.push_back({"stage_768to512_k3_12", 512, 600, 6912});  // 6 samples of 10x10 per GEMM
  s.push_back({"block_64_p1_54", 64, 2916, 576});
  s.push_back({"block_128_p1_26", 128, 676, 1152});
  s.push_back({"block_256_p1_12", 256, 576, 2304});  // 4 samples of 12x12
  s.push_back({"block_512_p1_5", 512, 525, 4608});   // 21 samples of 5x5
  s.push_back({"fusion_1x1_192to64_54", 64, 2916, 192});
  // backward-data / backward-weight GEMM of one representative layer (64->64 p1 on 54)
  s.push_back({"block_64_p1_54_dx", 576, 2916, 64, true, false});
  s.push_back({"block_64_p1_54_dw", 64, 576, 2916, false, true});
  return s;
}

struct Data {
  std::vector<float> A, B, C;
  explicit Data(const Shape& s)
      : A(std::size_t(s.M * s.K), 0.5f), B(std::size_t(s.K * s.N), 0.25f), C(std::size_t(s.M * s.N)) {
    for (std::size_t i = 0; i < A.size(); ++i) A[i] = float(i % 17) * 0.01f;
    for (std::size_t i = 0; i < B.size(); ++i) B[i] = float(i % 13) * 0.02f;
  }
};

void bm_ours(benchmark::State& state, const Shape& s) {
  Data d(s);
  kern::GemmParams p;
  p.M = s.M, p.N = s.N, p.K = s.K, p.trans_a = s.trans_a, p.trans_b = s.trans_b;
  const auto t0 = bench::BenchClock::now();
  for (auto _ : state) {
    kern::gemm_cpu<float>(p, 1.0f, d.A.data(), d.B.data(), 0.0f, d.C.data());
    benchmark::DoNotOptimize(d.C.data());
    benchmark::ClobberMemory();
  }
  bench::report_rate(state, 2.0 * s.M * s.N * s.K, t0);
}

void bm_openblas(benchmark::State& state, const Shape& s) {
  Data d(s);
  const int lda = int(s.trans_a ? s.M : s.K), ldb = int(s.trans_b ? s.K : s.N);
  const auto t0 = bench::BenchClock::now();
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, s.trans_a ? CblasTrans : CblasNoTrans, s.trans_b ? CblasTrans : CblasNoTrans,
                int(s.M), int(s.N), int(s.K), 1.0f, d.A.data(), lda, d.B.data(), ldb, 0.0f, d.C.data(),
                int(s.N));
    benchmark::DoNotOptimize(d.C.data());
    benchmark::ClobberMemory();
  }
  bench::report_rate(state, 2.0 * s.M * s.N * s.K, t0);
}

}  // namespace

int main(int argc, char** argv) {
  openblas_set_num_threads(omp_get_max_threads());  // compare like with like
  for (const Shape& s : shapes()) {
    benchmark::RegisterBenchmark(("BM_gemm/ours/" + s.name).c_str(), bm_ours, s)->UseRealTime();
    benchmark::RegisterBenchmark(("BM_gemm/openblas/" + s.name).c_str(), bm_openblas, s)->UseRealTime();
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
