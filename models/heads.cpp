#include "models/heads.h"

#include <cmath>
#include <numbers>

#include "libnn/nn/init.h"
#include "libnn/ops/arith.h"
#include "libnn/ops/conv.h"
#include "libnn/ops/loss.h"
#include "libnn/ops/margin.h"

namespace models {

namespace {

void check_sizes(const char* head, index_t in_features, index_t classes) {
  NN_CHECK(in_features > 0 && classes > 0, head, ": in_features and classes must be positive, got ", in_features,
           " and ", classes);
}

void check_features(const char* head, const Tensor& features, index_t in_features) {
  NN_CHECK(features.defined() && features.dim() == 2 && features.size(1) == in_features, head,
           ": features must be (N, ", in_features, "), got ",
           features.defined() ? features.describe() : std::string("an undefined tensor"));
}

void freeze(nn::Module& m) {
  for (auto& [name, p] : m.named_parameters()) p.set_requires_grad(false);
}

}  // namespace

LinearHead::LinearHead(index_t in, index_t classes, bool frozen, nn::Generator& gen) : Head("LinearHead") {
  check_sizes("LinearHead", in, classes);
  // torch.nn.Linear's init, drawn before registration so a frozen parameter is never touched afterwards.
  Tensor w = Tensor::empty({classes, in}), b = Tensor::empty({classes});
  nn::init::kaiming_uniform_(w, std::sqrt(5.0), nn::init::FanMode::fan_in, "leaky_relu", gen);
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  nn::init::uniform_(b, -bound, bound, gen);
  weight = register_parameter("weight", w, !frozen);
  bias = register_parameter("bias", b, !frozen);
}

Tensor LinearHead::logits(const Tensor& features, const Tensor&) {
  check_features("LinearHead", features, weight.size(1));
  return nn::ops::linear(features, weight, bias);
}

LinearSequentialHead::LinearSequentialHead(index_t in, index_t classes, bool frozen, nn::Generator& gen)
    : Head("LinearSequentialHead") {
  check_sizes("LinearSequentialHead", in, classes);
  sequential = register_module("sequential", std::make_shared<nn::Sequential>());
  sequential->push_back(std::make_shared<nn::Linear>(in, kHidden, true, gen));       // 0
  sequential->push_back(std::make_shared<nn::ReLU>());                               // 1
  sequential->push_back(std::make_shared<nn::Dropout>(0.5, gen));                    // 2
  sequential->push_back(std::make_shared<nn::Linear>(kHidden, classes, true, gen));  // 3
  sequential->push_back(std::make_shared<nn::ReLU>());                               // 4: on the logits
  if (frozen) freeze(*this);
}

Tensor LinearSequentialHead::logits(const Tensor& features, const Tensor&) {
  check_features("LinearSequentialHead", features, static_cast<nn::Linear&>((*sequential)[0]).weight.size(1));
  return sequential->forward(features);
}

ArcMarginHead::ArcMarginHead(index_t in, index_t classes, const Options& o, bool frozen, nn::Generator& gen)
    : Head("ArcMarginHead"), options(o) {
  check_sizes("ArcMarginHead", in, classes);
  NN_CHECK(o.s > 0 && o.m >= 0 && o.m < std::numbers::pi, "ArcMarginHead: need s > 0 and 0 <= m < pi, got s = ", o.s,
           ", m = ", o.m);
  Tensor w = Tensor::empty({classes, in});
  nn::init::xavier_uniform_(w, 1.0, gen);
  weight = register_parameter("weight", w, !frozen);
}

Tensor ArcMarginHead::cosine(const Tensor& features) const {
  check_features("ArcMarginHead", features, weight.size(1));
  return nn::ops::linear(nn::ops::l2_normalize(features), nn::ops::l2_normalize(weight));
}

Tensor ArcMarginHead::logits(const Tensor& features, const Tensor& labels) {
  const Tensor cos = cosine(features);
  if (is_training() && labels.defined())
    return nn::ops::arc_margin(cos, labels, options.s, options.m, options.easy_margin);
  return nn::ops::mul_scalar(cos, options.s);
}

std::shared_ptr<Head> make_head(const std::string& type, index_t in, index_t classes, bool frozen, nn::Generator& gen) {
  if (type == "linear") return std::make_shared<LinearHead>(in, classes, frozen, gen);
  if (type == "linear_sequential") return std::make_shared<LinearSequentialHead>(in, classes, frozen, gen);
  if (type == "arc_margin") return std::make_shared<ArcMarginHead>(in, classes, ArcMarginHead::Options{}, frozen, gen);
  if (type == "arc_margin_5e-2")
    return std::make_shared<ArcMarginHead>(in, classes, ArcMarginHead::Options{.m = 0.05}, frozen, gen);
  std::string known;
  for (const auto& n : head_names()) known += (known.empty() ? "" : ", ") + n;
  throw nn::Error(nn::str("make_head: unknown classifier type '", type, "' (", known, ")"));
}

const std::vector<std::string>& head_names() {
  static const std::vector<std::string> names{"linear", "linear_sequential", "arc_margin", "arc_margin_5e-2"};
  return names;
}

}  // namespace models
