// The define-by-run tape. Each differentiable op makes its output and, when grad mode is on and some
// input needs a gradient, a Node that holds the saved tensors and the backward. Edges point from a node
// to the nodes of its inputs: the producing op's node, or the AccumulateGrad node of a leaf.
//
// Ops record through autograd::record(out, name, inputs, backward): the closure receives dy and a mask
// saying which inputs need a gradient (frozen parameters and input images cost no work) and returns one
// gradient per input, undefined where the mask is false.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "libnn/autograd/grad_mode.h"
#include "libnn/core/tensor.h"

namespace nn::autograd {

class Node;

struct Edge {
  std::shared_ptr<Node> fn;  // nullptr: this input needs no gradient
};

using GradMask = std::vector<bool>;
using Grads = std::vector<Tensor>;
using BackwardFn = std::function<Grads(const Tensor& dy, const GradMask& needs)>;

class Node {
 public:
  explicit Node(std::string name) : name_(std::move(name)) {}
  virtual ~Node() = default;

  // Gradients for each next edge, in order, given the gradient of this node's output.
  virtual Grads apply(const Tensor& dy) = 0;
  // Drops saved tensors once backward has run (the graph is then spent).
  virtual void release() {}

  const std::string& name() const { return name_; }
  std::vector<Edge> next;
  std::vector<Shape> input_shapes;  // the engine checks every gradient against these

 private:
  std::string name_;
};

// Sums incoming gradients into a leaf's .grad.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf) : Node("AccumulateGrad"), leaf_(std::move(leaf)) {}
  Grads apply(const Tensor& dy) override;

 private:
  std::shared_ptr<TensorImpl> leaf_;
};

// A node whose backward is a closure: how every op in libnn/ops records itself.
class FunctionNode final : public Node {
 public:
  FunctionNode(std::string name, BackwardFn fn) : Node(std::move(name)), fn_(std::move(fn)) {}
  Grads apply(const Tensor& dy) override;
  void release() override { fn_ = nullptr; }

 private:
  BackwardFn fn_;
};

// True when grad mode is on and any input needs a gradient: the op should call record().
bool needs_grad(std::initializer_list<const Tensor*> inputs);
inline bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const auto& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

// Attaches a FunctionNode to `out` with one edge per input (undefined inputs are allowed and get none).
void record(const Tensor& out, std::string name, const std::vector<Tensor>& inputs, BackwardFn backward);

// Runs the graph behind `root` backwards, seeded with `grad`; see Tensor::backward.
void run_backward(const Tensor& root, const Tensor& grad);

}  // namespace nn::autograd
