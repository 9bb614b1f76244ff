#!/usr/bin/env bash
# Kill loop (issue 25): `zeta temper` and `zeta train` (PCD, deterministic over
# rank counts) are SIGKILLed again and again at seeded random moments, each time
# restarted from whatever checkpoint the kill left, on alternating rank counts
# (2, 1, 4), until a run ends; then the JSON figures and the output datasets
# must be byte for byte those of a straight run. The kill delays are drawn from
# [0, T/8] with T the straight run's wall time (at least 0.5 s); a command whose
# run ended after fewer than 10 kills runs another round (at most 5), so each
# command is killed at least 10 times; fewer than 20 kills in all is a failure.
# Usage: kill_loop.sh ZETA MPIEXEC [SEED]
set -u
zeta=$1
mpiexec=${2:-mpirun}
RANDOM=${3:-2512}
work=$(mktemp -d)
trap 'pkill -KILL -f "^$zeta .* $work/" 2> /dev/null; rm -rf "$work"' EXIT
cd "$work"
fail=0
total_kills=0
py=/usr/bin/python3

cat > temper.ini <<'INI'
[run]
steps = 40000
burn_in = 1000
save_every = 20
progress_every = 0
[model]
type = ising
L = 16
[sampler]
type = heatbath
[temper]
beta_min = 0.3
beta_max = 0.55
count = 4
copies = 2
adapt = barrier
[checkpoint]
every_steps = 500
INI
cat > train.ini <<'INI'
[run]
steps = 5000
progress_every = 0
[model]
type = rbm
hidden = 16
[data]
type = idx
path = /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
limit = 400
binarize = threshold
partitions = 4
[train]
objective = pcd
batch = 20
chains = 20
eval_every = 100
[checkpoint]
every_steps = 50
INI

# figures FILE: the JSON line less timings, paths and the rank count.
figures() { sed -E "s/\"($timing|ranks|output|checkpoint|wall_s)\": [^,}]*[,]? ?//g" "$1"; }

# one_round CMD R: run.h5 / run.ckpt of round R, SIGKILLed after seeded random
# delays in [0, T] ms and restarted (np 2, 1, 4 in turn) until a run ends; then
# compared with the straight run. Adds to $kills.
one_round() {
  local cmd=$1 r=$2 ds nps=(2 1 4) attempt=0 done=0 rc n0=$kills
  local out=r${r}_$cmd.h5 ck=r${r}_$cmd.ckpt json=r${r}_$cmd.json err=r${r}_$cmd.err
  while [ $done = 0 ] && [ $attempt -lt 80 ]; do
    local np=${nps[$((attempt % 3))]} restart=false
    [ -e $ck ] || [ -e $ck.prev ] && restart=true
    "$mpiexec" -np "$np" --oversubscribe "$zeta" "$cmd" "$PWD/$cmd.ini" --output.file=$out \
      --checkpoint.file=$ck --checkpoint.restart=$restart > $json 2> $err &
    local launcher=$! delay=$(( T * RANDOM / 32767 )) waited=0
    # Sleep `delay` milliseconds unless the run ends first.
    while kill -0 $launcher 2> /dev/null && [ $waited -lt $delay ]; do sleep 0.02; waited=$((waited + 20)); done
    if kill -0 $launcher 2> /dev/null; then
      pkill -KILL -f "^$zeta $cmd $PWD/$cmd.ini" && kills=$((kills + 1))
      # mpirun may hang when its ranks die during start-up (PMIx "UNREACHABLE"): the
      # kill stands for a node failure, so the launcher goes too after 10 s.
      for _ in $(seq 200); do kill -0 $launcher 2> /dev/null || break; sleep 0.05; done
      kill -KILL $launcher 2> /dev/null
      wait $launcher 2> /dev/null
    else
      wait $launcher; rc=$?
      if [ $rc = 0 ]; then done=1
      else
        echo "FAIL $cmd round $r: attempt $attempt (np $np, restart $restart) exited $rc:"; cat $err; fail=1; return
      fi
    fi
    attempt=$((attempt + 1))
  done
  [ $done = 1 ] || { echo "FAIL $cmd round $r: no run ended after $attempt attempts"; fail=1; return; }
  if ! cmp -s <(figures straight_$cmd.json) <(figures $json); then
    echo "FAIL $cmd round $r: JSON differs after $((kills - n0)) kills:"; figures straight_$cmd.json; figures $json
    fail=1
  fi
  for ds in $out_sets; do
    h5diff straight_$cmd.h5 $out "$ds" "$ds" > /dev/null || { echo "FAIL $cmd round $r: $ds differs"; fail=1; }
  done
  echo "$cmd round $r: $((kills - n0)) SIGKILLs over $attempt runs (delays up to $T ms): identical to the straight run"
}

# kill_loop CMD: the straight run, then rounds of one_round until >= 10 kills.
kill_loop() {
  local cmd=$1 t0 t1 r=0
  t0=$(date +%s%3N)
  timeout 600 "$mpiexec" -np 2 --oversubscribe "$zeta" "$cmd" "$PWD/$cmd.ini" --output.file=straight_$cmd.h5 \
    --checkpoint.file=straight_$cmd.ckpt > straight_$cmd.json 2> straight_$cmd.err ||
    { echo "FAIL $cmd: straight run"; cat straight_$cmd.err; fail=1; return; }
  t1=$(date +%s%3N)
  T=$(( (t1 - t0) / 8 )); [ $T -ge 500 ] || T=500  # milliseconds
  kills=0
  while [ $kills -lt 10 ] && [ $r -lt 5 ] && [ $fail = 0 ]; do r=$((r + 1)); one_round "$cmd" $r; done
  total_kills=$((total_kills + kills))
}

timing="wall_s|sweeps_per_s|exchange_fraction|sync_wait_fraction"
out_sets="/temper/energy /temper/replica /temper/magnetization /temper/betas /temper/round_trips /temper/flow"
kill_loop temper
timing="wall_s|updates_per_s|examples_per_s|allreduce_fraction|allreduce_fraction_min"
out_sets="/model/rbm/W /model/rbm/b /model/rbm/c /train/step /train/recon_error /train/pseudo_loglik /train/grad_norm"
kill_loop train
if [ $total_kills -lt 20 ]; then
  echo "FAIL only $total_kills kills in all (< 20): the runs are too short on this machine to test anything"; fail=1
fi
exit $fail
