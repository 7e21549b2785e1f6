#!/usr/bin/env bash
# Installs what hardtune needs to build and test on Debian 12 (idempotent: installs only what is missing).
# CUDA is optional: with nvcc on the PATH (or in /usr/local/cuda/bin) the CUDA backend is built too.
# clang builds the fuzz targets (tools/fuzz.sh); it leaves libFuzzer's runtime (libclang-rt-14-dev), the
# OpenMP headers for clang (libomp-14-dev) and llvm-symbolizer for readable reports (llvm-14) as
# recommendations, which --no-install-recommends skips.
set -euo pipefail

packages=(
  g++ meson ninja-build pkg-config
  doctest-dev libstb-dev libbenchmark-dev libopenblas-dev
  nlohmann-json3-dev libcli11-dev libtomlplusplus-dev zlib1g-dev
  clang libclang-rt-14-dev libomp-14-dev llvm-14
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The PyTorch reference generators (tests/reference/make_*.py) need Debian's python3-torch; CI does not.
if [[ "${HARDTUNE_SETUP_TORCH:-0}" == 1 ]]; then
  dpkg-query -W -f='${Status}' python3-torch 2>/dev/null | grep -q "install ok installed" ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch python3-numpy >/dev/null
fi
# face-api 1.7.15's pretrained weights (and the JS library the reference generator runs) into .cache/ for
# tests/test_faceapi.cpp. Best effort: offline, the build still works and those tests report themselves skipped.
"$(dirname "$0")/fetch_faceapi.sh" >/dev/null ||
  echo "setup: could not fetch face-api; tests/test_faceapi.cpp will skip its checks on the real weights" >&2
echo "setup: ok"
