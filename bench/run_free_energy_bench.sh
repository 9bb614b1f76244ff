#!/usr/bin/env bash
# zeta free-energy on the compact energies form (issue 23): K harmonic-well states
# u_k(x) = beta_k x^2 / 2 (beta from 0.1 to 10, geometric), N samples in all, the
# observable x, written by bench/mbar_bench.py's recipe as /energy, /beta, /N_k and
# /observables/x. Each rank builds its u_kn a block at a time; prints the wall time,
# the JSON's iterations and converged, and every rank's peak resident memory (the
# issue's target: <= 2 GB per rank at K = 309, N = 10^7 on 2 ranks).
# COUPLED=1: an extended ensemble instead, states (beta_k, h_k) with h_k from -1 to 1,
# u_k(x) = beta_k (x^2 / 2 - h_k x) (samples x ~ N(h_k, 1/beta_k)), given as /energy,
# /observables/x and /couplings/x = -h_k: each rank builds u_kn from energies and x.
#   K=64 N=1000000 NP=2 bench/run_free_energy_bench.sh
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EXE=${EXE:-$SRC/build/zeta}
K=${K:-64}
N=${N:-1000000}
NP=${NP:-2}
EXTRA=${EXTRA:-}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
[[ -x $EXE ]] || { echo "no zeta at $EXE (build it first)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 - "$work/data.h5" "$K" "$N" "${COUPLED:-0}" <<'PY'
import sys
import h5py
import numpy as np
path, K, N, coupled = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
rng = np.random.default_rng(1)
beta = np.geomspace(0.1, 10.0, K)
h = np.linspace(-1.0, 1.0, K) if coupled else np.zeros(K)
N_k = np.full(K, N // K, dtype=np.int64)
N_k[: N % K] += 1
x = np.concatenate([rng.normal(hk, 1.0 / np.sqrt(b), n) for b, hk, n in zip(beta, h, N_k)])
with h5py.File(path, "w") as f:
    f["energy"], f["beta"], f["N_k"], f["observables/x"] = 0.5 * x * x, beta, N_k, x
    if coupled:
        f["couplings/x"] = -h
PY
start=$(date +%s.%N)
# shellcheck disable=SC2086
RSS_PREFIX=$work/rss mpirun -np "$NP" --oversubscribe -x RSS_PREFIX sh -c \
  '/usr/bin/time -f "rank $OMPI_COMM_WORLD_RANK peak_rss_kb %M" "$0" "$@" 2> "$RSS_PREFIX.$OMPI_COMM_WORLD_RANK"' \
  "$EXE" free-energy "$work/data.h5" --output.file="$work/out.h5" $EXTRA > "$work/json"
end=$(date +%s.%N)
/usr/bin/python3 - "$work" "$K" "$N" "$NP" "$start" "$end" <<'PY'
import glob, json, sys
work, K, N, NP, start, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
j = json.loads(open(work + "/json").read())
rss = []
for name in sorted(glob.glob(work + "/rss.*")):
    for line in open(name):
        if "peak_rss_kb" in line:
            rss.append(int(line.split()[-1]) / 1024)
print(f"K={K} N={N} ranks={NP}: wall {end - start:.2f} s (zeta's wall_s {j['wall_s']:.2f}), "
      f"{j['iterations']} steps, converged {j['converged']}, peak memory per rank "
      + ", ".join(f"{m:.0f} MB" for m in rss))
PY
