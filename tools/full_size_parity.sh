#!/usr/bin/env bash
# Full-size parity and timings of the whole networks against PyTorch (not part of meson test: the
# reference files are hundreds of MB and the f64 reference step takes minutes). Builds (tools/build.sh),
# writes the PyTorch reference of resnet34_dlas_a and ir50_dlas_a to $OUT_DIR (default
# /tmp/hardtune_parity; never commit those files), prints PyTorch's f32 timings, then runs
# bench/model_parity on each file (errors, then our timings). Results: bench/README.md.
#   tools/full_size_parity.sh [OUT_DIR]
# Timings are only comparable on a quiet machine: the two sides run one after the other, 2 threads each.
set -euo pipefail
cd "$(dirname "$0")/.."
out_dir="${1:-/tmp/hardtune_parity}"
build_dir="${BUILD_DIR:-build}"
nets=(resnet34_dlas_a ir50_dlas_a)
tools/build.sh
export OMP_NUM_THREADS=2
/usr/bin/python3 tools/full_size_parity.py --out "$out_dir" --nets "$(IFS=,; echo "${nets[*]}")"
status=0
for net in "${nets[@]}"; do
  "$build_dir/bench/model_parity" "$out_dir/$net.safetensors" || status=$?
done
exit $status
