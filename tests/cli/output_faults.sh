#!/usr/bin/env bash
# Output files under faults: nothing a run reports is lost, no crash, one clear error.
#   concurrent_same_output   two runs on one output.file (a third file already there):
#                            every file intact under the name its run reports
#   huge_steps_grows         run.steps = 1e12 stopped by run.max_hours: the file holds
#                            the rows sampled (extendible datasets), not 1e12 rows
#   steps_overflow_refused   run.steps = 2^63-1: refused before step 1, naming run.steps
#   output_write_fault       a failed write (ZETA_FAULT=output_write, on rank 1 only):
#                            one error naming the file, exit != 0 on every rank, no
#                            crash, no partial file, no .xmf; the last checkpoint restarts
#   kill_before_publish      SIGKILL (ZETA_FAULT) just before the output is published,
#                            and just after (before the final checkpoint): a restart
#                            ends with the output of a straight run (temper and train)
#   disk_full (argument disk_full, ctest cli_output_disk_full): the same on a 2 MB tmpfs;
#                            exits 77 (skipped) where a tmpfs cannot be mounted
# Usage: output_faults.sh ZETA MPIEXEC [disk_full]
set -u
zeta=$1
mpiexec=${2:-mpirun}
mode=${3:-faults}
work=$(mktemp -d)
cleanup() {
  mountpoint -q "$work/full" 2> /dev/null && umount "$work/full"
  rm -rf "$work"
}
[ -n "${KEEP:-}" ] || trap cleanup EXIT
cd "$work"
fail=0

cat > sample.ini <<'INI'
[run]
steps = 400
burn_in = 100
save_every = 1
progress_every = 0
[model]
type = gaussian
dim = 2
[sampler]
type = mala
chains = 64
step_size = 0.1
INI
cat > temper.ini <<'INI'
[run]
steps = 4000
burn_in = 400
save_every = 1
progress_every = 0
[model]
type = gmm
weights = 0.4,0.3,0.2,0.1
means = 3,3; -3,3; -3,-3; 3,-3
variances = 0.3
[sampler]
type = mala
step_size = 0.5
init_scale = 3
[temper]
beta_min = 0.01
beta_max = 1
count = 10
copies = 4
[checkpoint]
every_steps = 1000
INI
cat > train.ini <<'INI'
[run]
steps = 600
progress_every = 0
[model]
type = rbm
hidden = 16
[data]
type = idx
path = /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
limit = 1000
binarize = threshold
[train]
objective = pcd
batch = 32
chains = 32
eval_every = 100
[checkpoint]
every_steps = 200
INI

# run_ranks NAME ARGS...: zeta on 2 ranks, each rank's exit status in NAME.rc.R and
# stderr in NAME.err.R (ZETA_FAULT_RANK1, if set, becomes rank 1's ZETA_FAULT).
run_ranks() {
  local name=$1
  shift
  rm -f "$name".rc.* "$name".err.*
  timeout 120 "$mpiexec" -np 2 --oversubscribe sh -c '
    [ "$OMPI_COMM_WORLD_RANK" = 1 ] && [ -n "${ZETA_FAULT_RANK1:-}" ] && export ZETA_FAULT=$ZETA_FAULT_RANK1
    "$0" "$@" > '"$name"'.out.$OMPI_COMM_WORLD_RANK 2> '"$name"'.err.$OMPI_COMM_WORLD_RANK
    echo $? > '"$name"'.rc.$OMPI_COMM_WORLD_RANK' "$zeta" "$@" > /dev/null 2>&1
  [ $? -eq 124 ] && { echo "FAIL $name: hang (killed by timeout)"; fail=$((fail + 1)); }
}

# expect_failure NAME PATTERN: after run_ranks NAME, every rank exited 1 (an error, not
# a signal), with exactly one "zeta: error" line that names PATTERN, and no crash.
expect_failure() {
  local name=$1 pattern=$2 r errs
  for r in 0 1; do
    [ "$(cat "$name.rc.$r" 2> /dev/null)" = 1 ] || { echo "FAIL $name: rank $r exit status $(cat "$name.rc.$r" 2> /dev/null)"; fail=$((fail + 1)); }
  done
  errs=$(cat "$name".err.* | grep -c '^zeta: error')
  [ "$errs" = 1 ] || { echo "FAIL $name: expected one error line, got $errs:"; cat "$name".err.*; fail=$((fail + 1)); }
  grep -q -- "$pattern" "$name".err.* || { echo "FAIL $name: the error does not name '$pattern'"; cat "$name".err.*; fail=$((fail + 1)); }
  if grep -qiE 'segmentation|signal|backtrace|core dumped' "$name".err.*; then
    echo "FAIL $name: crashed:"; cat "$name".err.*; fail=$((fail + 1))
  fi
}

