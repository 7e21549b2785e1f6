// The classifier heads of the reference (`init_model.get_model`, REFERENCE.md §1.6): what turns the
// 512-d feature into class logits (index 1 = real). MultiModalNet::set_head registers a head as
// "classifier", so its keys read classifier.weight, classifier.sequential.0.weight, ...
//
// frozen registers every parameter with requires_grad = false: the reference never gave its classifier
// to the optimizer, so the experiments trained against a fixed random Linear(512, 2) (§3.3). A frozen head
// still passes gradients through to the features.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "libnn/core/rng.h"
#include "libnn/nn/layers.h"
#include "models/net.h"

namespace models {

// "linear" (the one the experiments used): logits = x W^T + b. Keys weight (classes, in), bias (classes),
// with torch.nn.Linear's default init.
class LinearHead : public Head {
 public:
  LinearHead(index_t in_features, index_t classes, bool frozen = false, nn::Generator& gen = nn::default_generator());
  Tensor logits(const Tensor& features, const Tensor& labels = {}) override;

  Tensor weight, bias;
};

// "linear_sequential": the reference's LinearSequential(512, [128, 2], [0.5, 0]) = Linear(in, 128), ReLU,
// Dropout(0.5), Linear(128, classes), ReLU. The trailing ReLU on the logits is the reference's (every
// layer of its loop gets one); a logit can therefore not go below 0. The layers live in an nn.Sequential
// attribute named `sequential`, hence the keys sequential.0.{weight,bias} and sequential.3.{weight,bias}.
class LinearSequentialHead : public Head {
 public:
  static constexpr index_t kHidden = 128;
  LinearSequentialHead(index_t in_features, index_t classes, bool frozen = false,
                       nn::Generator& gen = nn::default_generator());
  Tensor logits(const Tensor& features, const Tensor& labels = {}) override;

  std::shared_ptr<nn::Sequential> sequential;
};

// "arc_margin" / "arc_margin_5e-2": the reference's ArcMarginProduct (ArcFace). weight (classes, in),
// xavier_uniform, no bias; cos = linear(l2_normalize(x), l2_normalize(weight)).
// In training mode with labels: ops::arc_margin(cos, labels, s, m, easy_margin) (the margin on the target
// logit). In eval mode, or without labels: s * cos. (The reference has no label-free training path.)
class ArcMarginHead : public Head {
 public:
  struct Options {
    double s = 30.0;
    double m = 0.5;
    bool easy_margin = true;
  };
  ArcMarginHead(index_t in_features, index_t classes, const Options& options, bool frozen = false,
                nn::Generator& gen = nn::default_generator());
  Tensor logits(const Tensor& features, const Tensor& labels = {}) override;
  Tensor cosine(const Tensor& features) const;  // (N, in) -> (N, classes) in [-1, 1]

  Tensor weight;
  Options options;
};

// classifier_type -> head: "linear", "linear_sequential", "arc_margin" (m = 0.5), "arc_margin_5e-2"
// (m = 0.05). Throws on any other name (the reference's cce_arc_margin_* and linear_bce are not built).
std::shared_ptr<Head> make_head(const std::string& type, index_t in_features, index_t classes, bool frozen = false,
                                nn::Generator& gen = nn::default_generator());
// The names make_head knows, in that order.
const std::vector<std::string>& head_names();

}  // namespace models
