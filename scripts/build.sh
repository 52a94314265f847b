#!/usr/bin/env bash
# Configures and builds xtpu into build/ (Ninja, -j2). Extra args: ninja targets.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
ninja -C build -j2 "$@"
