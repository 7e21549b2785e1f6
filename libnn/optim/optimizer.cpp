#include "libnn/optim/optimizer.h"

#include <map>
#include <set>

#include "libnn/autograd/grad_mode.h"

namespace nn::optim {

Tensor& ParamState::buffer(const std::string& name) {
  for (auto& [n, t] : buffers)
    if (n == name) return t;
  return buffers.emplace_back(name, Tensor()).second;
}

Tensor ParamState::find(const std::string& name) const {
  for (const auto& [n, t] : buffers)
    if (n == name) return t;
  return {};
}

Tensor check_update_args(const char* op, const Tensor& param, const Tensor& grad) {
  NN_CHECK(param.is_contiguous(), op, ": parameter must be contiguous, got ", param.describe());
  NN_CHECK(param.dtype() == DType::f32 || param.dtype() == DType::f64, op, ": parameter must be f32 or f64, got ",
           param.describe());
  NN_CHECK(grad.shape() == param.shape() && grad.dtype() == param.dtype() && grad.device() == param.device(), op,
           ": gradient ", grad.describe(), " does not match parameter ", param.describe());
  return grad.contiguous();
}

void Optimizer::add_group(std::vector<Tensor> params) {
  NN_CHECK(!params.empty(), name_, ": parameter group ", groups_.size(), " is empty");
  std::set<const TensorImpl*> seen;
  for (const auto& g : groups_)
    for (const auto& p : g.params) seen.insert(p.impl());
  for (const auto& p : params) {
    NN_CHECK(p.defined(), name_, ": undefined tensor in parameter group ", groups_.size());
    NN_CHECK(p.is_leaf(), name_, ": can't optimize a non-leaf tensor (", p.describe(), ")");
    NN_CHECK(is_floating(p.dtype()), name_, ": can't optimize a non-floating tensor (", p.describe(), ")");
    NN_CHECK(seen.insert(p.impl()).second, name_, ": a parameter appears twice (", p.describe(), ", group ",
             groups_.size(), ")");
  }
  Group g;
  g.first = state_.size();
  g.params = std::move(params);
  state_.resize(state_.size() + g.params.size());
  groups_.push_back(std::move(g));
}

void Optimizer::step() {
  NoGradGuard no_grad;
  std::vector<ParamUpdate> updates;
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    auto& group = groups_[gi];
    updates.clear();
    for (std::size_t i = 0; i < group.params.size(); ++i) {
      Tensor& p = group.params[i];
      Tensor grad = p.grad();
      if (grad.defined()) updates.push_back({p, std::move(grad), state_[group.first + i]});
    }
    if (!updates.empty()) update_group(gi, updates);
  }
}

void Optimizer::update_group(std::size_t group, std::span<const ParamUpdate> updates) {
  for (const ParamUpdate& u : updates) update(group, u.param, u.grad, u.state);
}

std::vector<Optimizer::ParamUpdate> Optimizer::update_cpu_params(std::size_t group,
                                                                 std::span<const ParamUpdate> updates) {
  std::vector<ParamUpdate> on_cuda;
  for (const ParamUpdate& u : updates) {
    if (u.param.device().is_cuda())
      on_cuda.push_back({u.param, check_update_args(name_.c_str(), u.param, u.grad), u.state});
    else
      update(group, u.param, u.grad, u.state);
  }
  return on_cuda;
}

void Optimizer::zero_grad() {
  for (auto& g : groups_)
    for (auto& p : g.params) p.set_grad(Tensor());
}

double& Optimizer::lr_ref(std::size_t group) const {
  NN_CHECK(group < groups_.size(), name_, ": no parameter group ", group, " (", groups_.size(), " groups)");
  return *hyper_of(group).at(0).real;
}

double& Optimizer::weight_decay_ref(std::size_t group) const {
  NN_CHECK(group < groups_.size(), name_, ": no parameter group ", group, " (", groups_.size(), " groups)");
  return *hyper_of(group).at(1).real;
}

double Optimizer::lr(std::size_t group) const { return lr_ref(group); }
void Optimizer::set_lr(std::size_t group, double lr) { lr_ref(group) = lr; }
double Optimizer::weight_decay(std::size_t group) const { return weight_decay_ref(group); }
void Optimizer::set_weight_decay(std::size_t group, double wd) { weight_decay_ref(group) = wd; }

std::vector<double> Optimizer::lrs() const {
  std::vector<double> out;
  for (std::size_t g = 0; g < groups_.size(); ++g) out.push_back(lr(g));
  return out;
}

const ParamState& Optimizer::state(const Tensor& param) const {
  for (const auto& g : groups_)
    for (std::size_t i = 0; i < g.params.size(); ++i)
      if (g.params[i].is_same(param)) return state_[g.first + i];
  throw Error(str(name_, ": state(): ", param.describe(), " is not a parameter of this optimizer"));
}