# same_sets A B SETS...: the listed datasets are equal in the files A and B.
same_sets() {
  local a=$1 b=$2 ds
  shift 2
  for ds in "$@"; do
    h5diff "$a" "$b" "$ds" "$ds" > /dev/null 2>&1 || { echo "FAIL $ds differs between $a and $b"; fail=$((fail + 1)); }
  done
}
no_partial() {
  if ls "$@" 2> /dev/null | grep -q partial; then echo "FAIL partial file left: $(ls "$@" | grep partial)"; fail=$((fail + 1)); fi
}
json_output() { grep -o '"output": "[^"]*"' "$1" | sed 's/"output": "//; s/"$//'; }
temper_sets="/temper/energy /temper/replica /temper/x /temper/betas /temper/round_trips /temper/flow"
train_sets="/model/rbm/W /model/rbm/b /model/rbm/c /train/step /train/recon_error"

if [ "$mode" = disk_full ]; then
  mkdir full
  if ! mount -t tmpfs -o size=2m tmpfs full 2> mount.err; then
    echo "SKIP disk_full: cannot mount a 2 MB tmpfs here ($(cat mount.err)); needs root or CAP_SYS_ADMIN"
    exit 77
  fi
  # sample: the output (23 MB) does not fit.
  echo precious > full/s.h5
  run_ranks sample_full sample sample.ini --output.file=full/s.h5 --model.dim=50 --run.steps=1000
  expect_failure sample_full "full/s.h5"
  [ "$(cat full/s.h5)" = precious ] || { echo "FAIL sample_full: existing output touched"; fail=$((fail + 1)); }
  no_partial full
  # temper: the output (2.5 MB) does not fit; the checkpoint (outside) stays at step 3000 and restarts.
  run_ranks temper_full temper temper.ini --output.file=full/t.h5 --checkpoint.file=ck.h5
  expect_failure temper_full "full/t.h5"
  no_partial full
  timeout 120 "$mpiexec" -np 2 --oversubscribe "$zeta" temper temper.ini --output.file=straight.h5 --checkpoint.file=straight.ckpt > /dev/null 2>&1 ||
    { echo "FAIL temper straight run"; fail=$((fail + 1)); }
  timeout 120 "$mpiexec" -np 1 "$zeta" temper temper.ini --output.file=resumed.h5 --checkpoint.file=ck.h5 \
    --checkpoint.restart=true > resumed.json 2> resumed.err || { echo "FAIL temper_full: restart"; cat resumed.err; fail=$((fail + 1)); }
  same_sets straight.h5 resumed.h5 $temper_sets
  [ $fail = 0 ] && echo "ok   disk_full: $(grep -h '^zeta: error' sample_full.err.* temper_full.err.*)"
  [ $fail = 0 ]; exit
fi

# --- concurrent_same_output
# Run B (1 rank, endless) opens same.h5's partial file; run A (2 ranks) starts after it
# and publishes first; then B is stopped by SIGTERM and publishes. The file that was
# there before both is kept as a backup; each run's JSON names where its data is.
mkdir conc && cd conc
echo precious > same.h5
"$zeta" sample ../sample.ini --output.file=same.h5 --run.steps=100000000 --run.seed=2 > b.json 2> b.err &
b=$!
for _ in $(seq 300); do ls same.h5.partial.* > /dev/null 2>&1 && break; sleep 0.1; done
ls same.h5.partial.* > /dev/null 2>&1 || { echo "FAIL concurrent_same_output: run B never created its partial file"; fail=$((fail + 1)); }
timeout 120 "$mpiexec" -np 2 --oversubscribe "$zeta" sample ../sample.ini --output.file=same.h5 --run.seed=1 \
  > a.json 2> a.err || { echo "FAIL concurrent_same_output: run A"; cat a.err; fail=$((fail + 1)); }
