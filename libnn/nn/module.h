// Module: the owner of parameters, buffers and child modules, named exactly like PyTorch's state_dict
// keys ("layer1.0.conv1.weight"), so importing weights is mostly identity.
//
// Registration order is the iteration order, as in PyTorch: named_parameters() walks a module's own
// parameters then its children depth-first; state_dict() saves each module's parameters, then its
// buffers, then recurses into its children (torch's _save_to_state_dict). A parameter or buffer may be
// registered undefined (Conv2d without bias): it keeps its name reserved and is skipped everywhere.
//
// Layers keep Tensor handles to what they register. Everything that changes a parameter afterwards
// (load_state_dict, to(DType)) changes the shared TensorImpl in place, so those handles, and the ones an
// optimizer holds, stay valid.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "libnn/core/tensor.h"
#include "libnn/nn/state_dict.h"

namespace nn {

// What load_state_dict(dict, strict=false) skipped.
struct LoadResult {
  std::vector<std::string> missing_keys;     // in the module, not in the dict
  std::vector<std::string> unexpected_keys;  // in the dict, not in the module
};

class Module {
 public:
  explicit Module(std::string type_name = "Module") : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Single-input forward; modules with several inputs add their own methods.
  virtual Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }

  const std::string& type_name() const { return type_name_; }

  // ---- registration. Names are non-empty, contain no '.', and are unique within the module.
  // A parameter must be a floating leaf; it is set to requires_grad (unless requires_grad is false: frozen).
  Tensor register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  // Buffers are state that is saved but not trained (BN running stats, the i64 num_batches_tracked).
  Tensor register_buffer(const std::string& name, Tensor t);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

  // ---- traversal (recursive unless recurse = false). Shared tensors are listed once, like PyTorch.
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }
  // This module (name "") and every descendant, pre-order, with dotted names.
  std::vector<std::pair<std::string, Module*>> named_modules();
  // The child at a dotted path ("layer1.0"); throws when absent.
  Module& submodule(const std::string& path);
  // The parameter or buffer at a dotted path ("layer1.0.bn1.running_mean"); throws when absent.
  Tensor tensor(const std::string& path) const;

  // Number of parameter elements (trainable_only: those with requires_grad).
  index_t num_parameters(bool trainable_only = false) const;

  // ---- modes (recursive)
  virtual void train(bool mode = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Frozen inference, torch.jit.freeze's promise without a graph: eval mode, and the parameters will not
  // change in place until train(true), load_state_dict or to() (each of which drops what was prepared;
  // train(true) also unfreezes). Layers may then keep their weights prepared for the kernels: Conv2d keeps
  // them packed or Winograd-transformed, one to four times their memory, and skips that work per call.
  // Changing a frozen module's parameters any other way (an optimizer step, writing into them) leaves
  // its prepared weights stale.
  // ("Frozen" parameters elsewhere mean requires_grad = false: a different thing.)
  void freeze_for_inference();
  bool frozen_for_inference() const { return frozen_; }

  // Sets every parameter's gradient to undefined (PyTorch's zero_grad(set_to_none=True)).
  void zero_grad();
  // Converts floating parameters and buffers to dtype in place (integer buffers stay); drops gradients.
  void to(DType dtype);
  // Where the parameters live: the first parameter's device (the CPU for a module without any).
  Device device() const;
  // Moves every floating parameter and buffer to device in place (same handles); drops gradients.
  // Integer buffers (counters) stay on the CPU.
  void to(Device device);

  // ---- state. state_dict() entries share storage with the module (detached views).
  StateDict state_dict() const;
  // Copies values into the existing tensors (under NoGradGuard, converting dtype). Shape mismatches are
  // always an error; with strict, missing and unexpected keys are too. Every problem is reported in one
  // nn::Error, and nothing is copied unless all checks pass.
  LoadResult load_state_dict(const StateDict& dict, bool strict = true);

 protected:
  // Drops what this module prepared from its own parameters (not its children's).
  virtual void drop_prepared() {}

 private:
  // drop_prepared() on this module and every descendant.
  void drop_prepared_all();
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& name, const char* what) const;
  // Replaces every defined parameter and buffer t, in place, by convert(t) when it returns a tensor.
  void replace_tensors(const std::function<Tensor(const Tensor&)>& convert);
  void collect_state(const std::string& prefix, StateDict& out) const;
  void collect_modules(const std::string& prefix, std::vector<std::pair<std::string, Module*>>& out);

  std::string type_name_;
  bool training_ = true;
  bool frozen_ = false;
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// Runs its children in order; they are named "0", "1", ... like torch.nn.Sequential.
class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  explicit Sequential(std::vector<std::shared_ptr<Module>> modules);

  template <typename M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    return register_module(std::to_string(named_children().size()), std::move(module));
  }
  std::size_t size() const { return named_children().size(); }
  Module& operator[](std::size_t i) const { return *named_children().at(i).second; }

  // Defined in layers.cpp: each Conv2d, BatchNorm2d[, PReLU | ReLU] run goes through nn::conv_bn_act.
  Tensor forward(const Tensor& x) override;
};

}  // namespace nn
