#!/usr/bin/env bash
# `zeta train` stopped by SIGTERM mid-run, then restarted from its checkpoint on
# a different number of ranks (train.deterministic), ends byte for byte where a
# straight run ends: the same JSON figures (all but timings) and the same
# parameters, PCD chains, optimizer state and monitor series.
# Usage: train_signal.sh ZETA MPIEXEC
set -u
zeta=$1
mpiexec=${2:-mpirun}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail=0
cat > run.ini <<'INI'
[run]
steps = 3000
progress_every = 0.2
[model]
type = rbm
hidden = 32
[data]
type = idx
path = /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
limit = 2000
binarize = threshold
partitions = 4
[train]
objective = pcd
batch = 32
chains = 32
eval_every = 100
INI
figures() { sed -E 's/"(wall_s|updates_per_s|examples_per_s|ranks|output|checkpoint)": [^,}]*[,]? ?//g' "$1"; }

timeout 300 "$mpiexec" -np 2 --oversubscribe "$zeta" train "$work/run.ini" --output.file=straight.h5 \
  --checkpoint.file=straight.ckpt > straight.json 2> straight.err || { echo "FAIL straight run"; cat straight.err; fail=1; }

"$mpiexec" -np 2 --oversubscribe "$zeta" train "$work/run.ini" --output.file=resumed.h5 --checkpoint.file=ck.h5 \
  > stopped.json 2> stopped.err &
launcher=$!
for _ in $(seq 100); do grep -q 'zeta train: step' stopped.err 2>/dev/null && break; sleep 0.1; done
pkill -TERM -f "^$zeta train $work/run.ini" || echo "note: no rank left to signal"
wait $launcher || { echo "FAIL stopped run exit status $?"; cat stopped.err; fail=1; }
grep -q '"status": "interrupted"' stopped.json || { echo "FAIL run was not interrupted by SIGTERM:"; cat stopped.json; fail=1; }
[ -f ck.h5 ] || { echo "FAIL no checkpoint after SIGTERM"; fail=1; }

timeout 300 "$mpiexec" -np 1 --oversubscribe "$zeta" train "$work/run.ini" --output.file=resumed.h5 --checkpoint.file=ck.h5 \
  --checkpoint.restart=true > resumed.json 2> resumed.err || { echo "FAIL resumed run"; cat resumed.err; fail=1; }
if ! cmp -s <(figures straight.json) <(figures resumed.json); then
  echo "FAIL JSON differs after SIGTERM + restart:"; figures straight.json; figures resumed.json; fail=1
fi
for ds in /model/rbm/W /model/rbm/b /model/rbm/c /train/step /train/recon_error /train/pseudo_loglik /train/grad_norm; do
  h5diff straight.h5 resumed.h5 $ds $ds > /dev/null || { echo "FAIL $ds differs after SIGTERM + restart"; fail=1; }
done
for ds in /train/chains /optimizer/m /optimizer/v /optimizer/steps /run/step; do
  h5diff straight.ckpt ck.h5 $ds $ds > /dev/null || { echo "FAIL checkpoint $ds differs after SIGTERM + restart"; fail=1; }
done
[ $fail = 0 ] && { echo "stopped at: $(grep -o '"steps": [0-9]*' stopped.json); identical after restart:"; figures resumed.json; }
exit $fail
