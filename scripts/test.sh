#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds xtpu and runs the whole test suite
# (unit, text, CLI, end-to-end models against PyTorch, ONNX conformance,
# fuzz smoke). Prints ctest's summary; exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
export OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive
cd build
ctest -j2 --output-on-failure --timeout 1800 "$@"
