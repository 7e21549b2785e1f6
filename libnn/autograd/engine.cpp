// The backward engine: collects the nodes reachable from the root, counts how many gradients each
// will receive, and runs each node once all of them have arrived (Kahn's topological order).
#include <unordered_map>
#include <unordered_set>

#include "libnn/autograd/node.h"
#include "libnn/ops/arith.h"

namespace nn::autograd {

namespace {
thread_local bool grad_enabled = true;

std::shared_ptr<Node> accumulator_for(const std::shared_ptr<TensorImpl>& leaf) {
  if (auto acc = leaf->grad_accumulator.lock()) return acc;
  auto acc = std::make_shared<AccumulateGrad>(leaf);
  acc->input_shapes = {leaf->shape};
  leaf->grad_accumulator = acc;
  return acc;
}

std::shared_ptr<Node> edge_target(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return nullptr;
  return t.grad_fn() ? t.grad_fn() : accumulator_for(t.impl_ptr());
}
}  // namespace

bool GradMode::is_enabled() { return grad_enabled; }
void GradMode::set_enabled(bool enabled) { grad_enabled = enabled; }

Grads AccumulateGrad::apply(const Tensor& dy) {
  // The first gradient is copied: dy may be shared with other leaves (add passes dy through), and
  // later backward passes accumulate into this tensor in place.
  if (!leaf_->grad) {
    leaf_->grad = dy.contiguous().clone().impl_ptr();
  } else {
    Tensor acc(leaf_->grad);
    ops::add_(acc, dy);
  }
  return {};
}

Grads FunctionNode::apply(const Tensor& dy) {
  NN_CHECK(fn_, name(), " backward: the graph was already freed by an earlier backward()");
  GradMask needs(next.size());
  for (std::size_t i = 0; i < next.size(); ++i) needs[i] = next[i].fn != nullptr;
  return fn_(dy, needs);
}

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor* t : inputs)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}

void record(const Tensor& out, std::string name, const std::vector<Tensor>& inputs, BackwardFn backward) {
  auto node = std::make_shared<FunctionNode>(std::move(name), std::move(backward));
  node->next.reserve(inputs.size());
  for (const auto& t : inputs) {
    node->next.push_back(Edge{edge_target(t)});
    node->input_shapes.push_back(t.defined() ? t.shape() : Shape{});
  }
  out.impl()->grad_fn = std::move(node);
}

void run_backward(const Tensor& root, const Tensor& grad) {
  NN_CHECK(root.defined() && root.requires_grad(),
           "backward: the tensor does not require grad (no input of its graph needs a gradient)");
  Tensor seed = grad;
  if (!seed.defined()) {
    NN_CHECK(root.numel() == 1, "backward: a gradient must be given for a non-scalar output ", root.describe());
    seed = Tensor::ones(root.shape(), root.dtype(), root.device());
  }
  NN_CHECK(seed.shape() == root.shape(), "backward: gradient shape ", seed.shape(), " != output shape ",
           root.shape());
  std::shared_ptr<Node> root_fn = edge_target(root);

  // How many gradients each node waits for.
  std::unordered_map<Node*, int> pending_inputs;
  std::unordered_set<Node*> seen{root_fn.get()};
  std::vector<Node*> stack{root_fn.get()};
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next) {
      if (!e.fn) continue;
      ++pending_inputs[e.fn.get()];
      if (seen.insert(e.fn.get()).second) stack.push_back(e.fn.get());
    }
  }

  NoGradGuard no_grad;
  std::unordered_map<Node*, Tensor> grads{{root_fn.get(), seed}};
  std::vector<std::shared_ptr<Node>> ready{root_fn};
  while (!ready.empty()) {
    std::shared_ptr<Node> node = std::move(ready.back());
    ready.pop_back();
    Tensor dy;
    if (auto it = grads.find(node.get()); it != grads.end()) {
      dy = std::move(it->second);
      grads.erase(it);
    }
    Grads dx;
    if (dy.defined()) {
      dx = node->apply(dy);
      NN_CHECK(dx.size() == node->next.size() || node->next.empty(), node->name(), " backward returned ",
               dx.size(), " gradients for ", node->next.size(), " inputs");
    }
    node->release();
    for (std::size_t i = 0; i < node->next.size(); ++i) {
      const auto& target = node->next[i].fn;
      if (!target) continue;
      if (i < dx.size() && dx[i].defined()) {
        NN_CHECK(dx[i].shape() == node->input_shapes[i], node->name(), " backward: gradient ", i, " has shape ",
                 dx[i].shape(), ", the input had ", node->input_shapes[i]);
        Tensor& acc = grads[target.get()];
        acc = acc.defined() ? ops::add(acc, dx[i]) : dx[i];
      }
      if (--pending_inputs[target.get()] == 0) ready.push_back(target);
    }
  }
}

}  // namespace nn::autograd
