#!/usr/bin/env bash
# Checkpoints under faults (issue 25), for `zeta temper` and `zeta train`:
#  - a kill at each moment of a checkpoint write (forced by the testing hook
#    ZETA_FAULT, see include/zeta/io/checkpoint.hpp) leaves checkpoint.file in
#    place, and the restart ends bit for bit where a straight run ends;
#  - a missing or damaged checkpoint.file falls back to FILE.prev with one warning;
#  - random byte flips in a checkpoint (seeded, one per trial) are each refused
#    with one error naming the file, fallen back from, or harmless (the result is
#    identical to the straight run's); hand-edited states (a spin of 7, a NaN
#    energy, a non-increasing ladder, a negative Adam moment) are refused naming
#    the dataset; a checkpoint without checksums (an earlier zeta's) restarts
#    with a warning;
#  - checkpoint.file never replaces a file that is not this run's checkpoint, a
#    missing directory is an error before step 1, a checkpoint that is the output
#    file under another name is refused, and a divergence before the first
#    checkpoint does not claim that one holds the last good state.
# Usage: checkpoint_faults.sh ZETA MPIEXEC
set -u
zeta=$1
mpiexec=${2:-mpirun}
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail=0
bad() { echo "FAIL $*"; fail=1; }

cat > temper.ini <<'INI'
[run]
steps = 600
burn_in = 100
save_every = 10
progress_every = 0
[model]
type = ising
L = 8
[sampler]
type = heatbath
[temper]
beta_min = 0.3
beta_max = 0.55
count = 4
copies = 2
adapt = barrier
[checkpoint]
every_steps = 100
INI
cat > train.ini <<'INI'
[run]
steps = 60
progress_every = 0
[model]
type = rbm
hidden = 8
[data]
type = idx
path = /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
limit = 200
binarize = threshold
partitions = 2
[train]
objective = pcd
batch = 16
chains = 16
eval_every = 20
optimizer = adam
lr = 0.01
[checkpoint]
every_steps = 10
INI

timing='wall_s|[a-z_]*_per_s|exchange_fraction|sync_wait_fraction|allreduce_fraction|allreduce_fraction_min'
figures() { grep -m1 '^{' "$1" | sed -E "s/\"($timing|ranks|output|checkpoint)\": [^,}]*[,]? ?//g"; }

# zrun NP CMD ARGS...: zeta on NP ranks (NP = 0: without mpirun), at most 120 s.
zrun() {
  local np=$1
  shift
  if [ "$np" = 0 ]; then timeout 120 "$zeta" "$@"; else timeout 120 "$mpiexec" -np "$np" --oversubscribe "$zeta" "$@"; fi
}
# same_as_straight CMD NAME: NAME.h5 and NAME.json are those of the straight run
# (/summary, the JSON figures with their timings, is compared as the JSON's figures).
same_as_straight() {
  local out
  out=$(h5diff -c --exclude-attribute / --exclude-path /summary "straight_$1.h5" "$2.h5" 2>&1 |
    grep -v 'is an empty dataset$' | sed '/^$/d')
  [ ${PIPESTATUS[0]} = 0 ] && [ -z "$out" ] && cmp -s <(figures "straight_$1.json") <(figures "$2.json")
}

for cmd in temper train; do
  zrun 2 $cmd $cmd.ini --output.file=straight_$cmd.h5 --checkpoint.file=straight_$cmd.ckpt \
    > straight_$cmd.json 2> straight_$cmd.err ||
    { bad "straight $cmd run:"; cat straight_$cmd.err; }
done