kill -TERM $b
wait $b || { echo "FAIL concurrent_same_output: run B exit status $?"; cat b.err; fail=$((fail + 1)); }
timeout 120 "$mpiexec" -np 2 --oversubscribe "$zeta" sample ../sample.ini --output.file=ref_a.h5 --run.seed=1 \
  > /dev/null 2>&1 || { echo "FAIL concurrent_same_output: reference run"; fail=$((fail + 1)); }
fa=$(json_output a.json) fb=$(json_output b.json)
if [ "$fa" != same.h5 ] || [ -z "$fb" ] || [ "$fa" = "$fb" ] || [ ! -f "$fb" ]; then
  echo "FAIL concurrent_same_output: outputs reported '$fa' and '$fb'"; ls -l; fail=$((fail + 1))
else
  same_sets ref_a.h5 "$fa" /samples/x /samples/energy
  /usr/bin/python3 - "$fb" b.json << 'PY' || fail=$((fail + 1))
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    saved = int(f.attrs["samples_saved"])
    ok = "seed = 2" in str(f.attrs["config"]) and f["/samples/x"].shape[0] == saved > 0
    ok = ok and bool((f["/samples/energy"][saved - 1] != 0).all())
if not ok:
    print("FAIL concurrent_same_output: run B's file", sys.argv[1], "is not run B's data")
    sys.exit(1)
PY
  grep -q "$fb" b.err || { echo "FAIL concurrent_same_output: run B does not say where its output went"; cat b.err; fail=$((fail + 1)); }
fi
backups=$(grep -l '^precious$' same.h5.~*~ 2> /dev/null | wc -l)
[ "$backups" = 1 ] || { echo "FAIL concurrent_same_output: the earlier same.h5 is not kept once (found $backups)"; ls -l; fail=$((fail + 1)); }
no_partial .
[ $fail = 0 ] && echo "ok   concurrent_same_output: A -> $fa, B -> $fb, earlier file -> $(grep -l '^precious$' same.h5.~*~)"
cd ..

# --- huge_steps_grows: 1e12 steps, stopped after about a second.
f0=$fail
timeout 120 "$zeta" sample sample.ini --run.steps=1000000000000 --run.max_hours=0.0003 --output.file=huge.h5 \
  > huge.json 2> huge.err || { echo "FAIL huge_steps_grows: exit status $?"; cat huge.err; fail=$((fail + 1)); }
grep -q '"status": "interrupted"' huge.json || { echo "FAIL huge_steps_grows: not interrupted"; cat huge.json; fail=$((fail + 1)); }
/usr/bin/python3 - huge.h5 << 'PY' || fail=$((fail + 1))
import os, sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    saved, rows = int(f.attrs["samples_saved"]), f["/samples/x"].shape[0]
size = os.stat(sys.argv[1]).st_blocks * 512
row = 64 * 3 * 8
if not (0 < saved == rows and size < 2 * rows * row + (4 << 20)):
    print(f"FAIL huge_steps_grows: {rows} rows, samples_saved {saved}, {size} bytes on disk")
    sys.exit(1)
print(f"ok   huge_steps_grows: {rows} rows saved, {size} bytes on disk")
PY
[ $fail = $f0 ] || ls -ls huge.h5*

# --- steps_overflow_refused
echo precious > out.h5
run_ranks overflow sample sample.ini --run.steps=9223372036854775807 --output.file=out.h5
expect_failure overflow "run.steps"
[ "$(cat out.h5)" = precious ] && ! ls out.h5.* > /dev/null 2>&1 || { echo "FAIL overflow: output touched"; ls -l; fail=$((fail + 1)); }
[ $fail = 0 ] && echo "ok   steps_overflow_refused: $(grep -h '^zeta: error' overflow.err.*)"

# --- output_write_fault: sample with a landscape (.xmf), and temper with a checkpoint.
f0=$fail
# (a fault-free run first, which must publish its .h5 and the .xmf that names it)
run_ranks no_fault sample sample.ini --output.file=xmf.h5 --output.landscape=true --output.landscape_n=16
[ -f xmf.h5 ] && grep -q 'xmf.h5:/landscape' xmf.xmf ||
  { echo "FAIL output_write_fault: the fault-free run's output or .xmf is missing"; ls -l; fail=$((fail + 1)); }
