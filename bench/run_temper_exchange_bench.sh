#!/usr/bin/env bash
# Parallel tempering at scale on this machine: 64 replicas of Ising L = 64, an
# exchange round after every sweep, on NP ranks (default 2). Prints, per run,
# the share of wall time outside the sweeps (energy all-gather incl. waiting for
# the slower rank, exchange round, statistics: the JSON's exchange_fraction),
# the part of it spent waiting for the slower rank's sweep (sync_wait_fraction:
# each step, this rank's time inside the all-gather minus the least time any
# rank spent inside it; the times ride along in the next all-gather) and the
# difference, exchange and communication proper; sweeps/s and spin updates/ns
# per rank; the hypervisor's steal time over the run (/proc/stat); then the
# ranges over RUNS runs. Ranks are bound to cores when there are enough.
#
#   bench/run_temper_exchange_bench.sh            # uses build/zeta
#   ZETA=/path/to/zeta NP=4 RUNS=5 bench/run_temper_exchange_bench.sh
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ZETA=${ZETA:-$SRC/build/zeta}
NP=${NP:-2}
RUNS=${RUNS:-3}
STEPS=${STEPS:-6000}
MOVE=${MOVE:-metropolis}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# One core per rank, as srun binds under Slurm; unbound when the ranks outnumber the cores.
if ((NP <= $(nproc))); then BIND=(--bind-to core); else BIND=(--bind-to none); fi
[[ -x $ZETA ]] || { echo "no zeta at $ZETA (build it first)" >&2; exit 1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# The hypervisor's steal time (/proc/stat) over a run, in % of all CPU time: on a
# shared VM it stalls whichever rank it hits, and the other waits in the all-gather.
ticks() { awk '/^cpu /{print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }
steal=$(mktemp)
trap 'rm -f "$out" "$steal"' EXIT
for r in $(seq "$RUNS"); do
  t0=$(ticks)
  mpirun -np "$NP" --oversubscribe "${BIND[@]}" "$ZETA" temper --model.type=ising --model.L=64 --sampler.type="$MOVE" \
    --temper.count=64 --temper.beta_min=0.3 --temper.beta_max=0.6 --temper.exchange_every=1 \
    --run.steps="$STEPS" --run.burn_in=100 --run.save_every=0 --output.file= --run.progress_every=1000 \
    2> /dev/null >> "$out"
  echo "$t0 $(ticks)" | awk '{print ($4 > $2) ? 100 * ($3 - $1) / ($4 - $2) : 0}' >> "$steal"
done
/usr/bin/python3 - "$out" "$NP" "$MOVE" "$steal" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
np_, move = int(sys.argv[2]), sys.argv[3]
st = [float(l) for l in open(sys.argv[4])]
fr = [r["exchange_fraction"] for r in rows]
wt = [r["sync_wait_fraction"] for r in rows]
ex = [f - w for f, w in zip(fr, wt)]
ups = [r["sweeps_per_s"] * 64 * 64 * 64 / 1e9 / np_ for r in rows]
for r, u, x, s in zip(rows, ups, ex, st):
    print(json.dumps({"bench": "temper_exchange", "ranks": r["ranks"], "move": move, "replicas": 64, "L": 64,
                      "exchange_fraction": r["exchange_fraction"], "sync_wait_fraction": r["sync_wait_fraction"],
                      "exchange_comm_fraction": x, "sweeps_per_s": r["sweeps_per_s"],
                      "updates_per_ns_per_rank": u, "steal_percent": s}))
print(f"{move}, {np_} ranks, {len(rows)} runs: outside the sweeps {100*min(fr):.1f}-{100*max(fr):.1f}% of wall time, "
      f"of which waiting for the slower rank's sweep {100*min(wt):.1f}-{100*max(wt):.1f}% and exchange+communication "
      f"{100*min(ex):.1f}-{100*max(ex):.1f}% (target < 2%); {min(ups):.2f}-{max(ups):.2f} spin updates/ns per rank; "
      f"hypervisor steal {min(st):.1f}-{max(st):.1f}% of CPU time")
PY
