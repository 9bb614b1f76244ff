#!/usr/bin/env bash
# Kernel launches, deep copies and fences per step of what users run, counted by a
# Kokkos Tools library (bench/kokkos_counts.cpp, built as zeta_kokkos_counts beside
# zeta) loaded into the `zeta` command.
#
#   bench/run_launch_counts.sh [BUILD]      # default BUILD: build/
#   VERBOSE=1 bench/run_launch_counts.sh    # also each kernel's label and count per step
#
# Each workload runs at two lengths (n and 2n steps, the same burn-in and
# monitors) on one rank; the difference divided by n is the per-step count, so
# set-up, output and the final evaluation drop out. Counts do not depend on the
# machine's load: run it beside anything. docs/launch-counts.md holds the tables.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
ZETA=$BUILD/zeta
TOOL=$BUILD/bench/libzeta_kokkos_counts.so
[[ -x $ZETA ]] || { echo "run_launch_counts: no $ZETA (build first)" >&2; exit 1; }
if [[ ! -f $TOOL ]]; then
  cmake --build "$BUILD" --target zeta_kokkos_counts -j2 >&2
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export KOKKOS_PROFILE_LIBRARY=$TOOL KOKKOS_TOOLS_LIBS=$TOOL  # Kokkos 3 / Kokkos 4
WORK=$(mktemp -d /tmp/launch-counts.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
NOCK="--checkpoint.file= --checkpoint.every_steps=0"
cp -r "$SRC/input" .

# name | n | command and keys (run.steps is appended)
WORKLOADS=(
  "sample MALA, Gaussian d = 50, 64 chains|200|sample --model.type=gaussian --model.dim=50 --sampler.type=mala --run.burn_in=100"
  "sample Langevin, MLP 2-128-128-1, 4096 chains|200|sample input/mlp_langevin.ini --sampler.chains=4096 --run.burn_in=100 --output.landscape=false"
  "temper Ising L = 64, heat-bath, 8 replicas|400|temper --model.type=ising --model.L=64 --sampler.type=heatbath --temper.count=8 --run.burn_in=200 --run.save_every=10"
  "train RBM CD-1, Fashion-MNIST 784x64|40|train input/train_rbm_fashion.ini --model.hidden=64 --train.eval_every=0 --train.ais_every=0 --data.partitions=1 $NOCK"
  "train MLP PCD, Fashion-MNIST|20|train input/train_pcd_fashion.ini --train.eval_every=0 --data.partitions=1 $NOCK"
  "train MLP DSM, ring8|200|train input/train_dsm_ring8.ini --train.eval_every=0 --data.partitions=1 $NOCK"
)

counts() {  # file -> "launches copies copy_bytes fences"
  awk -F'\t' '$1 == "launch" { l += $3 } $1 == "copy" { c += $3; b += $4 } $1 == "fence" { f += $3 }
              END { printf "%d %d %d %d\n", l, c, b, f }' "$1"
}

printf '| workload | launches / step | deep copies / step | bytes copied / step | fences / step |\n'
printf '|---|---|---|---|---|\n'
for w in "${WORKLOADS[@]}"; do
  IFS='|' read -r name n args <<<"$w"
  args=${args//\$NOCK/$NOCK}
  for len in "$n" "$((2 * n))"; do
    # shellcheck disable=SC2086
    ZETA_KOKKOS_COUNTS=$WORK/c$len.txt "$ZETA" $args --run.steps=$len --output.file= \
      --run.progress_every=0 >/dev/null 2>"$WORK/err$len.txt" ||
      { echo "run_launch_counts: '$name' failed:" >&2; tail -3 "$WORK/err$len.txt" >&2; exit 1; }
  done
  read -r l1 c1 b1 f1 < <(counts "$WORK/c$n.txt")
  read -r l2 c2 b2 f2 < <(counts "$WORK/c$((2 * n)).txt")
  awk -v n="$n" -v name="$name" -v l="$((l2 - l1))" -v c="$((c2 - c1))" -v b="$((b2 - b1))" -v f="$((f2 - f1))" \
    'BEGIN { printf "| %s | %.2f | %.2f | %.0f | %.2f |\n", name, l / n, c / n, b / n, f / n }'
  if [[ -n ${VERBOSE:-} ]]; then
    join -t $'\t' -a 2 -e 0 -o 0,1.2,2.2 \
      <(awk -F'\t' '$1 != "copy" { print $1 " " $2 "\t" $3 } $1 == "copy" { print "copy " $2 "\t" $3 }' \
          "$WORK/c$n.txt" | sort) \
      <(awk -F'\t' '$1 != "copy" { print $1 " " $2 "\t" $3 } $1 == "copy" { print "copy " $2 "\t" $3 }' \
          "$WORK/c$((2 * n)).txt" | sort) |
      awk -F'\t' -v n="$n" '$3 - $2 > 0 { printf "    %-90s %8.2f\n", substr($1, 1, 90), ($3 - $2) / n }'
  fi
done
