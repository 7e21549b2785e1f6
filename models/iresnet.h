// IR-50 / IR-SE-50 (face.evoLVe layout, REFERENCE.md §1.4) and the deeper IR-100 / IR-152, which are the
// same code with other unit counts. The first unit of every stage has stride 2.
#pragma once

#include <array>

#include "models/dlas.h"

namespace models {

struct IRConfig {
  // Channels of the input layer and of stages 1..4 (full: 64, 64, 128, 256, 512).
  std::array<index_t, 5> widths{64, 64, 128, 256, 512};
  // Units per stage: IR-50 {3, 4, 14, 3}; IR-100 {3, 13, 30, 3}; IR-152 {3, 8, 36, 3}.
  std::array<int, 4> units{3, 4, 14, 3};
  bool se = false;        // bottleneck_IR_SE: SE(reduction) appended to each residual branch
  index_t se_reduction = 16;
};

// input_layer.{0,1,2} and layer1..3 with units named res_layer.* / shortcut_layer.*: keys as the
// reference's {rgb,depth,ir}_backbone.*. Only DLAS-A is defined for this family.
DlasFamily ir_family(const IRConfig& config = {});

}  // namespace models
