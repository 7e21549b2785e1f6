// The one translation unit that owns doctest's main(); test files only include doctest.h.
// `--gpu` (given by the meson entries of tests/cuda/) turns "no CUDA device" into exit code 77, which
// meson reports as SKIP rather than as a pass that checked nothing.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "libnn/core/device.h"

int main(int argc, char** argv) {
  std::vector<char*> args;
  bool gpu_only = false;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--gpu") == 0)
      gpu_only = true;
    else
      args.push_back(argv[i]);
  }
  if (gpu_only && !nn::cuda::is_available()) {
    std::puts("skipped: no CUDA device");
    return 77;
  }
  doctest::Context context(static_cast<int>(args.size()), args.data());
  return context.run();
}
