#!/usr/bin/env bash
# Installs everything xtpu needs from Debian's packages (idempotent).
# As root it runs apt-get; otherwise it prints the exact command to run.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev llvm-14-tools
  libprotobuf-dev protobuf-compiler libonnx-dev libonnx-testdata
  libcli11-dev libfmt-dev nlohmann-json3-dev libtomlplusplus-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev libopenblas-dev
  python3-dev pybind11-dev python3-numpy python3-torch python3-torchvision python3-onnx python3-pytest
  libjs-chart.js chromium fonts-liberation python3-websocket
)
missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PKGS[@]} packages present"
  exit 0
fi
cmd=(apt-get install -y --no-install-recommends "${missing[@]}")
if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages; run as root:" >&2
  echo "  sudo apt-get update && sudo ${cmd[*]}" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || true
"${cmd[@]}"
