#!/usr/bin/env bash
# MBAR with K = 64 states and N = 10^6 samples: Zeta (samples spread over NP
# ranks) against pymbar (Debian's python3-pymbar, one process) on the same
# reduced potentials in the same run. Both are timed from the reduced
# potentials in memory to converged f_k with their asymptotic errors. Zeta runs
# REPEATS times per call (best kept), pymbar once per run; RUNS runs; prints
# ranges, the largest |f_zeta − f_pymbar| and both errors against the exact f.
#   bench/run_mbar_bench.sh                      # uses build/bench/bench_mbar
#   K=64 N=1000000 NP=2 RUNS=3 bench/run_mbar_bench.sh
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EXE=${EXE:-$SRC/build/bench/bench_mbar}
K=${K:-64}
N=${N:-1000000}
NP=${NP:-2}
RUNS=${RUNS:-3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
[[ -x $EXE ]] || { echo "no bench_mbar at $EXE (build it first)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$SRC/bench/mbar_bench.py" generate "$work/data.h5" "$K" "$N"
for r in $(seq "$RUNS"); do
  { printf 'zeta '; mpirun -np "$NP" --oversubscribe "$EXE" "$work/data.h5" --repeats 3 --out "$work/zeta.txt"; } >> "$work/log"
  { printf 'pymbar '; OMP_NUM_THREADS=1 /usr/bin/python3 "$SRC/bench/mbar_bench.py" pymbar "$work/data.h5" "$work/pymbar.txt"; } >> "$work/log"
done
/usr/bin/python3 - "$work" "$NP" <<'PY'
import json, sys
import numpy as np
work, np_ = sys.argv[1], int(sys.argv[2])
t = {}
for line in open(work + "/log"):
    tag, js = line.split(" ", 1)
    t.setdefault(tag, []).append(json.loads(js))
z = [j["seconds"] for j in t["zeta"]]
p = [j["seconds"] for j in t["pymbar"]]
ratio = [b / a for a, b in zip(z, p)]
fz, fp = np.loadtxt(work + "/zeta.txt"), np.loadtxt(work + "/pymbar.txt")
print(json.dumps({"bench": "mbar_vs_pymbar", "ranks": np_, "zeta": t["zeta"], "pymbar": t["pymbar"]}))
print(f"K={t['zeta'][0]['K']} N={t['zeta'][0]['N']}: zeta ({np_} ranks) {min(z):.3g}-{max(z):.3g} s "
      f"({t['zeta'][0]['iterations']} steps), pymbar {min(p):.3g}-{max(p):.3g} s "
      f"(solve {min(j['solve_s'] for j in t['pymbar']):.3g} s), speed-up {min(ratio):.1f}-{max(ratio):.1f}x; "
      f"max |f_zeta - f_pymbar| = {np.max(np.abs(fz[:, 0] - fp[:, 0])):.2e}, "
      f"max |df_zeta - df_pymbar| = {np.max(np.abs(fz[:, 1] - fp[:, 1])):.2e}; "
      f"max |f - exact|/stderr: zeta {t['zeta'][0]['max_error_in_stderr']:.2f}, "
      f"pymbar {t['pymbar'][0]['max_error_in_stderr']:.2f}")
PY
