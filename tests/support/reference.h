// PyTorch reference files: tests/reference/make_<family>.py (run with Debian's python3-torch) writes
// tests/reference/<family>.safetensors. Convention: one metadata entry per case, key = case name, value =
// a JSON object of the case's parameters; tensors are named "<case>.<role>" (x, w, y, dx, dw, ...).
// The C++ tests iterate over the cases, so a new shape is one line in the Python script.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "libnn/io/safetensors.h"

namespace nn::testing {

const io::Safetensors& reference(const std::string& family);  // loaded once, cached
std::vector<std::string> reference_cases(const std::string& family);
nlohmann::json reference_params(const std::string& family, const std::string& case_name);
Tensor reference_tensor(const std::string& family, const std::string& case_name, const std::string& role);

// Root mean square of the elements: the scale of a result, used as the error floor for sums of many
// terms (an f32 dot product of length K is off by ~eps * sqrt(K) * |terms| however much it cancels).
double rms(const Tensor& t);

// Max relative error |a - e| / (|e| + atol_floor) over all elements, reported via INFO; CHECKs it is <= rtol.
double check_close(const Tensor& actual, const Tensor& expected, double rtol, const std::string& what,
                   double atol_floor = 1e-6);

}  // namespace nn::testing
