// Shape: the extents of a tensor, held inline (no heap) since every op creates a few of them.
// Strides use the same type; both are counted in elements, PyTorch's (N, C, H, W) order.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <span>
#include <vector>

#include "libnn/core/check.h"

namespace nn {

using index_t = std::int64_t;

class Shape {
 public:
  static constexpr int kMaxDims = 8;

  Shape() = default;
  Shape(std::initializer_list<index_t> dims) { assign(dims.begin(), dims.end()); }
  explicit Shape(std::span<const index_t> dims) { assign(dims.begin(), dims.end()); }
  explicit Shape(const std::vector<index_t>& dims) { assign(dims.begin(), dims.end()); }

  int size() const { return n_; }
  bool empty() const { return n_ == 0; }
  index_t operator[](int i) const { return d_[i]; }
  index_t& operator[](int i) { return d_[i]; }
  const index_t* begin() const { return d_.data(); }
  const index_t* end() const { return d_.data() + n_; }
  index_t back() const { return d_[n_ - 1]; }

  void push_back(index_t v) {
    NN_CHECK(n_ < kMaxDims, "Shape: more than ", kMaxDims, " dimensions");
    d_[n_++] = v;
  }

  index_t numel() const {
    index_t n = 1;
    for (int i = 0; i < n_; ++i) n *= d_[i];
    return n;
  }

  std::vector<index_t> vec() const { return {begin(), end()}; }

  friend bool operator==(const Shape& a, const Shape& b) {
    return a.n_ == b.n_ && std::equal(a.begin(), a.end(), b.begin());
  }

  friend std::ostream& operator<<(std::ostream& os, const Shape& s) {
    os << '(';
    for (int i = 0; i < s.n_; ++i) os << (i ? ", " : "") << s.d_[i];
    return os << ')';
  }

 private:
  template <typename It>
  void assign(It first, It last) {
    for (; first != last; ++first) push_back(static_cast<index_t>(*first));
  }

  std::array<index_t, kMaxDims> d_{};
  int n_ = 0;
};

// Row-major strides of a contiguous tensor of this shape.
inline Shape contiguous_strides(const Shape& shape) {
  Shape s = shape;
  index_t acc = 1;
  for (int i = shape.size() - 1; i >= 0; --i) {
    s[i] = acc;
    acc *= std::max<index_t>(shape[i], 1);
  }
  return s;
}

// Normalises a possibly negative dimension index, PyTorch-style (-1 = last).
inline int wrap_dim(int dim, int ndim, const char* op) {
  NN_CHECK(dim >= -ndim && dim < ndim, op, ": dimension ", dim, " out of range for a ", ndim, "-d tensor");
  return dim < 0 ? dim + ndim : dim;
}

}  // namespace nn
