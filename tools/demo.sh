#!/usr/bin/env bash
# The main job from a fresh machine: install packages, build (release), then `hardtune demo`: the HardTune
# pipeline on built-in synthetic data (synth, attack-type folds, train 3 folds x 2 seeds, predict with flip
# TTA, ensemble, eval). Extra arguments go to `hardtune demo` (e.g. --out runs/demo2 --difficulty 0.8).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh >/dev/null
exec build/train/hardtune demo "$@"
