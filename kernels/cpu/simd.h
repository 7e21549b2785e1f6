// SIMD shim: the one place that names vector intrinsics (and the 8 x 8 transposes built on them). Simd<T>
// is the widest register the compiler flags allow (-march=native by default): AVX-512, AVX2 + FMA, or,
// as the primary template, a plain scalar, so code written against it builds anywhere.
//
// Kernels use it where GCC will not vectorise on its own. The main case is a select around a multiply
// (PReLU: x > 0 ? x : a * x): under the default -ftrapping-math GCC does not if-convert the conditional
// multiply, so such loops stay scalar with a branch per element. (-fno-trapping-math would let it, but
// GCC 12.2 then miscompiles conditional reductions of the form `acc += c ? 0 : x * y`, measured here,
// so the flag is not used.)
#pragma once

#include <cstdint>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace kern {

template <typename T>
struct Simd {
  using reg = T;
  static constexpr int width = 1;
  static reg zero() { return T(0); }
  static reg set1(T v) { return v; }
  static reg load(const T* p) { return *p; }
  static void store(T* p, reg v) { *p = v; }
  static reg add(reg a, reg b) { return a + b; }
  static reg mul(reg a, reg b) { return a * b; }
  static reg fma(reg a, reg b, reg c) { return a * b + c; }
  // m > 0 ? pos : neg, lane by lane (a NaN m selects neg).
  static reg select_positive(reg m, reg pos, reg neg) { return m > T(0) ? pos : neg; }
};

#if defined(__AVX512F__)
template <>
struct Simd<float> {
  using reg = __m512;
  static constexpr int width = 16;
  static reg zero() { return _mm512_setzero_ps(); }
  static reg set1(float v) { return _mm512_set1_ps(v); }
  static reg load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, reg v) { _mm512_storeu_ps(p, v); }
  static reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  static reg fma(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static reg select_positive(reg m, reg pos, reg neg) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(m, zero(), _CMP_GT_OQ), neg, pos);
  }
};
template <>
struct Simd<double> {
  using reg = __m512d;
  static constexpr int width = 8;
  static reg zero() { return _mm512_setzero_pd(); }
  static reg set1(double v) { return _mm512_set1_pd(v); }
  static reg load(const double* p) { return _mm512_loadu_pd(p); }
  static void store(double* p, reg v) { _mm512_storeu_pd(p, v); }
  static reg add(reg a, reg b) { return _mm512_add_pd(a, b); }
  static reg mul(reg a, reg b) { return _mm512_mul_pd(a, b); }
  static reg fma(reg a, reg b, reg c) { return _mm512_fmadd_pd(a, b, c); }
  static reg select_positive(reg m, reg pos, reg neg) {
    return _mm512_mask_blend_pd(_mm512_cmp_pd_mask(m, zero(), _CMP_GT_OQ), neg, pos);
  }
};
#elif defined(__AVX2__) && defined(__FMA__)
template <>
struct Simd<float> {
  using reg = __m256;
  static constexpr int width = 8;
  static reg zero() { return _mm256_setzero_ps(); }
  static reg set1(float v) { return _mm256_set1_ps(v); }
  static reg load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, reg v) { _mm256_storeu_ps(p, v); }
  static reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  static reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  static reg fma(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
  static reg select_positive(reg m, reg pos, reg neg) {
    return _mm256_blendv_ps(neg, pos, _mm256_cmp_ps(m, zero(), _CMP_GT_OQ));
  }
};
template <>
struct Simd<double> {
  using reg = __m256d;
  static constexpr int width = 4;
  static reg zero() { return _mm256_setzero_pd(); }
  static reg set1(double v) { return _mm256_set1_pd(v); }
  static reg load(const double* p) { return _mm256_loadu_pd(p); }
  static void store(double* p, reg v) { _mm256_storeu_pd(p, v); }
  static reg add(reg a, reg b) { return _mm256_add_pd(a, b); }
  static reg mul(reg a, reg b) { return _mm256_mul_pd(a, b); }
  static reg fma(reg a, reg b, reg c) { return _mm256_fmadd_pd(a, b, c); }
  static reg select_positive(reg m, reg pos, reg neg) {
    return _mm256_blendv_pd(neg, pos, _mm256_cmp_pd(m, zero(), _CMP_GT_OQ));
  }
};
#endif

#if defined(__AVX2__)
// In place: r[i] lane j <-> r[j] lane i.
inline void transpose8x8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
  }
}
#endif

// dst[j * ldd + i] = src[i * lds + j] for an 8 x 8 block: in registers for float on AVX2 (a scalar
// loop's strided stores cost as much as the packing or transform around it), element by element otherwise.
template <typename T>
inline void transpose8x8(const T* src, std::int64_t lds, T* dst, std::int64_t ldd) {
#if defined(__AVX2__)
  if constexpr (sizeof(T) == sizeof(float)) {
    __m256 r[8];
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(reinterpret_cast<const float*>(src + i * lds));
    transpose8x8(r);
    for (int i = 0; i < 8; ++i) _mm256_storeu_ps(reinterpret_cast<float*>(dst + i * ldd), r[i]);
    return;
  }
#endif
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j) dst[j * ldd + i] = src[i * lds + j];
}

// dst[0 .. n) = src[0 .. n) for short runs (a row segment of an im2col panel): std::copy would call
// memmove, whose call and size dispatch cost more than the copy at these lengths.
template <typename T>
inline void copy_short(const T* src, T* dst, std::int64_t n) {
  using S = Simd<T>;
  std::int64_t j = 0;
  for (; j + S::width <= n; j += S::width) S::store(dst + j, S::load(src + j));
  for (; j < n; ++j) dst[j] = src[j];
}

// y[j] = t > 0 ? t : a * t, t = m * x[j] + b, for j < n (y may be x): PReLU after an affine map, the
// shape of every activation epilogue (ReLU is a = 0, which keeps NaN as NaN, like torch.relu).
template <typename T>
inline void affine_prelu(const T* x, T* y, std::int64_t n, T m, T b, T a) {
  using S = Simd<T>;
  const typename S::reg vm = S::set1(m), vb = S::set1(b), va = S::set1(a);
  std::int64_t j = 0;
  for (; j + S::width <= n; j += S::width) {
    const typename S::reg t = S::fma(vm, S::load(x + j), vb);
    S::store(y + j, S::select_positive(t, t, S::mul(va, t)));
  }
  for (; j < n; ++j) {
    const T t = m * x[j] + b;
    y[j] = t > T(0) ? t : a * t;
  }
}

}  // namespace kern
