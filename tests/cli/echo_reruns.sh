#!/usr/bin/env bash
# The resolved configuration that every command echoes on stderr (and stores in its
# output's /config) runs again as it is, the way LAMMPS and GROMACS users rerun a
# log's settings: a key at the default that applies is never refused as "does not
# apply here" (Config::differs_from_default), while a key set off its default where
# it does not apply still is. For every input/*.ini, shortened, and zeta train for
# each train.objective (mlp and rbm): run once, take the echoed block, run that block
# in a fresh directory (exit 0, and its own echo is the same block); then the block
# with one key that does not apply set off its default: refused, naming the key.
# Usage: echo_reruns.sh ZETA SOURCE_DIR
set -u
zeta=${1:?usage: echo_reruns.sh ZETA SOURCE_DIR}
src=${2:?usage: echo_reruns.sh ZETA SOURCE_DIR}
case $zeta in /*) ;; *) zeta=$PWD/$zeta ;; esac
src=$(cd "$src" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/echo-reruns.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 2
fail=0 n=0

# rbm_data.csv as input/train_rbm_csv.ini's header makes it.
/usr/bin/python3 -c "import random; random.seed(1); [print(','.join(f'{(1 if (i<4)==(r%2==0) else -1)+random.gauss(0,0.3):.4f}' for i in range(8))) for r in range(512)]" > rbm_data.csv

command_of() {  # as scripts/same-results.sh: the command an input is for, from its sections
  if grep -Eq '^\[ais\]' "$1"; then echo ais
  elif grep -Eq '^\[temper\]' "$1"; then echo temper
  elif grep -Eq '^\[eval\]' "$1"; then echo eval
  elif grep -Eq '^\[(train|data)\]' "$1"; then echo train
  else echo sample
  fi
}
# The shortening of each command (every key still read and checked).
short_args() {
  case $1 in
    sample | temper) echo --run.steps=20 --run.burn_in=0 ;;
    ais) echo --ais.steps=20 --ais.chains=16 ;;
    train) echo --run.steps=2 --data.limit=256 ;;
    eval) echo --data.limit=64 ;;
  esac
}
# The echoed block of stderr file $2 of command $1.
block() { sed -n "/^# zeta $1: resolved configuration/,/^# end of configuration\$/p" "$2" | sed '1d;$d'; }

# rerun NAME CMD ARGS...: runs CMD ARGS in NAME/a, then the echoed block in NAME/b;
# leaves the block in NAME/echo.ini.
rerun() {
  local name=$1 cmd=$2
  shift 2
  n=$((n + 1))
  mkdir -p "$name/a" "$name/b"
  for d in a b; do
    cp rbm_data.csv zeta_train_fashion.h5 zeta_train_energynet_fashion.h5 zeta_train_jem_mlp_fashion.h5 "$name/$d/" 2> /dev/null
  done
  if ! (cd "$name/a" && "$zeta" "$cmd" "$@" > out.json 2> err); then
    echo "FAIL $name: the first run failed:"; tail -n 3 "$name/a/err"; fail=1; return 1
  fi
  block "$cmd" "$name/a/err" > "$name/echo.ini"
  [ -s "$name/echo.ini" ] || { echo "FAIL $name: no configuration echoed"; fail=1; return 1; }
  if ! (cd "$name/b" && "$zeta" "$cmd" ../echo.ini > out.json 2> err); then
    echo "FAIL $name: its echoed configuration is refused:"; grep 'zeta: error' "$name/b/err"; fail=1; return 1
  fi
  if ! cmp -s <(block "$cmd" "$name/b/err") "$name/echo.ini"; then
    echo "FAIL $name: the rerun echoes another configuration:"
    diff <(block "$cmd" "$name/b/err") "$name/echo.ini"; fail=1; return 1
  fi
  echo "ok   $name: the echo ($(wc -l < "$name/echo.ini") lines) reruns"
}

# refused NAME CMD KEY VALUE: the echo of NAME with KEY = VALUE is refused naming KEY.
refused() {
  local name=$1 cmd=$2 key=$3 value=$4
  [ -s "$name/echo.ini" ] || return 0  # its rerun already failed
  n=$((n + 1))
  if (cd "$name/b" && "$zeta" "$cmd" ../echo.ini "--$key=$value" > /dev/null 2> refused.err); then
    echo "FAIL $name with $key = $value: accepted"; fail=1
  elif grep -q "^zeta: error: $key" "$name/b/refused.err"; then
    echo "ok   $name with $key = $value: $(grep '^zeta: error' "$name/b/refused.err")"
  else
    echo "FAIL $name with $key = $value: not refused for $key:"; cat "$name/b/refused.err"; fail=1
  fi
}

# The trains first: sample_rbm_fashion and temper_rbm_fashion read zeta_train_fashion.h5,
# eval_energynet_fashion reads zeta_train_energynet_fashion.h5, sample_jem_mlp_fashion
# zeta_train_jem_mlp_fashion.h5.
inputs=$(ls "$src"/input/train_*.ini; ls "$src"/input/*.ini | grep -v '/train_')
for ini in $inputs; do
  name=$(basename "$ini" .ini)
  cmd=$(command_of "$ini")
  # shellcheck disable=SC2046
  rerun "$name" "$cmd" "$ini" $(short_args "$cmd")
  if [ "$name" = train_rbm_fashion ] && [ -f "$name/a/zeta_train_fashion.h5" ]; then
    cp "$name/a/zeta_train_fashion.h5" .
  fi
  if [ "$name" = train_pcd_energynet_fashion ] && [ -f "$name/a/zeta_train_energynet_fashion.h5" ]; then
    cp "$name/a/zeta_train_energynet_fashion.h5" .
  fi
  if [ "$name" = train_jem_mlp_fashion ] && [ -f "$name/a/zeta_train_jem_mlp_fashion.h5" ]; then
    cp "$name/a/zeta_train_jem_mlp_fashion.h5" .
  fi
done

# A Gaussian RBM from model.params, model.visible and model.hidden not given: the echo
# lists their defaults (bernoulli, 64), which the file's kind and size then override.
if [ -f train_rbm_csv/a/zeta_train_csv.h5 ]; then
  rerun sample_gaussian_rbm_params sample --model.type=rbm --model.params="$work/train_rbm_csv/a/zeta_train_csv.h5" \
    --sampler.type=gibbs --run.steps=20 --run.burn_in=0 --sampler.chains=4
else
  echo "FAIL train_rbm_csv wrote no zeta_train_csv.h5"; fail=1
fi

# zeta train for each objective: an mlp on the ring, an rbm on rbm_data.csv.
ring=(--model.type=mlp --model.layers=2,16,1 --data.type=synthetic --data.shape=ring8 --data.examples=256
      --data.heldout_examples=64 --train.batch=32 --run.steps=2 --train.grid_points=20)
for obj in cd pcd dsm ncsn pt_pcd short_run_cd nce ssm ssm_vr; do
  extra=()
  case $obj in
    pcd) extra=(--train.buffer_size=64) ;;
    ncsn) extra=(--train.sigma=1,0.1 --train.sigma_levels=3 --sampler.steps_per_level=2) ;;
    pt_pcd) extra=(--train.temper_count=3) ;;
  esac
  rerun "mlp_$obj" train "${ring[@]}" --train.objective=$obj "${extra[@]}"
done
rbm=(--model.type=rbm --model.visible=gaussian --model.hidden=4 --data.type=csv --data.path=rbm_data.csv
     --train.batch=32 --run.steps=2)
for obj in cd pcd pt_pcd; do rerun "rbm_$obj" train "${rbm[@]}" --train.objective=$obj; done

# A key really set off its default where it does not apply is still refused.
refused mlp_nce train train.projection rademacher
refused mlp_ssm train train.nce_ratio 5
refused mlp_pcd train train.sigma 0.3
refused mlp_cd train train.chains 32
refused mlp_short_run_cd train train.buffer_size 512
refused mlp_cd train train.temper_count 6
refused mlp_cd train train.sigma_levels 4
refused rbm_cd train sampler.step_size 0.02
refused rbm_cd train train.reduction mpi
refused gaussian_mala sample sampler.steps_per_level 7

[ $fail = 0 ] && echo "all $n checks passed" || echo "FAILED"
exit $fail
