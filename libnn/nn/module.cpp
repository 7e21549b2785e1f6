#include "libnn/nn/module.h"

#include <map>
#include <set>

#include "libnn/autograd/grad_mode.h"

namespace nn {

namespace {

using Named = std::vector<std::pair<std::string, Tensor>>;

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// Appends the defined tensors of `own`, skipping ones already listed (a tensor shared by two modules).
void append_unique(const std::string& prefix, const Named& own, Named& out, std::set<const TensorImpl*>& seen) {
  for (const auto& [name, t] : own)
    if (t.defined() && seen.insert(t.impl()).second) out.emplace_back(join(prefix, name), t);
}

std::string list(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace

Tensor Module::forward(const Tensor&) {
  throw Error(str(type_name_, ": forward(Tensor) is not implemented for this module"));
}

void Module::check_new_name(const std::string& name, const char* what) const {
  NN_CHECK(!name.empty(), type_name_, ": ", what, " name is empty");
  NN_CHECK(name.find('.') == std::string::npos, type_name_, ": ", what, " name \"", name, "\" contains '.'");
  auto taken = [&](const auto& v) {
    for (const auto& entry : v)
      if (entry.first == name) return true;
    return false;
  };
  NN_CHECK(!taken(params_) && !taken(buffers_) && !taken(children_), type_name_, ": ", what, " name \"", name,
           "\" is already registered");
}

Tensor Module::register_parameter(const std::string& name, Tensor t, bool requires_grad) {
  check_new_name(name, "parameter");
  if (t.defined()) {
    NN_CHECK(t.is_leaf(), type_name_, ": parameter \"", name, "\" must be a leaf tensor, got ", t.describe());
    NN_CHECK(is_floating(t.dtype()), type_name_, ": parameter \"", name, "\" must be floating, got ", t.describe());
    t.set_requires_grad(requires_grad);
  }
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  check_new_name(name, "buffer");
  NN_CHECK(!t.defined() || !t.requires_grad(), type_name_, ": buffer \"", name, "\" must not require grad");
  buffers_.emplace_back(name, t);
  return t;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name, "submodule");
  NN_CHECK(module != nullptr, type_name_, ": submodule \"", name, "\" is null");
  children_.emplace_back(name, std::move(module));
}

Named Module::named_parameters(bool recurse) const {
  Named out;
  std::set<const TensorImpl*> seen;
  append_unique("", params_, out, seen);
  if (recurse)
    for (const auto& [prefix, m] : const_cast<Module*>(this)->named_modules())
      if (m != this) append_unique(prefix, m->params_, out, seen);
  return out;
}

Named Module::named_buffers(bool recurse) const {
  Named out;
  std::set<const TensorImpl*> seen;
  append_unique("", buffers_, out, seen);
  if (recurse)
    for (const auto& [prefix, m] : const_cast<Module*>(this)->named_modules())
      if (m != this) append_unique(prefix, m->buffers_, out, seen);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_buffers(recurse)) out.push_back(t);
  return out;
}

void Module::collect_modules(const std::string& prefix, std::vector<std::pair<std::string, Module*>>& out) {
  out.emplace_back(prefix, this);
  for (auto& [name, child] : children_) child->collect_modules(join(prefix, name), out);
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out;
  collect_modules("", out);
  return out;
}

Module& Module::submodule(const std::string& path) {
  Module* m = this;
  std::size_t start = 0;
  while (start < path.size()) {
    const std::size_t dot = std::min(path.find('.', start), path.size());
    const std::string part = path.substr(start, dot - start);
    Module* next = nullptr;
    for (auto& [name, child] : m->children_)
      if (name == part) next = child.get();
    NN_CHECK(next != nullptr, type_name_, ": no submodule \"", path, "\" (", m->type_name_, " has no child \"",
             part, "\")");
    m = next;
    start = dot + 1;
  }
  return *m;
}

Tensor Module::tensor(const std::string& path) const {
  const std::size_t dot = path.rfind('.');
  const Module& owner =
      dot == std::string::npos ? *this : const_cast<Module*>(this)->submodule(path.substr(0, dot));
  const std::string leaf = dot == std::string::npos ? path : path.substr(dot + 1);
  for (const auto* v : {&owner.params_, &owner.buffers_})
    for (const auto& [name, t] : *v)
      if (name == leaf && t.defined()) return t;
  throw Error(str(type_name_, ": no parameter or buffer \"", path, "\""));
}

index_t Module::num_parameters(bool trainable_only) const {
  index_t n = 0;
  for (const auto& t : parameters())
    if (!trainable_only || t.requires_grad()) n += t.numel();
  return n;
}

void Module::train(bool mode) {
  training_ = mode;
  if (mode && frozen_) {
    frozen_ = false;
    drop_prepared();
  }
  for (auto& [name, child] : children_) child->train(mode);
}

void Module::freeze_for_inference() {
  train(false);
  for (const auto& [name, m] : named_modules()) m->frozen_ = true;
  drop_prepared_all();
}

void Module::drop_prepared_all() {
  for (const auto& [name, m] : named_modules()) m->drop_prepared();
}

void Module::zero_grad() {
  for (const auto& t : parameters()) t.set_grad(Tensor());
}

void Module::replace_tensors(const std::function<Tensor(const Tensor&)>& convert) {
  NoGradGuard no_grad;
  drop_prepared_all();
  auto replace = [&](const Tensor& t) {
    if (!t.defined()) return;
    const Tensor c = convert(t.detach());
    if (!c.defined()) return;
    // Swap the geometry and storage of the shared impl so every handle to it sees the new tensor.
    TensorImpl* impl = t.impl();
    impl->storage = c.impl()->storage;
    impl->offset = c.offset();
    impl->strides = c.strides();
    impl->dtype = c.dtype();
    impl->grad.reset();
  };
  for (const auto& [name, m] : named_modules()) {
    for (auto& [n, t] : m->params_) replace(t);
    for (auto& [n, t] : m->buffers_) replace(t);
  }
}

void Module::to(DType dtype) {
  replace_tensors([dtype](const Tensor& t) {
    return is_floating(t.dtype()) && t.dtype() != dtype ? t.to(dtype).contiguous() : Tensor();
  });
}

Device Module::device() const {
  const std::vector<Tensor> params = parameters();
  return params.empty() ? Device::cpu() : params.front().device();
}

void Module::to(Device device) {
  // Integer buffers (BatchNorm's num_batches_tracked) are host-side counters: bumping one on the GPU
  // would cost a synchronisation per layer and step, so they stay on the CPU.
  replace_tensors([device](const Tensor& t) {
    return !is_floating(t.dtype()) || t.device() == device ? Tensor() : t.to(device);
  });
}

void Module::collect_state(const std::string& prefix, StateDict& out) const {
  for (const auto& [name, t] : params_)
    if (t.defined()) out.emplace_back(join(prefix, name), t.detach());
  for (const auto& [name, t] : buffers_)
    if (t.defined()) out.emplace_back(join(prefix, name), t.detach());
  for (const auto& [name, child] : children_) child->collect_state(join(prefix, name), out);
}

StateDict Module::state_dict() const {
  StateDict out;
  collect_state("", out);
  return out;
}

LoadResult Module::load_state_dict(const StateDict& dict, bool strict) {
  const StateDict own = state_dict();
  std::map<std::string, const Tensor*> given;
  std::vector<std::string> duplicates;
  for (const auto& [name, t] : dict)
    if (!given.emplace(name, &t).second) duplicates.push_back(name);

  LoadResult result;
  std::vector<std::string> mismatches;
  std::set<std::string> own_names;
  for (const auto& [name, t] : own) {
    own_names.insert(name);
    auto it = given.find(name);
    if (it == given.end()) {
      result.missing_keys.push_back(name);
    } else if (!it->second->defined() || it->second->shape() != t.shape()) {
      mismatches.push_back(str(name, ": checkpoint ",
                               it->second->defined() ? str(it->second->shape()) : std::string("undefined"),
                               ", model ", t.shape()));
    }
  }
  for (const auto& [name, t] : dict)
    if (!own_names.contains(name)) result.unexpected_keys.push_back(name);

  const bool key_errors = strict && (!result.missing_keys.empty() || !result.unexpected_keys.empty());
  if (key_errors || !mismatches.empty() || !duplicates.empty()) {
    std::string msg = str("load_state_dict: error(s) loading state_dict into ", type_name_, ":");
    if (strict && !result.missing_keys.empty()) msg += "\n  missing keys: " + list(result.missing_keys);
    if (strict && !result.unexpected_keys.empty()) msg += "\n  unexpected keys: " + list(result.unexpected_keys);
    for (const auto& m : mismatches) msg += "\n  size mismatch for " + m;
    if (!duplicates.empty()) msg += "\n  duplicate keys: " + list(duplicates);
    throw Error(msg);
  }

  NoGradGuard no_grad;
  drop_prepared_all();
  for (const auto& [name, t] : own) {
    auto it = given.find(name);
    if (it == given.end()) continue;
    const Tensor& src = *it->second;
    if (src.raw_data() == t.raw_data() && src.dtype() == t.dtype() && src.strides() == t.strides()) continue;  // itself
    Tensor(t).copy_(src);
  }
  return result;
}

Sequential::Sequential(std::vector<std::shared_ptr<Module>> modules) : Module("Sequential") {
  for (auto& m : modules) push_back(std::move(m));
}

}  // namespace nn
