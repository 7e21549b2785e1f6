// Errors: every failure in libnn is an nn::Error carrying the op's name and the shapes involved.
// The library never exits the process; callers (the CLI) turn errors into a one-line reason.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace nn {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Concatenates anything streamable: str("conv2d: input ", shape, " ...").
template <typename... Args>
std::string str(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

}  // namespace nn

// NN_CHECK(cond, "op: message ", value, ...) throws nn::Error with the concatenated message.
#define NN_CHECK(cond, ...)                          \
  do {                                               \
    if (!(cond)) throw ::nn::Error(::nn::str(__VA_ARGS__)); \
  } while (0)