# ---- item 4: a kill between the steps of a checkpoint write (np 2), restart on 1 rank
for cmd in temper train; do
  for fault in checkpoint_after_tmp@3 checkpoint_after_link@2 checkpoint_after_link@4; do
    name=${cmd}_${fault//@/_}
    rm -f k.ckpt*
    ZETA_FAULT=$fault zrun 2 $cmd $cmd.ini --output.file=$name.h5 --checkpoint.file=k.ckpt > /dev/null 2> $name.err
    rc=$?
    [ $rc != 0 ] || { bad "$name: the fault hook did not stop the run"; continue; }
    [ -f k.ckpt ] && h5ls k.ckpt > /dev/null 2>&1 || { bad "$name: no readable k.ckpt after the kill"; ls -l; continue; }
    zrun 0 $cmd $cmd.ini --output.file=$name.h5 --checkpoint.file=k.ckpt --checkpoint.restart=true \
      > $name.json 2> $name.err || { bad "$name: restart failed:"; cat $name.err; continue; }
    grep -q 'zeta: warning' $name.err && { bad "$name: the restart warned:"; cat $name.err; }
    same_as_straight $cmd $name && echo "ok   $name: killed (exit $rc), restart identical to the straight run" ||
      bad "$name: the restart differs from the straight run"
  done
done

# ---- item 4: checkpoint.file missing (the old window) or damaged: FILE.prev, one warning
for cmd in temper train; do
  for damage in missing truncated; do
    name=${cmd}_fallback_$damage
    rm -f k.ckpt*
    ZETA_FAULT=checkpoint_after_link@2 zrun 0 $cmd $cmd.ini --output.file=$name.h5 --checkpoint.file=k.ckpt \
      > /dev/null 2>&1
    # (k.ckpt and k.ckpt.prev are links of one file here: replace k.ckpt, do not write into it.)
    if [ $damage = missing ]; then rm -f k.ckpt; else head -c 3000 k.ckpt.prev > cut && mv cut k.ckpt; fi
    zrun 0 $cmd $cmd.ini --output.file=$name.h5 --checkpoint.file=k.ckpt --checkpoint.restart=true \
      > $name.json 2> $name.err || { bad "$name: restart failed:"; cat $name.err; continue; }
    if [ "$(grep -c '^zeta: warning' $name.err)" != 1 ] || ! grep -q "k.ckpt.prev" $name.err; then
      bad "$name: expected one warning naming k.ckpt.prev:"; cat $name.err
    fi
    same_as_straight $cmd $name && echo "ok   $name: $(head -n1 $name.err)" ||
      bad "$name: the restart from k.ckpt.prev differs from the straight run"
  done
done

# ---- item 6: random byte flips, one per trial, in a temper and a train checkpoint
# base_ckpt CMD: base.ckpt (step 200 / 20) and base.ckpt.prev (100 / 10) of a killed run.
base_ckpt() {
  rm -f base.ckpt* k.ckpt*
  ZETA_FAULT=checkpoint_after_tmp@3 zrun 0 $1 $1.ini --output.file=base_$1.h5 --checkpoint.file=base.ckpt \
    > /dev/null 2>&1
  rm -f base.ckpt.tmp base_$1.h5*
}
RANDOM=25
for cmd in temper train; do
  base_ckpt $cmd
  size=$(stat -c %s base.ckpt)
  refused=0 fellback=0 harmless=0 trials=$([ $cmd = temper ] && echo 40 || echo 30)
  for trial in $(seq $trials); do
    rm -f k.ckpt* flip.h5* flip.json
    cp base.ckpt k.ckpt
    # Odd trials keep FILE.prev (a flip must fall back to it), even ones have none (refused).
    [ $((trial % 2)) = 1 ] && cp base.ckpt.prev k.ckpt.prev
    off=$(( (RANDOM * 32768 + RANDOM) % size ))
    old=$(od -An -tu1 -j $off -N1 k.ckpt | tr -d ' ')
    new=$(( old ^ (1 + RANDOM % 255) ))
    printf "$(printf '\\%03o' $new)" | dd of=k.ckpt bs=1 seek=$off conv=notrunc status=none
    zrun 0 $cmd $cmd.ini --output.file=flip.h5 --checkpoint.file=k.ckpt --checkpoint.restart=true \
      > flip.json 2> flip.err
    rc=$?
    if [ $rc = 124 ]; then bad "$cmd flip $trial at $off: hang"; continue; fi
    if [ $rc != 0 ]; then
      if [ "$(grep -c '^zeta: error' flip.err)" = 1 ] && grep -q "^zeta: error: .*'k.ckpt" flip.err &&
        [ ! -f k.ckpt.prev ]; then
        refused=$((refused + 1))
      else
        bad "$cmd flip $trial at byte $off: exit $rc without one error naming k.ckpt (or with a k.ckpt.prev to use):"
        cat flip.err
      fi
    elif ! same_as_straight $cmd flip; then
      bad "$cmd flip $trial at byte $off ($old -> $new): accepted with a different result:"; cat flip.err
    elif grep -q "restarting from the previous checkpoint 'k.ckpt.prev'" flip.err; then
      fellback=$((fellback + 1))
    else
      harmless=$((harmless + 1))
    fi
  done
  echo "ok   $cmd: $trials byte flips in a $size-byte checkpoint: $refused refused, $fellback fell back to" \
    "k.ckpt.prev, $harmless harmless (identical result)"
  [ $((refused + fellback)) -ge $((trials / 4)) ] || bad "$cmd: too few flips detected"
done

# ---- item 6: semantic checks, on checkpoints stripped of their checksums (as an earlier zeta wrote them)
# edit CMD NAME PYTHON: base.ckpt of CMD without checksums, PYTHON run on it as f (h5py).
edit() {
  base_ckpt $1
  cp base.ckpt k.ckpt
  rm -f k.ckpt.prev
  "$py" - k.ckpt "$3" << 'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as f:
    def strip(name, obj):
        if "zeta_crc32" in obj.attrs: del obj.attrs["zeta_crc32"]
    f.visititems(strip)
    del f.attrs["zeta_crc32"]
    exec(sys.argv[2])
PY
}
expect_corrupt() {  # CMD NAME DATASET
  zrun 0 $1 $1.ini --output.file=$2.h5 --checkpoint.file=k.ckpt --checkpoint.restart=true > /dev/null 2> $2.err
  if [ $? != 0 ] && [ "$(grep -c '^zeta: error' $2.err)" = 1 ] && grep -q "^zeta: error: .*'k.ckpt' is corrupt: $3" $2.err; then
    echo "ok   $2: $(grep '^zeta: error' $2.err)"
  else
    bad "$2: not refused naming $3:"; cat $2.err
  fi
}
edit temper legacy 'pass'
zrun 0 temper temper.ini --output.file=legacy.h5 --checkpoint.file=k.ckpt --checkpoint.restart=true \
  > legacy.json 2> legacy.err || { bad "legacy checkpoint refused:"; cat legacy.err; }
if grep -q "has no checksums" legacy.err && same_as_straight temper legacy; then
  echo "ok   legacy: $(cat legacy.err)"
else
  bad "a checkpoint without checksums does not restart with a warning to the straight run's result"; cat legacy.err
fi
edit temper spin_7 'd = f["/replicas/state"]; a = d[...]; a[3, 5] = 7; d[...] = a'
expect_corrupt temper spin_7 /replicas/state
edit temper energy_nan 'd = f["/stats/rows_energy"]; a = d[...]; a[4] = np.nan; d[...] = a'
expect_corrupt temper energy_nan /stats/rows_energy
edit temper betas_unordered 'd = f["/temper/betas"]; a = d[...]; a[1], a[2] = a[2], a[1]; d[...] = a'
expect_corrupt temper betas_unordered /temper/betas
edit temper saved_ahead 'd = f["/run/saved"]; d[...] = d[...] + 1'
expect_corrupt temper saved_ahead /run/saved
edit train adam_v_negative 'd = f["/optimizer/v"]; a = d[...]; a[0] = -1; d[...] = a'
expect_corrupt train adam_v_negative /optimizer/v
edit train chain_half 'd = f["/train/chains"]; a = d[...]; a[0, 0] = 0.5; d[...] = a'
expect_corrupt train chain_half /train/chains

# ---- items 2, 5, 14: refused before step 1 on both ranks, one error line, nothing replaced
# expect_error NAME PATTERN CMD ARGS...: 2 ranks, each records its exit status.
expect_error() {
  local name=$1 pattern=$2
  shift 2
  rm -f rc.* err.*
  timeout 60 "$mpiexec" -np 2 --oversubscribe sh -c \
    '"$0" "$@" > /dev/null 2> err.$OMPI_COMM_WORLD_RANK; echo $? > rc.$OMPI_COMM_WORLD_RANK' "$zeta" "$@"
  if [ $? = 124 ]; then bad "$name: hang, or the run was not stopped before step 1"; return; fi
  for r in 0 1; do
    if [ ! -f rc.$r ] || [ "$(cat rc.$r)" = 0 ]; then bad "$name: rank $r exit status $(cat rc.$r 2>/dev/null)"; fi
  done
  local errs
  errs=$(cat err.0 err.1 | grep -c '^zeta: error')
  if [ "$errs" != 1 ] || ! grep -q -- "$pattern" err.0 err.1; then
    bad "$name: expected one error line naming '$pattern':"; cat err.0 err.1
  else
    echo "ok   $name: $(grep -h '^zeta: error' err.0 err.1)"
  fi
}
long=(--run.steps=100000000 --checkpoint.every_steps=0)
echo precious > precious.dat
expect_error unrelated_file 'checkpoint.file' temper temper.ini "${long[@]}" --checkpoint.file=precious.dat
[ "$(cat precious.dat)" = precious ] && [ ! -e precious.dat.prev ] || bad "unrelated_file: precious.dat replaced"
cp precious.dat other.ckpt.prev
zrun 0 temper temper.ini --output.file=o.h5 --checkpoint.file=other.ckpt --checkpoint.every_steps=0 > /dev/null 2>&1
rm -f other.ckpt.prev o.h5
zrun 0 temper temper.ini --output.file=o.h5 --checkpoint.file=other.ckpt --checkpoint.every_steps=0 > /dev/null 2>&1
cp precious.dat other.ckpt.prev
expect_error unrelated_prev 'checkpoint.file' temper temper.ini "${long[@]}" --checkpoint.file=other.ckpt
[ "$(cat other.ckpt.prev)" = precious ] || bad "unrelated_prev: other.ckpt.prev replaced"
rm -f other.ckpt.prev
cp other.ckpt other.before
expect_error other_config_fresh 'model.L' temper temper.ini "${long[@]}" --model.L=4 --checkpoint.file=other.ckpt
expect_error other_config_restart 'model.L' temper temper.ini "${long[@]}" --model.L=4 --checkpoint.file=other.ckpt \
  --checkpoint.restart=true
expect_error other_command 'zeta temper' train train.ini --run.steps=100000000 --checkpoint.file=other.ckpt
cmp -s other.ckpt other.before && [ ! -e other.ckpt.prev ] || bad "a checkpoint of another configuration was replaced"
# The run's own checkpoint is still replaced by a fresh run of the same configuration (kept as .prev).
zrun 0 temper temper.ini --output.file=o2.h5 --checkpoint.file=other.ckpt --checkpoint.every_steps=0 \
  > /dev/null 2> own.err &&
  cmp -s other.ckpt.prev other.before && echo "ok   own_checkpoint: a fresh run replaces it, kept as other.ckpt.prev" ||
  { bad "own_checkpoint: a fresh run over its own checkpoint"; cat own.err; }
expect_error missing_directory 'checkpoint.file' temper temper.ini "${long[@]}" --checkpoint.file=nowhere/ck.ckpt
expect_error not_a_directory 'checkpoint.file' train train.ini --run.steps=100000000 \
  --checkpoint.file=precious.dat/ck.ckpt
mkdir -p sub
expect_error output_same_file 'checkpoint.file' temper temper.ini "${long[@]}" --output.file=x.h5 \
  --checkpoint.file=./sub/../x.h5
expect_error output_prev_name 'checkpoint.file' train train.ini --output.file=x.h5.prev --checkpoint.file=x.h5
ls x.h5* > /dev/null 2>&1 && bad "output_same_file: a file was left behind"

# ---- item 14 (minor): a relative data.path written otherwise, or from another directory, is the same file
ln -s /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz images.gz
zrun 0 train train.ini --run.steps=20 --data.path=images.gz --checkpoint.file=rel.ckpt --output.file=rel.h5 \
  > /dev/null 2> rel.err || { bad "relative data.path run:"; cat rel.err; }
zrun 0 train train.ini --run.steps=30 --data.path=./images.gz --checkpoint.file=rel.ckpt --output.file=rel2.h5 \
  --checkpoint.restart=true > /dev/null 2> rel.err || { bad "restart with data.path = ./images.gz refused:"; cat rel.err; }
(cd sub && zrun 0 train ../train.ini --run.steps=40 --data.path=../images.gz --checkpoint.file=../rel.ckpt \
  --output.file=rel3.h5 --checkpoint.restart=true > /dev/null 2> ../rel.err) ||
  { bad "restart from another directory with data.path = ../images.gz refused:"; cat rel.err; }
cp train.ini sub/other.gz
zrun 0 train train.ini --run.steps=50 --data.path=sub/other.gz --checkpoint.file=rel.ckpt --output.file=rel4.h5 \
  --checkpoint.restart=true > /dev/null 2> rel.err
[ $? != 0 ] && grep -q "data.path" rel.err && echo "ok   relative_data_path: same file restarts, another is refused" ||
  { bad "restart with another data.path accepted:"; cat rel.err; }

# ---- item 10: divergence before the first checkpoint, and after one
cat > diverge.ini <<'INI'
[run]
steps = 50
progress_every = 0
[model]
type = mlp
layers = 2,8,1
[data]
type = synthetic
shape = ring8
examples = 200
heldout_examples = 50
[train]
objective = dsm
batch = 16
eval_every = 10
optimizer = sgd
lr = 1e30
INI
zrun 0 train diverge.ini --checkpoint.file=div.ckpt --checkpoint.every_steps=10 > /dev/null 2> div.err
if grep -q '^zeta: error: training diverged.*this run wrote no checkpoint' div.err && ! grep -q 'still holds' div.err &&
  [ ! -e div.ckpt ]; then
  echo "ok   diverged_first: $(grep '^zeta: error' div.err)"
else
  bad "diverged_first: the divergence message (or a checkpoint written):"; cat div.err
fi
zrun 0 train diverge.ini --checkpoint.file=div.ckpt --checkpoint.every_steps=1 > /dev/null 2> div.err
grep -q "^zeta: error: training diverged.*checkpoint 'div.ckpt' still holds the last good one" div.err && [ -f div.ckpt ] ||
  { bad "diverged_later: the divergence message after a checkpoint:"; cat div.err; }

[ $fail = 0 ] && echo "all checkpoint fault cases passed"
exit $fail
