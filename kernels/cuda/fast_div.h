// Division of non-negative ints by a divisor fixed at launch, as a multiply-high and a shift: the
// implicit-GEMM gathers split every row and column index into (channel, tap) and (image, pixel) per
// element, and a hardware-less 32-bit division costs ~20 instructions. Host and device compile the
// same code, so the CPU tests check the magic numbers exhaustively where the GPU ones cannot run.
//
// Round-up method (Granlund & Montgomery): for d > 1, l = ceil(log2 d), m = ceil(2^(31+l) / d) < 2^32;
// then n * m / 2^(31+l) = n / d + n * e / 2^(31+l) with 0 <= e < 1, and for 0 <= n < 2^31 the excess is
// below 2^-l <= 1 / d, too little to reach the next multiple of 1 / d: the floor is exactly n / d.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define NN_HOST_DEVICE __host__ __device__
#else
#define NN_HOST_DEVICE
#endif

namespace kern::cu {

class FastDiv {
 public:
  FastDiv() = default;
  // requires: d >= 1.
  explicit FastDiv(int d) : d_(d) {
    if (d == 1) return;
    int l = 0;
    while ((std::int64_t{1} << l) < d) ++l;
    shift_ = l - 1;  // the quotient is (n * m) >> 32 >> (l - 1)
    mul_ = static_cast<std::uint32_t>(((std::uint64_t{1} << (31 + l)) + static_cast<std::uint64_t>(d) - 1) /
                                      static_cast<std::uint64_t>(d));
  }
  NN_HOST_DEVICE int divisor() const { return d_; }
  // requires: 0 <= n < 2^31.
  NN_HOST_DEVICE int div(int n) const {
    if (d_ == 1) return n;
    return static_cast<int>(mulhi(static_cast<std::uint32_t>(n), mul_) >> shift_);
  }
  // q = n / d, returns n - q * d.
  NN_HOST_DEVICE int divmod(int n, int& q) const {
    q = div(n);
    return n - q * d_;
  }

 private:
  NN_HOST_DEVICE static std::uint32_t mulhi(std::uint32_t a, std::uint32_t b) {
#if defined(__CUDA_ARCH__)
    return __umulhi(a, b);
#else
    return static_cast<std::uint32_t>((static_cast<std::uint64_t>(a) * b) >> 32);
#endif
  }
  int d_ = 1;
  std::uint32_t mul_ = 0;
  int shift_ = 0;
};

}  // namespace kern::cu

#undef NN_HOST_DEVICE
