// Model summaries: run one forward pass at a given input size with op tracing on, attribute each op to
// the module whose parameters it reads (parameter-free ops such as pooling or ReLU go to the module of
// the op before them; concatenations that join the streams to "(fusion)"), and report output shapes, parameters and FLOPs per op and per top-level module.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "models/net.h"

namespace models {

struct SummaryRow {
  std::string module;  // dotted path, e.g. rgb_backbone.layer1.4.conv1
  std::string op;
  nn::Shape output;
  index_t params = 0;  // the module's own parameters, counted at its first op
  double flops = 0;
};

struct Summary {
  std::string model;
  index_t input_size = 0, batch = 0;
  std::vector<SummaryRow> rows;
  index_t total_params = 0, trainable_params = 0;
  double total_flops = 0;
  nn::Shape feature_shape, logits_shape;
};

// Eval mode, no gradients, zero inputs of (batch, 3, size, size) for every modality.
Summary summarize(MultiModalNet& net, index_t input_size, index_t batch = 1);

// The per-top-level-module table and totals; with detail, one line per op as well.
void print_summary(const Summary& summary, std::ostream& out, bool detail = false);

}  // namespace models
