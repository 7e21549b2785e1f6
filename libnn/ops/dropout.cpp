// dropout: the mask (u8, 1 = keep) is the explicit saved tensor; forward and backward are
// kern::dropout_*. Element i keeps when its uniform draw u_i (counter base + i / 4, word i % 4, the
// layout fill_uniform uses) is >= p, so P(keep) = 1 - p.
#include "libnn/ops/dropout.h"

#include <cstdint>

#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/elementwise.h"
#include "libnn/autograd/node.h"
#include "libnn/core/dispatch.h"
#include "libnn/ops/common.h"

namespace nn::ops {

namespace {

// Drawn on the host from the same counters whatever the device, so a GPU run drops the same elements.
Tensor draw_mask(index_t n, double p, Generator& gen, Device device) {
  Tensor mask = Tensor::empty({n}, DType::u8);
  std::uint8_t* m = mask.data<std::uint8_t>();
  for_each_unit(n, gen, gen.reserve(philox_blocks(n)), [&](index_t i, double u) { m[i] = u >= p ? 1 : 0; });
  return mask.to(device);
}

}  // namespace

Tensor dropout(const Tensor& x_in, double p, bool training, Generator& gen) {
  check_floating(x_in, "dropout", "x");
  NN_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability has to be between 0 and 1, but got ", p);
  if (!training || p == 0.0) return x_in;

  const Tensor x = x_in.contiguous();
  const index_t n = x.numel();
  const Tensor mask = draw_mask(n, p, gen, x.device());  // (numel), 1 = keep
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch_floating(x.dtype(), "dropout", [&]<typename T>() {
    NN_KERNEL(x.device(), dropout_forward, n, p, x.data<T>(), mask.data<std::uint8_t>(), y.data<T>());
  });
  if (autograd::needs_grad({&x_in}))
    autograd::record(y, "dropout", {x_in}, [p, mask](const Tensor& dy_in, const autograd::GradMask&) {
      const Tensor dy = dy_in.contiguous();
      Tensor dx = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
      dispatch_floating(dy.dtype(), "dropout_backward", [&]<typename T>() {
        NN_KERNEL(dy.device(), dropout_backward, dy.numel(), p, dy.data<T>(), mask.data<std::uint8_t>(), dx.data<T>());
      });
      return autograd::Grads{dx};
    });
  return y;
}

}  // namespace nn::ops
