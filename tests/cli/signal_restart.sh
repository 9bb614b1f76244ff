# Sourced by the *_signal.sh tests. signal_restart COMMAND TIMING_KEYS OUT_DATASETS [CKPT_DATASETS]
# runs `zeta COMMAND run.ini` (in the current directory) straight on 2 ranks;
# again on 2 ranks, stopped by SIGTERM to the ranks once it reports progress;
# then restarted from its checkpoint on 1 rank. The JSON figures (all but the
# keys in the regex alternation TIMING_KEYS) and the listed output (and
# checkpoint) datasets must be byte for byte those of the straight run.
# Needs $zeta and $mpiexec; sets fail=1 on any difference.
signal_restart() {
  local cmd=$1 timing=$2 out_sets=$3 ckpt_sets=${4:-} ds
  figures() { sed -E "s/\"($timing|ranks|output|checkpoint)\": [^,}]*[,]? ?//g" "$1"; }
  timeout 300 "$mpiexec" -np 2 --oversubscribe "$zeta" "$cmd" "$PWD/run.ini" --output.file=straight.h5 \
    --checkpoint.file=straight.ckpt > straight.json 2> straight.err || { echo "FAIL straight run"; cat straight.err; fail=1; }

  # The ranks (not mpirun) get SIGTERM once the run is under way.
  "$mpiexec" -np 2 --oversubscribe "$zeta" "$cmd" "$PWD/run.ini" --output.file=resumed.h5 --checkpoint.file=ck.h5 \
    > stopped.json 2> stopped.err &
  local launcher=$!
  for _ in $(seq 100); do grep -q "zeta $cmd: step" stopped.err 2>/dev/null && break; sleep 0.1; done
  pkill -TERM -f "^$zeta $cmd $PWD/run.ini" || echo "note: no rank left to signal"
  wait $launcher || { echo "FAIL stopped run exit status $?"; cat stopped.err; fail=1; }
  grep -q '"status": "interrupted"' stopped.json || { echo "FAIL run was not interrupted by SIGTERM:"; cat stopped.json; fail=1; }
  [ -f ck.h5 ] || { echo "FAIL no checkpoint after SIGTERM"; fail=1; }

  # Resume on one rank: the checkpoint does not depend on the job size.
  timeout 300 "$mpiexec" -np 1 --oversubscribe "$zeta" "$cmd" "$PWD/run.ini" --output.file=resumed.h5 \
    --checkpoint.file=ck.h5 --checkpoint.restart=true > resumed.json 2> resumed.err ||
    { echo "FAIL resumed run"; cat resumed.err; fail=1; }
  if ! cmp -s <(figures straight.json) <(figures resumed.json); then
    echo "FAIL JSON differs after SIGTERM + restart:"; figures straight.json; figures resumed.json; fail=1
  fi
  for ds in $out_sets; do
    h5diff straight.h5 resumed.h5 "$ds" "$ds" > /dev/null || { echo "FAIL $ds differs after SIGTERM + restart"; fail=1; }
  done
  for ds in $ckpt_sets; do
    h5diff straight.ckpt ck.h5 "$ds" "$ds" > /dev/null || { echo "FAIL checkpoint $ds differs after SIGTERM + restart"; fail=1; }
  done
  [ $fail = 0 ] && { echo "stopped at: $(grep -o '"steps": [0-9]*' stopped.json); identical after restart:"; figures resumed.json; }
}

# progress_after_restart CMD STEPS: the restarted job's progress lines (resumed.err)
# count from the stopped job's step (its JSON "steps") to run.steps = STEPS, in
# absolute steps, not the job's own steps from 0.
progress_after_restart() {
  local cmd=$1 total=$2 stopped_at first last
  stopped_at=$(grep -o '"steps": [0-9]*' stopped.json | grep -o '[0-9]*$')
  first=$(grep -o "zeta $cmd: step [0-9]*/[0-9]*" resumed.err | head -n 1 | grep -o '[0-9]*/[0-9]*')
  last=$(grep -o "zeta $cmd: step [0-9]*/[0-9]*" resumed.err | tail -n 1 | grep -o '[0-9]*/[0-9]*')
  if [ -z "$stopped_at" ] || [ -z "$first" ] || [ "${first%/*}" -le "$stopped_at" ] || [ "${first#*/}" != "$total" ] ||
    [ "$last" != "$total/$total" ]; then
    echo "FAIL $cmd progress after a restart from step ${stopped_at:-?}: first line ${first:-none}, last ${last:-none}" \
      "(expected steps above ${stopped_at:-?} of $total, ending $total/$total)"
    fail=1
  fi
}
