// Grad mode: whether ops record the graph. Thread-local, like torch.no_grad().
#pragma once

namespace nn::autograd {

class GradMode {
 public:
  static bool is_enabled();
  static void set_enabled(bool enabled);
};

}  // namespace nn::autograd

namespace nn {

// Disables graph recording for its scope (inference, optimizer steps, backward itself).
class NoGradGuard {
 public:
  NoGradGuard() : prev_(autograd::GradMode::is_enabled()) { autograd::GradMode::set_enabled(false); }
  ~NoGradGuard() { autograd::GradMode::set_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

}  // namespace nn
