// arc_margin: forward and backward side by side (kernels/cpu/margin). The backward recomputes the branch
// from the saved cos and labels instead of saving phi: the op is cheap and the saved state stays explicit.
#include "libnn/ops/margin.h"

#include <cstdint>

#include "kernels/cpu/margin.h"
#include "kernels/cuda/margin.h"
#include "libnn/autograd/node.h"
#include "libnn/core/dispatch.h"
#include "libnn/ops/common.h"

namespace nn::ops {

Tensor arc_margin(const Tensor& cos_in, const Tensor& labels_in, double s, double m, bool easy_margin) {
  check_floating(cos_in, "arc_margin", "cos");
  check_dim(cos_in, 2, "arc_margin", "cos");
  check_dim(labels_in, 1, "arc_margin", "labels");
  NN_CHECK(labels_in.dtype() == DType::i64, "arc_margin: labels must be i64, got ", labels_in.describe());
  NN_CHECK(labels_in.size(0) == cos_in.size(0), "arc_margin: labels ", labels_in.shape(), " do not match cos ",
           cos_in.shape());
  const Tensor cos = cos_in.contiguous(), labels = labels_in.contiguous();
  const kern::ArcMarginParams p{.N = cos.size(0), .C = cos.size(1), .s = s, .m = m, .easy_margin = easy_margin};
  NN_CHECK(labels.device() == cos.device(), "arc_margin: labels on ", labels.device(), ", cos on ", cos.device());
  const Tensor labels_host = labels.to(Device::cpu());
  for (index_t n = 0; n < p.N; ++n) {
    const std::int64_t label = labels_host.data<std::int64_t>()[n];
    NN_CHECK(label >= 0 && label < p.C, "arc_margin: label ", label, " of sample ", n, " is outside [0, ", p.C, ")");
  }
  const std::int64_t* lab = labels.data<std::int64_t>();

  Tensor y = Tensor::empty(cos.shape(), cos.dtype(), cos.device());
  dispatch_floating(cos.dtype(), "arc_margin", [&]<typename T>() {
    NN_KERNEL(cos.device(), arc_margin_forward, p, cos.data<T>(), lab, y.data<T>());
  });
  if (autograd::needs_grad({&cos_in}))
    autograd::record(y, "arc_margin", {cos_in}, [p, cos, labels](const Tensor& dy_in, const autograd::GradMask&) {
      const Tensor dy = dy_in.contiguous();
      Tensor dcos = Tensor::empty(cos.shape(), cos.dtype(), cos.device());
      dispatch_floating(cos.dtype(), "arc_margin_backward", [&]<typename T>() {
        NN_KERNEL(dy.device(), arc_margin_backward, p, dy.data<T>(), cos.data<T>(), labels.data<std::int64_t>(),
                  dcos.data<T>());
      });
      return autograd::Grads{dcos};
    });
  return y;
}

}  // namespace nn::ops
