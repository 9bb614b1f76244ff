#!/usr/bin/env bash
# Fresh Debian 12, as root: install dependencies, build, run the whole test
# suite (MPI tests at 1, 2 and 4 ranks). Extra arguments go to ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" "$root/build"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --test-dir "$root/build" --output-on-failure -j "$(nproc)" "$@"
