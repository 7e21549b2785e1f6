// cat: forward copies each input's rows of `inner` elements into place, byte-wise (dtype-agnostic);
// backward hands each input the matching slice of dy along dim.
#include "libnn/ops/tensor_ops.h"

#include <cstring>

#include "libnn/autograd/node.h"
#include "libnn/core/trace.h"
#include "libnn/ops/common.h"

namespace nn::ops {

Tensor cat(const std::vector<Tensor>& tensors_in, int dim_in) {
  NN_CHECK(!tensors_in.empty(), "cat: expected a non-empty list of tensors");
  for (std::size_t i = 0; i < tensors_in.size(); ++i)
    NN_CHECK(tensors_in[i].defined(), "cat: tensor ", i, " is undefined");
  const Tensor& first = tensors_in[0];
  NN_CHECK(first.dim() > 0, "cat: zero-dimensional tensor 0 cannot be concatenated");
  const int dim = wrap_dim(dim_in, first.dim(), "cat");

  Shape out_shape = first.shape();
  out_shape[dim] = 0;
  std::vector<index_t> sizes;  // each input's extent along dim
  for (std::size_t i = 0; i < tensors_in.size(); ++i) {
    const Tensor& t = tensors_in[i];
    check_same(first, t, "cat");
    bool match = t.dim() == first.dim();
    for (int d = 0; match && d < t.dim(); ++d) match = d == dim || t.size(d) == first.size(d);
    NN_CHECK(match, "cat: tensor ", i, " has shape ", t.shape(), " but tensor 0 has shape ", first.shape(),
             "; they must match except in dimension ", dim);
    sizes.push_back(t.size(dim));
    out_shape[dim] += t.size(dim);
  }

  index_t outer = 1, inner = 1;
  for (int d = 0; d < dim; ++d) outer *= out_shape[d];
  for (int d = dim + 1; d < out_shape.size(); ++d) inner *= out_shape[d];
  const std::size_t elem = dtype_size(first.dtype());
  Tensor out = Tensor::empty(out_shape, first.dtype(), first.device());
  char* po = static_cast<char*>(out.raw_data());
  const std::size_t out_row = static_cast<std::size_t>(out_shape[dim] * inner) * elem;
  std::size_t col = 0;  // byte offset of the current input within an output row
  index_t start = 0;    // the same, as an index along dim
  for (std::size_t i = 0; i < tensors_in.size(); ++i) {
    if (out.device().is_cuda()) {  // a strided copy into the slice, one launch per input
      out.slice(dim, start, start + sizes[i]).copy_(tensors_in[i].detach());
      start += sizes[i];
      continue;
    }
    const Tensor t = tensors_in[i].contiguous();
    const std::size_t row = static_cast<std::size_t>(sizes[i] * inner) * elem;
    const char* pt = static_cast<const char*>(t.raw_data());
#pragma omp parallel for schedule(static) if (outer * sizes[i] * inner >= 65536)
    for (index_t o = 0; o < outer; ++o) std::memcpy(po + o * out_row + col, pt + o * row, row);
    col += row;
  }

  if (autograd::needs_grad(tensors_in))
    autograd::record(out, "cat", tensors_in, [dim, sizes](const Tensor& dy, const autograd::GradMask& needs) {
      autograd::Grads grads(sizes.size());
      index_t start = 0;
      for (std::size_t i = 0; i < sizes.size(); ++i) {
        if (needs[i]) grads[i] = dy.slice(dim, start, start + sizes[i]).contiguous();
        start += sizes[i];
      }
      return grads;
    });
  trace::record("cat", out, {}, 0.0);
  return out;
}

}  // namespace nn::ops
