#!/usr/bin/env bash
# Integrated autocorrelation times of E and |M| at beta_c for the Ising model's
# heat-bath sweeps and Swendsen-Wang cluster moves (issue 28), L = 16, 32, 64, one
# rank: bench_cluster_tau per L with run lengths of at least ~100 tau_int per
# chain, then a Markdown table (docs/sample.md) of tau_int in steps, CPU
# microseconds per chain-step, and CPU milliseconds per tau_int.
#   bench/run_cluster_tau.sh                  # uses build/bench/bench_cluster_tau
#   CHAINS=8 LS="16 32" bench/run_cluster_tau.sh
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=${BENCH:-$SRC/build/bench/bench_cluster_tau}
CHAINS=${CHAINS:-4}
LS=${LS:-16 32 64}
SEED=${SEED:-1}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
[[ -x $BENCH ]] || { echo "no bench_cluster_tau at $BENCH (build it first)" >&2; exit 1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for L in $LS; do
  # Heat-bath's tau(|M|) grows like L^2.2 (about 40, 150, 600 sweeps): 400 L^1.2-ish steps.
  case $L in 16) hb=100000 ;; 32) hb=200000 ;; *) hb=400000 ;; esac
  "$BENCH" --L "$L" --chains "$CHAINS" --seed "$SEED" --moves heatbath --steps "$hb" --burn-in $((hb / 10)) >> "$out"
  "$BENCH" --L "$L" --chains "$CHAINS" --seed "$SEED" --moves swendsen_wang --steps 20000 --burn-in 1000 >> "$out"
done
cat "$out"
echo "load average at the end: $(cat /proc/loadavg)"
/usr/bin/python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| L | move | tau_int(E) | tau_int(abs M) | CPU us / chain-step | CPU ms per tau_int(E) | CPU ms per tau_int(abs M) |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['L']} | {r['move']} | {r['tau_E']:.3g} ± {r['tau_E_se']:.2g} | {r['tau_absM']:.3g} ± {r['tau_absM_se']:.2g} | "
          f"{1e6 * r['cpu_s_per_step']:.3g} | {1e3 * r['tau_E_cpu_s']:.3g} | {1e3 * r['tau_absM_cpu_s']:.3g} |")
PY
