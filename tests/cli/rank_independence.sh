#!/usr/bin/env bash
# `zeta sample` under 1, 2 and 4 ranks: identical JSON figures (all but timings
# and the rank count) and identical /samples datasets.
# Usage: rank_independence.sh ZETA MPIEXEC
set -u
zeta=$1
mpiexec=${2:-mpirun}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail=0
cat > run.ini <<'INI'
[run]
steps = 200
burn_in = 20
save_every = 20
[model]
type = double_well
dim = 3
barrier = 2
[sampler]
type = mala
chains = 15
step_size = 0.2
INI
for np in 1 2 4; do
  timeout 120 "$mpiexec" -np $np --oversubscribe "$zeta" sample run.ini --output.file=np$np.h5 > np$np.json 2> np$np.err ||
    { echo "FAIL np=$np"; cat np$np.err; fail=1; }
  sed -E 's/"(wall_s|chain_steps_per_s|ranks|output)": [^,}]*[,]? ?//g' np$np.json > np$np.figures
done
for np in 2 4; do
  if ! cmp -s np1.figures np$np.figures; then echo "FAIL JSON np=1 vs np=$np"; cat np1.figures np$np.figures; fail=1; fi
  for ds in /samples/x /samples/energy; do
    h5diff np1.h5 np$np.h5 $ds $ds > /dev/null || { echo "FAIL $ds differs np=1 vs np=$np"; fail=1; }
  done
done
[ $fail = 0 ] && { echo "identical at 1, 2, 4 ranks:"; cat np1.figures; }
exit $fail
