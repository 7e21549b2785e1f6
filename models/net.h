// The interface every HardTune network implements. A MultiModalNet maps the three aligned modalities
// (RGB, Depth, IR; each (N, 3, H, W)) to a feature vector and, through its head, to class logits with
// index 1 = real (live), index 0 = fake (REFERENCE.md §1.2). The head is registered as "classifier", so a
// full checkpoint holds exactly the reference model's keys plus classifier.*.
#pragma once

#include <memory>
#include <string>

#include "libnn/nn/module.h"

namespace models {

using nn::index_t;
using nn::Tensor;

// The three aligned inputs, in the order every concatenation uses.
enum class Modality { rgb, depth, ir };
constexpr Modality kAllModalities[] = {Modality::rgb, Modality::depth, Modality::ir};
const char* modality_name(Modality m);  // "rgb", "depth", "ir"
Modality parse_modality(const std::string& name);

// A classifier head on the feature vector.
class Head : public nn::Module {
 public:
  using nn::Module::Module;
  // features (N, D) -> logits (N, classes). labels (i64 (N)) are used by margin heads in training mode;
  // at inference they are undefined.
  virtual Tensor logits(const Tensor& features, const Tensor& labels = {}) = 0;
  Tensor forward(const Tensor& x) override { return logits(x); }
};

class MultiModalNet : public nn::Module {
 public:
  MultiModalNet(std::string type_name, index_t feature_dim) : nn::Module(std::move(type_name)), feature_dim_(feature_dim) {}

  // (N, 3, H, W) each -> (N, feature_dim()). Single-modality nets ignore (and accept undefined) others.
  virtual Tensor features(const Tensor& rgb, const Tensor& depth, const Tensor& ir) = 0;

  // features -> head -> (N, classes).
  Tensor logits(const Tensor& rgb, const Tensor& depth, const Tensor& ir, const Tensor& labels = {}) {
    NN_CHECK(head_, type_name(), ": no classifier head set");
    return head_->logits(features(rgb, depth, ir), labels);
  }

  void set_head(std::shared_ptr<Head> head) { head_ = register_module("classifier", std::move(head)); }
  Head* head() const { return head_.get(); }
  index_t feature_dim() const { return feature_dim_; }

 private:
  index_t feature_dim_;
  std::shared_ptr<Head> head_;
};

}  // namespace models
