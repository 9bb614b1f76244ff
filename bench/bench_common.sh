# What the PyTorch benches share (run_ebm_bench.sh, run_energynet_bench.sh, run_rbm_bench.sh),
# sourced after `set -euo pipefail` with BENCH set to the name of their results:
#   - SRC (the checkout), BUILD (${BUILD:-$SRC/build-float}), PYTHON (${PYTHON:-/usr/bin/python3}),
#     JOBS (${JOBS:-2});
#   - one core for everybody (OpenBLAS, OpenMP: Kokkos and PyTorch, MKL) and Open MPI allowed as root;
#   - $BUILD configured as a float Release build without tests (if it is not one) and zeta built
#     (NO_BUILD=1: $BUILD/zeta as it is, if there is one);
#   - ZETA=$BUILD/zeta, OUT=$BUILD/bench-results and RESULTS=$OUT/$BENCH-<date>.jsonl, emptied.
# shellcheck shell=bash

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$SRC/build-float}
PYTHON=${PYTHON:-/usr/bin/python3}
JOBS=${JOBS:-2}

export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

cached() { sed -n "s/^$1:[A-Z]*=//p" "$BUILD/CMakeCache.txt" 2>/dev/null; }
if [[ ! -f $BUILD/CMakeCache.txt || $(cached ZETA_PRECISION) != float || $(cached CMAKE_BUILD_TYPE) != Release ]]; then
  echo "== configuring $BUILD (Release, float, no tests)" >&2
  cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DZETA_PRECISION=float -DZETA_ENABLE_TESTS=OFF \
    -DZETA_ENABLE_BENCH=ON >"$BUILD.configure.log" 2>&1 || { cat "$BUILD.configure.log" >&2; exit 1; }
fi
if [[ ${NO_BUILD:-0} == 1 && -x $BUILD/zeta ]]; then
  echo "== NO_BUILD=1: $BUILD/zeta as it is" >&2
else
  echo "== building zeta (float)" >&2
  cmake --build "$BUILD" --target zeta_exe -j "$JOBS" >&2
fi

# shellcheck disable=SC2034  # ZETA is for the scripts that source this file
ZETA=$BUILD/zeta
OUT=$BUILD/bench-results
mkdir -p "$OUT"
RESULTS=$OUT/$BENCH-$(date +%Y%m%d-%H%M%S).jsonl
: >"$RESULTS"
