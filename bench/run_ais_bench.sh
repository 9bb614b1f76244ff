#!/usr/bin/env bash
# AIS throughput (chain-steps/s, one move per chain per intermediate
# distribution) for Ising L = 16 (heat-bath, 256 chains) and the MLP
# 784-512-512-1 (MALA, 256 chains), each against a peer measured in the same
# run: the same moves without annealing (zeta temper with 256 replicas for
# Ising, zeta sample for the MLP). RUNS runs; prints ranges.
#   bench/run_ais_bench.sh                 # uses build/zeta
#   ZETA=/path/to/zeta RUNS=5 NP=2 bench/run_ais_bench.sh
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ZETA=${ZETA:-$SRC/build/zeta}
RUNS=${RUNS:-3}
NP=${NP:-1}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
[[ -x $ZETA ]] || { echo "no zeta at $ZETA (build it first)" >&2; exit 1; }
z() { mpirun -np "$NP" --oversubscribe "$ZETA" "$@" --output.file= --run.progress_every=1000 2> /dev/null; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for r in $(seq "$RUNS"); do
  { printf 'ising_ais '; z ais --model.type=ising --model.L=16 --sampler.type=heatbath --ais.beta=0.44 \
      --ais.steps=2000 --ais.chains=256; } >> "$out"
  { printf 'ising_peer '; z temper --model.type=ising --model.L=16 --sampler.type=heatbath --temper.count=256 \
      --temper.beta_min=0.3 --temper.beta_max=0.44 --run.steps=2000 --run.burn_in=10 --run.save_every=0; } >> "$out"
  { printf 'mlp_ais '; z ais --model.type=mlp --model.layers=784,512,512,1 --sampler.type=mala \
      --sampler.step_size=0.001 --ais.steps=20 --ais.chains=256; } >> "$out"
  { printf 'mlp_peer '; z sample --model.type=mlp --model.layers=784,512,512,1 --sampler.type=mala \
      --sampler.step_size=0.001 --sampler.chains=256 --run.steps=20 --run.burn_in=0 --run.save_every=0; } >> "$out"
done
/usr/bin/python3 - "$out" "$NP" <<'PY'
import json, sys
rate = {}
for line in open(sys.argv[1]):
    tag, js = line.split(" ", 1)
    j = json.loads(js)
    r = j["chain_steps_per_s"] if "chain_steps_per_s" in j else j["sweeps_per_s"] * 256
    rate.setdefault(tag, []).append(r)
for m in ("ising", "mlp"):
    a, p = rate[m + "_ais"], rate[m + "_peer"]
    ratios = [x / y for x, y in zip(a, p)]
    print(json.dumps({"bench": "ais", "model": m, "ranks": int(sys.argv[2]), "ais_chain_steps_per_s": a,
                      "peer_chain_steps_per_s": p}))
    print(f"{m}: AIS {min(a):.3g}-{max(a):.3g} chain-steps/s, peer (same moves, no annealing) "
          f"{min(p):.3g}-{max(p):.3g}, AIS/peer {min(ratios):.2f}-{max(ratios):.2f}")
PY
