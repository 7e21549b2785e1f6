#include "libnn/core/trace.h"

namespace nn::trace {

namespace {
thread_local Recorder* active = nullptr;
}

Recorder::Recorder() : previous_(active) { active = this; }
Recorder::~Recorder() { active = previous_; }

bool enabled() { return active != nullptr; }

void record(const char* op, const Tensor& output, std::initializer_list<const Tensor*> inputs, double flops) {
  if (!active) return;
  Event e{op, output.shape(), {}, flops};
  for (const Tensor* t : inputs)
    if (t && t->defined()) e.inputs.push_back(t->impl());
  active->events_.push_back(std::move(e));
}

}  // namespace nn::trace
