#!/usr/bin/env bash
# Signals to the launcher, as a user or a batch system sends them (docs/reliability.md):
#  - SIGUSR1 to mpirun: Open MPI forwards it to the ranks, zeta stops at its next
#    safe point ("status": "interrupted", checkpoint written) and mpirun exits 0;
#  - SIGTERM to mpirun: Open MPI 4.1 waits odls_base_sigkill_timeout (T, 1 s by
#    default), sends SIGTERM to the ranks, which stop the same way, waits T again and
#    SIGKILLs what is left; mpirun itself exits 1 whatever the ranks return. T = 5
#    here gives the ranks 5 s for their clean stop (the docs say when to raise it);
#  - SIGINT (Ctrl-C) to zeta run without a launcher: the same clean stop, exit 0.
# Every stopped run restarts from its checkpoint and ends "ok".
# Usage: mpirun_signals.sh ZETA MPIEXEC
set -u
zeta=$1
mpiexec=${2:-mpirun}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail=0
openmpi=0
"$mpiexec" --version 2>&1 | grep -q 'Open MPI\|OpenRTE' && openmpi=1

printf '[run]\nsteps = 100000000\nburn_in = 10\nsave_every = 0\nprogress_every = 0.2\n[model]\ntype = ising\nL = 8\n[sampler]\ntype = heatbath\n[temper]\ncount = 4\n' > run.ini

# stop NAME SIGNAL TARGET EXPECTED_RC LAUNCHER...: starts the run, sends SIGNAL to the
# launcher's pid (TARGET = launcher) once zeta reports progress, then checks the exit
# status, the JSON status and the checkpoint, and restarts from it to the end.
stop() {
  local name=$1 sig=$2 want=$3 bad=0
  shift 3
  rm -f "$name".*
  "$@" "$zeta" temper run.ini --output.file="$name.h5" --checkpoint.file="$name.ckpt" > "$name.json" 2> "$name.err" &
  local pid=$!
  for _ in $(seq 300); do grep -q "zeta temper: step" "$name.err" 2> /dev/null && break; sleep 0.1; done
  kill -"$sig" $pid
  wait $pid
  local rc=$?
  [ "$rc" = "$want" ] || { echo "FAIL $name: exit status $rc, expected $want"; bad=1; }
  grep -q '"status": "interrupted"' "$name.json" || { echo "FAIL $name: not interrupted:"; cat "$name.json" "$name.err"; bad=1; }
  [ -f "$name.ckpt" ] && [ -f "$name.h5" ] || { echo "FAIL $name: no checkpoint or output"; ls -l; bad=1; }
  local steps
  steps=$(sed -n 's/.*"steps": \([0-9]*\),.*/\1/p' "$name.json")
  timeout 120 "$mpiexec" -np 1 --oversubscribe "$zeta" temper run.ini --output.file="$name.h5" --output.backups=0 \
    --checkpoint.file="$name.ckpt" --checkpoint.restart=true --run.steps=$((${steps:-0} + 50)) \
    > "$name.restart.json" 2> "$name.restart.err"
  grep -q "\"status\": \"ok\".*\"steps\": $((${steps:-0} + 50))," "$name.restart.json" ||
    { echo "FAIL $name: restart from the checkpoint:"; cat "$name.restart.json" "$name.restart.err"; bad=1; }
  [ $bad = 0 ] && echo "ok   $name: exit status $rc, interrupted at step $steps, restarted to $((steps + 50))"
  [ $bad = 0 ] || fail=1
}

stop mpirun_usr1 USR1 0 "$mpiexec" -np 2 --oversubscribe
# The signal goes to the launcher's own pid (no timeout wrapper: it would take the signal itself).
if [ $openmpi = 1 ]; then
  stop mpirun_term TERM 1 "$mpiexec" --mca odls_base_sigkill_timeout 5 -np 2 --oversubscribe
else
  echo "skip mpirun_term: not Open MPI's mpirun"
fi
stop zeta_int INT 0 env

[ $fail = 0 ] && echo "PASS" || echo "FAILED"
exit $fail
