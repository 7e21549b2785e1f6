#!/usr/bin/env bash
# Configures (once) and builds a release tree in build/ (or $BUILD_DIR). Extra args go to meson setup.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -d /usr/local/cuda/bin ]] && export PATH="$PATH:/usr/local/cuda/bin"
build_dir="${BUILD_DIR:-build}"
if [[ ! -f "$build_dir/build.ninja" ]]; then
  meson setup "$build_dir" --buildtype=release "$@" >/dev/null
fi
ninja -C "$build_dir"
