#!/usr/bin/env bash
# ln Z of RBMs trained on Fashion-MNIST (issue 28): AIS against adaptive SMC, through
# the `zeta ais` command, per seed: the estimate, the reported SE, the error against
# the exact value where one exists (784 x 20: the sum over the 2^20 hidden states,
# ais.exact) and the wall time. 784 x 500 has no exact value: the table shows how far
# the methods' estimates lie apart in their combined SE.
#   bench/run_rbm_log_z_bench.sh                   # hidden 20 and 500, seeds 1 2 3
#   HIDDEN="20" SEEDS="1 2 3 4 5" bench/run_rbm_log_z_bench.sh
# The RBMs are trained first (PCD, 1000 steps, batch 64, 10,000 images; cached in
# $WORK, default /tmp/zeta-rbm-log-z). One rank each, so the runs' times compare.
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ZETA=${ZETA:-$SRC/build/zeta}
HIDDEN=${HIDDEN:-"20 500"}
SEEDS=${SEEDS:-"1 2 3"}
AIS_STEPS=${AIS_STEPS:-"2000 5000"}
CHAINS=${CHAINS:-256}
WORK=${WORK:-/tmp/zeta-rbm-log-z}
IMAGES=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
[[ -x $ZETA ]] || { echo "no zeta at $ZETA (build it first)" >&2; exit 1; }
mkdir -p "$WORK"
out=$WORK/runs.jsonl
: >"$out"
for nh in $HIDDEN; do
  params=$WORK/rbm$nh.h5
  if [[ ! -f $params ]]; then
    echo "== training RBM 784 x $nh" >&2
    "$ZETA" train --model.type=rbm --model.hidden="$nh" --data.type=idx --data.path="$IMAGES" --data.limit=10000 \
      --data.binarize=threshold --train.objective=pcd --train.batch=64 --train.chains=64 --train.lr=3e-3 \
      --run.steps=1000 --train.eval_every=0 --output.file="$params" --run.progress_every=0 >/dev/null
  fi
  exact=false
  ((nh <= 24)) && exact=true
  for seed in $SEEDS; do
    for steps in $AIS_STEPS; do
      echo "== 784 x $nh, seed $seed: AIS $steps steps" >&2
      "$ZETA" ais --model.type=rbm --model.params="$params" --ais.exact=$exact --ais.steps="$steps" \
        --ais.chains="$CHAINS" --run.seed="$seed" --output.file= --run.progress_every=0 2>/dev/null |
        tail -n 1 | sed "s/^{/{\"hidden\": $nh, \"seed\": $seed, \"label\": \"AIS $steps steps\", /" >>"$out"
    done
    echo "== 784 x $nh, seed $seed: SMC" >&2
    "$ZETA" ais --model.type=rbm --model.params="$params" --ais.exact=$exact --ais.method=smc \
      --ais.chains="$CHAINS" --ais.sweeps=1 --ais.replicates=8 --run.seed="$seed" --output.file= \
      --run.progress_every=0 2>/dev/null |
      tail -n 1 | sed "s/^{/{\"hidden\": $nh, \"seed\": $seed, \"label\": \"SMC 8 replicates\", /" >>"$out"
  done
done
/usr/bin/python3 - "$out" <<'PY'
import collections, json, math, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print("| RBM | method | seed | ln Z | reported SE | error vs exact | z | sweeps x chains | wall s |")
print("|---|---|---|---|---|---|---|---|---|")
by = collections.defaultdict(dict)
for j in rows:
    ex = j.get("log_z_exact")
    err = f"{j['log_z'] - ex:+.3f}" if ex is not None else "—"
    z = f"{(j['log_z'] - ex) / j['log_z_stderr']:+.2f}" if ex is not None else "—"
    # SMC's steps are summed over its replicates (one sweep each here); its pilot run
    # takes about one replicate's more.
    R = j.get("replicates", 0)
    sweeps = round(j["steps"] * (R + 1) / R) if j.get("method") == "smc" else j["steps"]
    print(f"| 784x{j['hidden']} | {j['label']} | {j['seed']} | {j['log_z']:.3f} | {j['log_z_stderr']:.3f} | {err} | {z} "
          f"| {sweeps} x {j['chains']} | {j['wall_s']:.1f} |")
    by[(j["hidden"], j["seed"])][j["label"]] = j
for (nh, seed), d in sorted(by.items()):
    labels = sorted(d)
    for a in labels:
        for b in labels:
            if a < b:
                x, y = d[a], d[b]
                diff = x["log_z"] - y["log_z"]
                se = math.hypot(x["log_z_stderr"], y["log_z_stderr"])
                print(f"784x{nh} seed {seed}: {a} - {b} = {diff:+.3f} ({diff / se:+.2f} combined SE)")
PY
