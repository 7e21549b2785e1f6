// Op tracing for model summaries: while a Recorder is alive on a thread, the main ops append one Event
// each (op name, output shape, the tensors they read, FLOPs). `hardtune summary` attributes events to
// modules through the parameters they read. Off by default: record() then returns after one
// thread-local load.
#pragma once

#include <initializer_list>
#include <vector>

#include "libnn/core/tensor.h"

namespace nn::trace {

struct Event {
  const char* op;
  Shape output;
  std::vector<const TensorImpl*> inputs;  // identity only, for attribution; never dereferenced later
  double flops;                           // multiply-adds count as 2
};

class Recorder {
 public:
  Recorder();
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;
  const std::vector<Event>& events() const { return events_; }

 private:
  friend void record(const char*, const Tensor&, std::initializer_list<const Tensor*>, double);
  std::vector<Event> events_;
  Recorder* previous_;
};

bool enabled();
// In an op, after computing `out`: trace::record("conv2d", out, {&x, &w}, flops).
void record(const char* op, const Tensor& output, std::initializer_list<const Tensor*> inputs, double flops);

}  // namespace nn::trace
