#include "tests/support/reference.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <mutex>

namespace nn::testing {

namespace {
// The build's tests/reference, unless HARDTUNE_REFERENCE_DIR names another copy: a test binary built on one
// machine and run from another checkout (tools/gpu_check.sh on the GPU machine).
std::string reference_dir() {
  const char* dir = std::getenv("HARDTUNE_REFERENCE_DIR");
  return dir && *dir ? dir : NN_REFERENCE_DIR;
}
}  // namespace

const io::Safetensors& reference(const std::string& family) {
  static std::mutex mutex;
  static std::map<std::string, io::Safetensors> cache;
  std::lock_guard lock(mutex);
  auto it = cache.find(family);
  if (it == cache.end())
    it = cache.emplace(family, io::load_safetensors(reference_dir() + "/" + family + ".safetensors")).first;
  return it->second;
}

std::vector<std::string> reference_cases(const std::string& family) {
  std::vector<std::string> names;
  for (const auto& [key, value] : reference(family).metadata) names.push_back(key);
  return names;
}

nlohmann::json reference_params(const std::string& family, const std::string& case_name) {
  const auto& meta = reference(family).metadata;
  auto it = meta.find(case_name);
  NN_CHECK(it != meta.end(), family, ": no case \"", case_name, "\"");
  return nlohmann::json::parse(it->second);
}

Tensor reference_tensor(const std::string& family, const std::string& case_name, const std::string& role) {
  return reference(family).get(case_name + "." + role);
}

double rms(const Tensor& t) {
  double s = 0;
  for (double v : t.to_vector()) s += v * v;
  return std::sqrt(s / static_cast<double>(std::max<index_t>(t.numel(), 1)));
}

double check_close(const Tensor& actual, const Tensor& expected, double rtol, const std::string& what,
                   double atol_floor) {
  REQUIRE_MESSAGE(actual.defined(), what, ": result is undefined");
  REQUIRE_MESSAGE(actual.shape() == expected.shape(), what, ": shape ", actual.shape(), " vs expected ",
                  expected.shape());
  const auto a = actual.to_vector(), e = expected.to_vector();
  double worst = 0.0;
  std::size_t worst_i = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double rel = std::abs(a[i] - e[i]) / (std::abs(e[i]) + atol_floor);
    if (!(rel <= worst)) worst = rel, worst_i = i;  // also catches NaN
  }
  INFO(what, ": max relative error ", worst);
  CHECK_MESSAGE(worst <= rtol, what, ": max relative error ", worst, " at element ", worst_i, " (got ",
                a.empty() ? 0.0 : a[worst_i], ", expected ", e.empty() ? 0.0 : e[worst_i], ")");
  return worst;
}

}  // namespace nn::testing
