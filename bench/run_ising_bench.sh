#!/usr/bin/env bash
# 2-D Ising sweeps, one rank, one core: spin updates/ns for Metropolis and heat-bath,
# with and without measure(), against the target of 0.5 updates/ns/core.
#
#   bench/run_ising_bench.sh                  # build (if needed) + 3 runs + table
#   RUNS=5 bench/run_ising_bench.sh           # more runs
#   BUILD=/path/to/build bench/run_ising_bench.sh -- --L 128 --replicas 16
#                                             # arguments after -- go to bench_ising
#
# Configures $BUILD (default build-ising/, Release) if it has no CMakeCache.txt,
# builds bench_ising, runs it RUNS times (each run: REPEATS timed repeats per case,
# the median kept) and prints, per case, the range of those medians over the runs
# and the range over every single repeat. The verdict uses the medians' range.
# Raw JSON lines go to $BUILD/bench-results/ising-<date>.jsonl.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$SRC/build-ising}
RUNS=${RUNS:-3}
REPEATS=${REPEATS:-7}
PYTHON=${PYTHON:-/usr/bin/python3}
JOBS=${JOBS:-2}
ARGS=()
if [[ ${1:-} == -- ]]; then
  shift
  ARGS=("$@")
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

if [[ ! -f $BUILD/CMakeCache.txt ]]; then
  echo "== configuring $BUILD (Release)" >&2
  cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DZETA_ENABLE_BENCH=ON >"$BUILD.configure.log" 2>&1 ||
    { cat "$BUILD.configure.log" >&2; exit 1; }
fi
echo "== building bench_ising" >&2
cmake --build "$BUILD" --target bench_ising -j "$JOBS" >&2

mkdir -p "$BUILD/bench-results"
RESULTS=$BUILD/bench-results/ising-$(date +%Y%m%d-%H%M%S).jsonl
: >"$RESULTS"
for ((r = 1; r <= RUNS; ++r)); do
  echo "== run $r/$RUNS" >&2
  "$BUILD/bench/bench_ising" --repeats "$REPEATS" "${ARGS[@]}" | sed "s/^{/{\"run\":$r,/" >>"$RESULTS"
done

"$PYTHON" - "$RESULTS" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r0 = rows[0]
runs = max(r["run"] for r in rows)
print(f"\nresults: {sys.argv[1]}")
print(f"L = {r0['L']}, {r0['replicas']} replicas, beta {r0['beta_min']}..{r0['beta_max']}, {r0['space']} "
      f"(concurrency {r0['concurrency']}), {r0['sweeps']} calls x {r0['repeats']} repeats per run, {runs} runs; "
      f"range of the per-run medians\n")
fmt = "{:<15} {:<11} {:>16} {:>15} {:>16} {:>12}  {}"
print(fmt.format("case", "move", "rate (medians)", "unit", "(all repeats)", "/ Philox", "target >= 0.5 updates/ns"))
keys = []
for r in rows:
    k = (r["case"], r.get("move", ""))
    if k not in keys:
        keys.append(k)
for k in keys:
    sel = [r for r in rows if (r["case"], r.get("move", "")) == k]
    unit = next(u for u in ("updates_per_ns", "uniforms_per_ns", "sites_per_ns") if u in sel[0])
    v = [r[unit] for r in sel]
    lo, hi = min(r[unit + "_min"] for r in sel), max(r[unit + "_max"] for r in sel)
    ratio = [r["ratio_to_philox"] for r in sel if "ratio_to_philox" in r]
    verdict = ""
    if unit == "updates_per_ns":
        verdict = "met" if min(v) >= 0.5 else ("not met" if max(v) < 0.5 else "met in some runs")
    print(fmt.format(k[0], k[1], f"{min(v):.3f} - {max(v):.3f}", unit, f"{lo:.3f} - {hi:.3f}",
                     f"{min(ratio):.2f} - {max(ratio):.2f}" if ratio else "", verdict))
EOF
