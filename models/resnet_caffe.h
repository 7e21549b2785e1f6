// ResNetCaffe-34 (MCS2018 layout, REFERENCE.md §1.3): every stage is conv3x3 pad 0 (no bias) -> BN ->
// PReLU -> MaxPool 2x2 s2 -> N x BasicBlock; no strided convs, no projection shortcuts.
#pragma once

#include <array>

#include "models/dlas.h"

namespace models {

struct ResNetCaffeConfig {
  // Channels of conv1 and of stages 1..4 (the full net: 32, 64, 128, 256, 512).
  std::array<index_t, 5> widths{32, 64, 128, 256, 512};
  // BasicBlocks in stages 1..4 (ResNet-34 caffe: 1, 2, 5, 3).
  std::array<int, 4> blocks{1, 2, 5, 3};
};

// conv1, bn1, relu(PReLU) and layer1..3 (+ ch_att1..3 for DLAS-B): keys as the reference's
// {rgb,depth,ir}_backbone.*.
DlasFamily resnet_caffe_family(const ResNetCaffeConfig& config = {});

}  // namespace models
