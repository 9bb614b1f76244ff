#!/usr/bin/env bash
# Configures and builds Zeta. Usage: scripts/build.sh [BUILD_DIR] [extra cmake args...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
shift || true
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release --warn-uninitialized "$@"
cmake --build "$build" -j "$(nproc)"