StateDict Optimizer::state_dict() const {
  StateDict out;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    const std::string prefix = str("param_groups.", g, ".");
    for (const auto& h : hyper_of(g))
      out.emplace_back(prefix + h.name, Tensor::full({}, h.real ? *h.real : (*h.flag ? 1.0 : 0.0), DType::f64));
    if (groups_[g].initial_lr) out.emplace_back(prefix + "initial_lr", Tensor::full({}, *groups_[g].initial_lr, DType::f64));
    std::vector<std::int64_t> numbers;
    for (std::size_t i = 0; i < groups_[g].params.size(); ++i)
      numbers.push_back(static_cast<std::int64_t>(groups_[g].first + i));
    out.emplace_back(prefix + "params", Tensor::from_labels(numbers));
  }
  for (std::size_t k = 0; k < state_.size(); ++k) {
    const ParamState& s = state_[k];
    const std::string prefix = str("state.", k, ".");
    if (s.step > 0) out.emplace_back(prefix + "step", Tensor::full({}, static_cast<double>(s.step), DType::i64));
    for (const auto& [name, t] : s.buffers)
      if (t.defined()) out.emplace_back(prefix + name, t.detach());
  }
  return out;
}

void Optimizer::load_state_dict(const StateDict& dict) {
  std::map<std::string, Tensor> given(dict.begin(), dict.end());
  std::set<std::string> used;
  auto take = [&](const std::string& key) -> Tensor {
    auto it = given.find(key);
    if (it == given.end()) return {};
    used.insert(key);
    return it->second;
  };

  // Check everything first; change nothing unless the whole dict fits.
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    const std::string prefix = str("param_groups.", g, ".");
    const Tensor numbers = take(prefix + "params");
    NN_CHECK(numbers.defined(), name_, ".load_state_dict: no ", prefix, "params (the optimizer has ", groups_.size(),
             " groups)");
    NN_CHECK(numbers.numel() == static_cast<index_t>(groups_[g].params.size()), name_,
             ".load_state_dict: group ", g, " has ", numbers.numel(), " parameters in the state dict but ",
             groups_[g].params.size(), " in the optimizer");
    for (const auto& h : hyper_of(g)) {
      const Tensor v = take(prefix + h.name);
      NN_CHECK(v.defined() && v.numel() == 1, name_, ".load_state_dict: missing or malformed ", prefix, h.name);
    }
  }
  for (const auto& [key, t] : given) {
    if (key.starts_with("param_groups.") && key.ends_with(".initial_lr")) {
      used.insert(key);
      continue;
    }
    if (!key.starts_with("state.")) continue;
    const std::size_t dot = key.find('.', 6);
    const std::string number = key.substr(6, dot == std::string::npos ? 0 : dot - 6);
    NN_CHECK(!number.empty() && number.size() < 10 && number.find_first_not_of("0123456789") == std::string::npos,
             name_, ".load_state_dict: malformed key ", key);
    const std::size_t k = std::stoul(number);
    const std::string field = key.substr(dot + 1);
    NN_CHECK(k < state_.size(), name_, ".load_state_dict: ", key, " names parameter ", k, " but the optimizer has ",
             state_.size());
    used.insert(key);
    if (field == "step") continue;
    const Tensor* param = nullptr;
    for (const auto& grp : groups_)
      if (k >= grp.first && k < grp.first + grp.params.size()) param = &grp.params[k - grp.first];
    NN_CHECK(t.shape() == param->shape(), name_, ".load_state_dict: ", key, " has shape ", t.shape(),
             " but parameter ", k, " is ", param->shape());
  }
  std::vector<std::string> unexpected;
  for (const auto& [key, t] : given)
    if (!used.contains(key)) unexpected.push_back(key);
  if (!unexpected.empty()) {
    std::string names;
    for (const auto& k : unexpected) names += (names.empty() ? "" : ", ") + k;
    throw Error(str(name_, ".load_state_dict: unexpected keys: ", names));
  }

  // Apply.
  NoGradGuard no_grad;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    const std::string prefix = str("param_groups.", g, ".");
    for (const auto& h : hyper_of(g)) {
      const double v = given.at(prefix + h.name).item();
      if (h.real) *h.real = v;
      else *h.flag = v != 0.0;
    }
    auto it = given.find(prefix + "initial_lr");
    groups_[g].initial_lr = it == given.end() ? std::nullopt : std::optional<double>(it->second.item());
  }
  for (auto& s : state_) s = ParamState{};
  for (const auto& grp : groups_) {
    for (std::size_t i = 0; i < grp.params.size(); ++i) {
      const std::size_t k = grp.first + i;
      const std::string prefix = str("state.", k, ".");
      for (const auto& [key, t] : dict) {
        if (!key.starts_with(prefix)) continue;
        const std::string field = key.substr(prefix.size());
        if (field == "step") {
          state_[k].step = static_cast<std::int64_t>(t.item());
        } else {
          Tensor copy = Tensor::empty(grp.params[i].shape(), grp.params[i].dtype(), grp.params[i].device());
          copy.copy_(t);
          state_[k].buffer(field) = copy;
        }
      }
    }
  }
}

}  // namespace nn::optim
