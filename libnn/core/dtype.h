// Element types. f32 is the working type, f64 exists on CPU for gradient checks, bf16/f16 are storage
// types for mixed precision (converted on load/store), i64 holds labels and pooling indices.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>

#include "libnn/core/check.h"

namespace nn {

enum class DType : std::uint8_t { f32, f64, f16, bf16, i64, u8 };

constexpr std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::f16: return 2;
    case DType::bf16: return 2;
    case DType::i64: return 8;
    case DType::u8: return 1;
  }
  return 0;
}

constexpr const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
    case DType::i64: return "i64";
    case DType::u8: return "u8";
  }
  return "?";
}

constexpr bool is_floating(DType t) { return t != DType::i64 && t != DType::u8; }

inline std::ostream& operator<<(std::ostream& os, DType t) { return os << dtype_name(t); }

// 16-bit float storage types: plain bit containers with round-to-nearest-even conversions.
struct bf16 {
  std::uint16_t bits = 0;
  static bf16 from_float(float f) {
    auto u = std::bit_cast<std::uint32_t>(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return bf16{static_cast<std::uint16_t>((u >> 16) | 0x40)};  // NaN stays NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return bf16{static_cast<std::uint16_t>(u >> 16)};
  }
  float to_float() const { return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16); }
};

struct f16 {
  std::uint16_t bits = 0;
  static f16 from_float(float f);
  float to_float() const;
};

template <typename T> struct dtype_of_t;
template <> struct dtype_of_t<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of_t<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of_t<f16> { static constexpr DType value = DType::f16; };
template <> struct dtype_of_t<bf16> { static constexpr DType value = DType::bf16; };
template <> struct dtype_of_t<std::int64_t> { static constexpr DType value = DType::i64; };
template <> struct dtype_of_t<std::uint8_t> { static constexpr DType value = DType::u8; };
template <typename T> constexpr DType dtype_of = dtype_of_t<T>::value;

// Runs fn.template operator()<T>() for the floating compute types (f32, f64): the one place where a
// runtime dtype becomes a template argument.
template <typename Fn>
decltype(auto) dispatch_floating(DType t, const char* op, Fn&& fn) {
  switch (t) {
    case DType::f32: return fn.template operator()<float>();
    case DType::f64: return fn.template operator()<double>();
    default: throw Error(str(op, ": dtype ", dtype_name(t), " is not supported (f32 or f64 only)"));
  }
}

}  // namespace nn
