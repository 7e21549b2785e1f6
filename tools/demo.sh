#!/usr/bin/env bash
# The main job from a fresh machine: install packages, build (release), and run the engine end to end on
# built-in synthetic data. Until the HardTune pipeline lands this is `hardtune smoke`; extra arguments
# are passed to it (e.g. --epochs 10 --out runs/smoke).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh >/dev/null
exec build/train/hardtune smoke "$@"
