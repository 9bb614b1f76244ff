#!/usr/bin/env bash
# SMC ln Z of the Ising model at the critical point against Kaufman's exact
# finite-lattice value (issue 28): `zeta ais --ais.method=smc` with heat-bath
# moves (SAMPLER=swendsen_wang: Swendsen-Wang cluster moves), a pilot's schedule and REPLICATES replicates (the error from their
# spread), on NP ranks, once per seed in SEEDS. Prints per seed the error, the
# reported SE, z = error / SE and the wall time, then max |z|, mean |z| and the
# largest error. Defaults: L = 64, 128 particles, target ESS 0.999, 10 sweeps
# per step, 8 replicates, 2 ranks (about 100 s per seed on 2 cores).
#   bench/run_smc_bench.sh                                  # uses build/zeta
#   SEEDS="1 2 3" L=32 SWEEPS=20 bench/run_smc_bench.sh
#   SAMPLER=swendsen_wang SWEEPS=1 SEEDS="1 2" bench/run_smc_bench.sh
# CLUSTER_FROM=b (with SAMPLER=swendsen_wang or wolff): heat-bath sweeps, HOT_SWEEPS per step, below
# beta = b and the cluster move from b on (sampler.cluster_from). MEAN=z: log_z is the ln of the
# replicates' mean Z (ais.replicate_mean = z; default log_z, the mean of their ln Z).
#   SAMPLER=swendsen_wang CLUSTER_FROM=0.38 HOT_SWEEPS=2 MEAN=z REPLICATES=4 SEEDS="$(seq -s' ' 1 10)" \
#     bench/run_smc_bench.sh
# L = 128 (issue 28: within 0.2 nats in <= 10 minutes on 2 ranks; bench/README.md), with the
# schedule and ESS plot of seed 1 written to /tmp/smc128/smc_L128_seed1_smc.png:
#   SAMPLER=swendsen_wang SWEEPS=1 CLUSTER_FROM=0.35 HOT_SWEEPS=2 MEAN=z REPLICATES=24 L=128 \
#     OUTPUT_DIR=/tmp/smc128 bench/run_smc_bench.sh
# OUTPUT_DIR=DIR: each seed's HDF5 output (per step: beta, ESS, conditional ESS, resamplings,
# acceptance, ln Z increments) goes to DIR/smc_L<L>_seed<seed>.h5, and analysis/plot_log_z.py
# draws it to DIR/smc_L<L>_seed<seed>_smc.png (schedule, ESS per step, acceptance, running ln Z).
# Each line also gives cpu_s, the CPU seconds of all ranks together, and cpu_per_rank_s (the machine
# may be shared: compare configurations by cpu_s, not wall_s; on an idle machine with a core per
# rank the wall time is about cpu_per_rank_s).
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ZETA=${ZETA:-$SRC/build/zeta}
NP=${NP:-2}
L=${L:-64}
CHAINS=${CHAINS:-128}
SWEEPS=${SWEEPS:-10}
TARGET=${TARGET:-0.999}
REPLICATES=${REPLICATES:-8}
SEEDS=${SEEDS:-1}
SAMPLER=${SAMPLER:-heatbath}
EXTRA=${EXTRA:-}
CLUSTER_FROM=${CLUSTER_FROM:-0}
HOT_SWEEPS=${HOT_SWEEPS:-1}
MEAN=${MEAN:-log_z}
OUTPUT_DIR=${OUTPUT_DIR:-}
if [[ $CLUSTER_FROM != 0 ]]; then
  EXTRA="--sampler.cluster_from=$CLUSTER_FROM --sampler.hot_sweeps=$HOT_SWEEPS $EXTRA"
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
[[ -x $ZETA ]] || { echo "no zeta at $ZETA (build it first)" >&2; exit 1; }
out=$(mktemp)
trap 'rm -f "$out" "$out.time" "$out.cpu"' EXIT
if [[ -n $OUTPUT_DIR ]]; then
  mkdir -p "$OUTPUT_DIR"
fi
for seed in $SEEDS; do
  h5=
  if [[ -n $OUTPUT_DIR ]]; then
    h5=$OUTPUT_DIR/smc_L${L}_seed$seed.h5
  fi
  # shellcheck disable=SC2086
  /usr/bin/time -f '%U %S' -o "$out.time" \
  mpirun -np "$NP" --oversubscribe "$ZETA" ais --model.type=ising --model.L="$L" --sampler.type="$SAMPLER" \
    --ais.beta=0.4406867935097715 --ais.method=smc --ais.chains="$CHAINS" --ais.sweeps="$SWEEPS" \
    --ais.target_ess="$TARGET" --ais.replicates="$REPLICATES" --ais.replicate_mean="$MEAN" --run.seed="$seed" --output.file="$h5" \
    --run.progress_every=1000 $EXTRA 2> /dev/null | tail -n 1 >> "$out"
  awk '{ print $1 + $2 }' "$out.time" >> "$out.cpu"
  if [[ -n $h5 ]]; then
    /usr/bin/python3 "$SRC/analysis/plot_log_z.py" -o "$OUTPUT_DIR/" "$h5" >&2
  fi
done
/usr/bin/python3 - "$out" "$L" "$SAMPLER $CLUSTER_FROM $HOT_SWEEPS" "$(cat /proc/loadavg)" <<'PY'
import json, math, sys
exact = {16: 238.642256635133, 32: 952.648079548543, 64: 3808.672283419809, 128: 15232.769323338784}
L = int(sys.argv[2])
rows = [json.loads(line) for line in open(sys.argv[1])]
cpu = [float(line) for line in open(sys.argv[1] + ".cpu")]
zs = []
for j, c in zip(rows, cpu):
    err = j["log_z"] - exact[L]
    z = err / j["log_z_stderr"]
    zs.append(z)
    print(json.dumps({"bench": "smc", "L": L, "ranks": j["ranks"], "chains": j["chains"], "replicates": j["replicates"],
                      "steps": j["steps"], "resamplings": j["resamplings"], "log_z": j["log_z"], "error": err,
                      "stderr": j["log_z_stderr"], "z": z, "wall_s": j["wall_s"], "cpu_s": c,
                      "cpu_per_rank_s": c / j["ranks"],
                      "sampler": sys.argv[3], "log_z_mean": j.get("log_z_mean", "log_z"),
                      "log_z_replicates": j.get("log_z_replicates", [])}))
    print(f"L = {L}: ln Z {j['log_z']:.4f}, error {err:+.4f}, SE {j['log_z_stderr']:.4f}, z {z:+.2f}, "
          f"{j['wall_s']:.1f} s on {j['ranks']} ranks, {c:.1f} CPU s ({c / j['ranks']:.1f} per rank; {j['steps']} steps over {j['replicates']} replicates "
          f"and their pilot, {j['resamplings']} resamplings)")
if zs:
    print(f"{len(zs)} seeds: max |z| {max(map(abs, zs)):.2f}, mean |z| {sum(map(abs, zs)) / len(zs):.2f}, "
          f"largest |error| {max(abs(j['log_z'] - exact[L]) for j in rows):.4f}; load average at the end: {sys.argv[4]}")
PY
