#!/usr/bin/env bash
# The main job: sets up the machine, builds xtpu, exports ResNet-18 from
# PyTorch, compiles it for the v4-like chip, runs it on the simulated chip
# and prints its top-5 predictions beside PyTorch's own, with the chip's
# performance summary.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh xtpu
export OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive
/usr/bin/python3 models/demo.py --xtpu build/xtpu --models build/models "$@"
