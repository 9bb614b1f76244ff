#!/usr/bin/env bash
# Two zeta executables on the workloads users run, alternating OLD and NEW run by
# run (ROUNDS rounds, so a slow spell of the machine hits both), each rate taken
# from the command's JSON line. Prints every run, then per workload the median
# rate of each executable and the ratio NEW / OLD of the medians. For a change
# that must not change speed (a refactoring): the ratios should be 1 within the
# machine's noise (the run-to-run spread printed beside them).
#
#   bench/run_same_speed.sh OLD_ZETA NEW_ZETA          # e.g. build-baseline/build/zeta build/zeta
#   ROUNDS=5 ONLY=train bench/run_same_speed.sh OLD NEW
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OLD=$(realpath "${1:?usage: run_same_speed.sh OLD_ZETA NEW_ZETA}")
NEW=$(realpath "${2:?usage: run_same_speed.sh OLD_ZETA NEW_ZETA}")
ROUNDS=${ROUNDS:-3}
ONLY=${ONLY:-}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for z in "$OLD" "$NEW"; do [[ -x $z ]] || { echo "no zeta at $z" >&2; exit 1; }; done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
FASHION=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

# name | ranks | rate key | command and arguments (run in $work)
WORKLOADS=(
  "sample_mlp_langevin|1|chain_steps_per_s|sample $SRC/input/mlp_langevin.ini --run.steps=3000 --output.landscape=false --output.file="
  "sample_gaussian_hmc|1|chain_steps_per_s|sample $SRC/input/gaussian_hmc.ini --run.steps=2000 --output.file="
  "temper_ising_L64|2|sweeps_per_s|temper --model.type=ising --model.L=64 --sampler.type=metropolis --temper.count=64 --temper.beta_min=0.3 --temper.beta_max=0.6 --run.steps=3000 --run.burn_in=100 --run.save_every=0 --output.file="
  "temper_mixture|2|sweeps_per_s|temper $SRC/input/temper_mixture.ini --run.steps=20000 --output.file="
  "ais_ising|2|chain_steps_per_s|ais $SRC/input/ais_ising.ini --ais.steps=3000 --output.file="
  "train_rbm_cd1|1|updates_per_s|train $SRC/bench/rbm_train.ini --run.steps=300 --train.objective=cd --train.batch=100 --train.deterministic=false --data.partitions=1 --output.file="
  "train_rbm_pcd_2ranks|2|updates_per_s|train $SRC/input/train_rbm_fashion.ini --run.steps=300 --train.eval_every=0 --train.ais_every=0 --checkpoint.file= --checkpoint.every_steps=0 --output.file="
  "train_mlp_dsm|1|updates_per_s|train $SRC/bench/ebm_train.ini --run.steps=100 --train.objective=dsm --train.sigma=0.1"
  "train_mlp_pcd|1|updates_per_s|train $SRC/input/train_pcd_fashion.ini --run.steps=40 --train.eval_every=0 --checkpoint.file= --checkpoint.every_steps=0 --data.limit=2000 --train.buffer_size=2000 --output.file="
)

rate() {  # rate KEY: the value of "KEY": in the JSON line on stdin
  grep -m1 '^{' | sed -nE "s/.*\"$1\": ([0-9.eE+-]+).*/\1/p"
}
results=$work/results.txt
: > "$results"
for ((r = 1; r <= ROUNDS; ++r)); do
  for w in "${WORKLOADS[@]}"; do
    IFS='|' read -r name np key cmd <<< "$w"
    [[ -n $ONLY && ! $name =~ $ONLY ]] && continue
    for side in old new; do
      z=$OLD; [[ $side == new ]] && z=$NEW
      # shellcheck disable=SC2086
      v=$(mpirun -np "$np" --oversubscribe "$z" $cmd --run.progress_every=0 2> "$work/err" | rate "$key") || true
      [[ -n $v ]] || { echo "$name ($side) failed:" >&2; tail -n 5 "$work/err" >&2; exit 1; }
      echo "$name $side $r $v" | tee -a "$results"
    done
  done
done
echo
/usr/bin/python3 - "$results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, side, _, v = line.split()
    runs.setdefault(name, {}).setdefault(side, []).append(float(v))
print(f"{'workload':24s} {'old median':>12s} {'new median':>12s} {'new/old':>8s}  spread (max/min - 1) old, new")
for name, s in runs.items():
    mo, mn = statistics.median(s["old"]), statistics.median(s["new"])
    sp = lambda v: max(v) / min(v) - 1
    print(f"{name:24s} {mo:12.4g} {mn:12.4g} {mn / mo:8.3f}  {100 * sp(s['old']):.1f}%, {100 * sp(s['new']):.1f}%")
PY