ZETA_FAULT_RANK1=output_write run_ranks write_fault_sample sample sample.ini --output.file=out.h5 \
  --output.landscape=true --output.landscape_n=16
expect_failure write_fault_sample "out.h5"
[ "$(cat out.h5)" = precious ] && ! ls out.h5.* out.xmf > /dev/null 2>&1 ||
  { echo "FAIL output_write_fault: output touched, or a partial file or .xmf left"; ls -l; fail=$((fail + 1)); }
ZETA_FAULT_RANK1=output_write run_ranks write_fault_temper temper temper.ini --output.file=out.h5 \
  --checkpoint.file=wf.ckpt
expect_failure write_fault_temper "out.h5"
[ "$(cat out.h5)" = precious ] && ! ls out.h5.* > /dev/null 2>&1 ||
  { echo "FAIL output_write_fault: temper touched the output or left a partial file"; ls -l; fail=$((fail + 1)); }
timeout 120 "$mpiexec" -np 2 --oversubscribe "$zeta" temper temper.ini --output.file=t_straight.h5 --checkpoint.file=t_straight.ckpt > /dev/null 2>&1 ||
  { echo "FAIL temper straight run"; fail=$((fail + 1)); }
timeout 120 "$mpiexec" -np 1 "$zeta" temper temper.ini --output.file=t_wf.h5 --checkpoint.file=wf.ckpt \
  --checkpoint.restart=true > wf.json 2> wf.err || { echo "FAIL output_write_fault: restart"; cat wf.err; fail=$((fail + 1)); }
same_sets t_straight.h5 t_wf.h5 $temper_sets
[ $fail = $f0 ] && echo "ok   output_write_fault: $(grep -h '^zeta: error' write_fault_temper.err.*)"

# --- kill_before_publish: temper and train, killed just before the output is published
# (it never appears) and just after (before the final checkpoint).
f0=$fail
for cmd in temper train; do
  timeout 300 "$mpiexec" -np 2 --oversubscribe "$zeta" $cmd $cmd.ini --output.file=${cmd}_ref.h5 --checkpoint.file=${cmd}_ref.ckpt \
    > /dev/null 2>&1 || { echo "FAIL $cmd straight run"; fail=$((fail + 1)); }
  [ $cmd = temper ] && sets=$temper_sets || sets=$train_sets
  for point in before_output_publish before_final_checkpoint; do
    o=${cmd}_$point.h5 c=${cmd}_$point.ckpt
    ZETA_FAULT=$point timeout 300 "$mpiexec" -np 2 --oversubscribe "$zeta" $cmd $cmd.ini --output.file=$o \
      --checkpoint.file=$c > /dev/null 2>&1 && { echo "FAIL $cmd $point: the fault did not stop the run"; fail=$((fail + 1)); }
    if [ $point = before_output_publish ]; then
      [ -f $o ] && { echo "FAIL $cmd $point: the output appeared"; fail=$((fail + 1)); }
    else
      [ -f $o ] || { echo "FAIL $cmd $point: the output is missing"; fail=$((fail + 1)); }
      same_sets ${cmd}_ref.h5 $o $sets
    fi
    timeout 300 "$mpiexec" -np 1 "$zeta" $cmd $cmd.ini --output.file=$o --checkpoint.file=$c \
      --checkpoint.restart=true > r.json 2> r.err || { echo "FAIL $cmd $point: restart"; cat r.err; fail=$((fail + 1)); }
    [ "$(json_output r.json)" = $o ] || { echo "FAIL $cmd $point: restart output '$(json_output r.json)'"; fail=$((fail + 1)); }
    same_sets ${cmd}_ref.h5 $o $sets
    [ $point = before_final_checkpoint ] && same_sets ${cmd}_ref.h5 $o.~1~ $sets
    rm -f $o.partial.*  # the killed run's (named with its host and pid)
  done
done
[ $fail = $f0 ] && echo "ok   kill_before_publish: temper and train restarts end with the straight run's output"

[ $fail = 0 ]
