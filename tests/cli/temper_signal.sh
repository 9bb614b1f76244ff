#!/usr/bin/env bash
# `zeta temper` stopped by SIGTERM mid-run, then restarted from its checkpoint
# (on a different number of ranks), ends byte for byte where a straight run
# ends: the same JSON figures (all but timings) and the same HDF5 datasets.
# Usage: temper_signal.sh ZETA MPIEXEC
set -u
zeta=$1
mpiexec=${2:-mpirun}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail=0
cat > run.ini <<'INI'
[run]
steps = 150000
burn_in = 2000
save_every = 50
progress_every = 0.3
[model]
type = ising
L = 32
[sampler]
type = heatbath
[temper]
beta_min = 0.3
beta_max = 0.55
count = 6
copies = 2
adapt = barrier
INI
figures() { sed -E 's/"(wall_s|sweeps_per_s|exchange_fraction|ranks|output)": [^,}]*[,]? ?//g' "$1"; }

timeout 300 "$mpiexec" -np 2 --oversubscribe "$zeta" temper "$work/run.ini" --output.file=straight.h5 \
  > straight.json 2> straight.err || { echo "FAIL straight run"; cat straight.err; fail=1; }

# The ranks (not mpirun) get SIGTERM once the run is under way.
"$mpiexec" -np 2 --oversubscribe "$zeta" temper "$work/run.ini" --output.file=resumed.h5 --checkpoint.file=ck.h5 \
  > stopped.json 2> stopped.err &
launcher=$!
for _ in $(seq 100); do grep -q 'zeta temper: step' stopped.err 2>/dev/null && break; sleep 0.1; done
pkill -TERM -f "^$zeta temper $work/run.ini" || echo "note: no rank left to signal"
wait $launcher || { echo "FAIL stopped run exit status $?"; cat stopped.err; fail=1; }
grep -q '"status": "interrupted"' stopped.json || { echo "FAIL run was not interrupted by SIGTERM:"; cat stopped.json; fail=1; }
[ -f ck.h5 ] || { echo "FAIL no checkpoint after SIGTERM"; fail=1; }

# Resume on one rank: the checkpoint does not depend on the job size.
timeout 300 "$mpiexec" -np 1 --oversubscribe "$zeta" temper "$work/run.ini" --output.file=resumed.h5 --checkpoint.file=ck.h5 \
  --checkpoint.restart=true > resumed.json 2> resumed.err || { echo "FAIL resumed run"; cat resumed.err; fail=1; }
if ! cmp -s <(figures straight.json) <(figures resumed.json); then
  echo "FAIL JSON differs after SIGTERM + restart:"; figures straight.json; figures resumed.json; fail=1
fi
for ds in /temper/energy /temper/replica /temper/magnetization /temper/betas /temper/round_trips /temper/flow; do
  h5diff straight.h5 resumed.h5 $ds $ds > /dev/null || { echo "FAIL $ds differs after SIGTERM + restart"; fail=1; }
done
[ $fail = 0 ] && { echo "stopped at: $(grep -o '"steps": [0-9]*' stopped.json); identical after restart:"; figures resumed.json; }
exit $fail
