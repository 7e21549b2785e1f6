// bottleneck_IR and bottleneck_IR_SE of face.evoLVe (REFERENCE.md §1.4), the unit of the IR-50 family.
//   res_layer:      0 BN(in) -> 1 conv3x3 in->depth (s1 p1) -> 2 PReLU(depth) -> 3 conv3x3 depth->depth
//                   (stride s, p1) -> 4 BN(depth) [-> 5 SE(depth)]; convs have no bias.
//   shortcut_layer: in == depth: MaxPool2d(kernel 1, stride s), which picks pixels (0,0), (0,2), ... (a
//                   subsample, not an average); otherwise 0 conv1x1 in->depth (stride s, no bias) -> 1 BN.
//   out = res + shortcut, with no activation after the add.
// shortcut_layer is registered first, as in the reference, so state_dict order matches PyTorch's.
#pragma once

#include "libnn/nn/layers.h"

namespace models {

using nn::index_t;
using nn::Tensor;

class BottleneckIR : public nn::Module {
 public:
  // se: bottleneck_IR_SE, with SEModule(depth, se_reduction) as res_layer.5.
  BottleneckIR(index_t in_channels, index_t depth, index_t stride, bool se = false, index_t se_reduction = 16);
  Tensor forward(const Tensor& x) override;  // (N, in, H, W) -> (N, depth, ceil(H/s), ceil(W/s))

  std::shared_ptr<nn::Module> shortcut_layer;  // nn::MaxPool2d or Sequential[Conv2d, BatchNorm2d]
  std::shared_ptr<nn::Sequential> res_layer;
};

// One IR stage: `units` units, the first in_channels -> depth with stride 2, the others depth -> depth
// with stride 1; named "0", "1", ... like the reference's Sequential.
std::shared_ptr<nn::Sequential> make_ir_stage(index_t in_channels, index_t depth, int units, bool se = false,
                                              index_t se_reduction = 16);

}  // namespace models
