#include "models/summary.h"

#include <cstdio>
#include <map>
#include <string_view>
#include <unordered_map>

#include "libnn/autograd/grad_mode.h"
#include "libnn/core/trace.h"

namespace models {

namespace {
std::string parent_of(const std::string& dotted) {
  const auto dot = dotted.rfind('.');
  return dot == std::string::npos ? "" : dotted.substr(0, dot);
}

std::string top_of(const std::string& dotted) { return dotted.substr(0, dotted.find('.')); }

std::string shape_str(const nn::Shape& s) { return nn::str(s); }

std::string human(double v) {
  char buf[32];
  if (v >= 1e9) std::snprintf(buf, sizeof buf, "%.2f G", v / 1e9);
  else if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.2f M", v / 1e6);
  else if (v >= 1e3) std::snprintf(buf, sizeof buf, "%.1f K", v / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}
}  // namespace

Summary summarize(MultiModalNet& net, index_t input_size, index_t batch) {
  Summary s;
  s.model = net.type_name();
  s.input_size = input_size;
  s.batch = batch;
  std::unordered_map<const nn::TensorImpl*, std::string> owner;  // parameter -> its module's path
  std::map<std::string, index_t> module_params;
  for (const auto& [name, t] : net.named_parameters()) {
    owner[t.impl()] = parent_of(name);
    module_params[parent_of(name)] += t.numel();
    s.total_params += t.numel();
    if (t.requires_grad()) s.trainable_params += t.numel();
  }

  net.eval();
  nn::NoGradGuard no_grad;
  const Tensor x = Tensor::zeros({batch, 3, input_size, input_size});
  std::vector<nn::trace::Event> events;
  {
    nn::trace::Recorder recorder;
    const Tensor features = net.features(x, x, x);
    s.feature_shape = features.shape();
    s.logits_shape = net.head()->logits(features).shape();
    events = recorder.events();
  }
  std::string current;
  std::map<std::string, bool> counted;
  for (const auto& e : events) {
    // Concatenation joins the streams: it belongs to no single module.
    if (std::string_view(e.op) == "cat") current = "(fusion)";
    for (const nn::TensorImpl* in : e.inputs)
      if (auto it = owner.find(in); it != owner.end()) {
        current = it->second;
        break;
      }
    SummaryRow row{current, e.op, e.output, 0, e.flops};
    if (!counted[current]) row.params = module_params[current], counted[current] = true;
    s.total_flops += e.flops;
    s.rows.push_back(std::move(row));
  }
  return s;
}

void print_summary(const Summary& s, std::ostream& out, bool detail) {
  char line[256];
  out << s.model << " at " << s.batch << " x 3 x " << s.input_size << " x " << s.input_size
      << " per modality (rgb, depth, ir)\n";
  if (detail) {
    std::snprintf(line, sizeof line, "%-48s %-20s %-22s %12s %12s\n", "module", "op", "output", "params", "FLOPs");
    out << line;
    for (const auto& r : s.rows) {
      std::snprintf(line, sizeof line, "%-48s %-20s %-22s %12lld %12s\n", r.module.c_str(), r.op.c_str(),
                    shape_str(r.output).c_str(), static_cast<long long>(r.params), human(r.flops).c_str());
      out << line;
    }
    out << '\n';
  }
  // Per top-level module, in order of first use.
  std::vector<std::string> order;
  std::map<std::string, SummaryRow> tops;
  for (const auto& r : s.rows) {
    const std::string top = r.module.empty() ? "(input)" : top_of(r.module);
    auto [it, inserted] = tops.try_emplace(top, SummaryRow{top, "", r.output, 0, 0});
    if (inserted) order.push_back(top);
    it->second.params += r.params;
    it->second.flops += r.flops;
    it->second.output = r.output;
  }
  std::snprintf(line, sizeof line, "%-24s %-22s %14s %12s\n", "module", "last output", "params", "FLOPs");
  out << line;
  for (const auto& name : order) {
    const auto& r = tops[name];
    std::snprintf(line, sizeof line, "%-24s %-22s %14lld %12s\n", name.c_str(), shape_str(r.output).c_str(),
                  static_cast<long long>(r.params), human(r.flops).c_str());
    out << line;
  }
  std::snprintf(line, sizeof line, "total parameters %lld (trainable %lld); forward %sFLOPs per batch of %lld\n",
                static_cast<long long>(s.total_params), static_cast<long long>(s.trainable_params),
                human(s.total_flops).c_str(), static_cast<long long>(s.batch));
  out << line << "feature " << shape_str(s.feature_shape) << ", logits " << shape_str(s.logits_shape) << '\n';
}

}  // namespace models
