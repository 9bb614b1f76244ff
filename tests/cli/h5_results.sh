#!/usr/bin/env bash
# Results in the files (issue 24): each command's output, opened with h5py
# (tests/cli/h5_results.py), holds every figure of its JSON line in /summary with
# the same value (all but "output", the name it was published under), and every
# dataset carries non-empty `units` and `description` attributes and `axes`, one
# name per dimension. Runs on 2 ranks, so that /summary holds one set of figures.
# Usage: h5_results.sh ZETA MPIEXEC
set -u
zeta=$1
mpiexec=${2:-mpirun}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail=0
fashion=/usr/share/datasets/fashion-mnist

# The runs, one a line: NAME COMMAND ARGS..., the arguments writing the output
# NAME.h5 (later runs may read earlier outputs, e.g. free-energy temper_ising.h5).
# Short runs that between them write every dataset of every command.
q="--run.progress_every=0"
runs=$(cat << EOF_RUNS
sample_double_well sample $here/../../input/double_well.ini --run.steps=200 --run.burn_in=40 --sampler.chains=8 --output.landscape_n=16 --output.file=sample_double_well.h5 $q
sample_ising sample --model.type=ising --model.L=8 --sampler.type=metropolis --sampler.chains=4 --run.steps=100 --run.burn_in=20 --run.save_every=20 --output.file=sample_ising.h5 $q
temper_ising temper $here/../../input/temper_ising.ini --model.L=8 --temper.count=6 --run.steps=400 --run.burn_in=100 --run.save_every=10 --checkpoint.file=temper_ising.ckpt --checkpoint.every_steps=200 --output.file=temper_ising.h5 $q
free_energy free-energy temper_ising.h5 --output.file=free_energy.h5
temper_mixture temper $here/../../input/temper_mixture.ini --temper.count=4 --temper.copies=2 --run.steps=300 --run.burn_in=100 --run.save_every=20 --output.file=temper_mixture.h5 $q
ais_ising ais $here/../../input/ais_ising.ini --model.L=8 --ais.steps=50 --ais.chains=16 --ais.reverse=true --ais.reverse_burn_in=10 --output.file=ais_ising.h5 $q
ais_smc ais --model.type=ising --model.L=4 --ais.method=smc --ais.chains=16 --ais.replicates=2 --output.file=ais_smc.h5 $q
train_rbm train --model.type=rbm --model.hidden=8 --data.path=$fashion/t10k-images-idx3-ubyte.gz --data.heldout_path=$fashion/t10k-images-idx3-ubyte.gz --data.limit=200 --data.binarize=threshold --data.partitions=2 --train.objective=pcd --train.batch=20 --train.chains=20 --run.steps=20 --train.eval_every=5 --train.ais_every=10 --train.ais_steps=20 --train.ais_chains=8 --output.file=train_rbm.h5 $q
sample_rbm sample --model.type=rbm --model.params=train_rbm.h5 --sampler.chains=4 --run.steps=40 --run.burn_in=10 --run.save_every=10 --output.file=sample_rbm.h5 $q
ais_rbm ais --model.type=rbm --model.params=train_rbm.h5 --ais.exact=true --ais.steps=20 --ais.chains=8 --output.file=ais_rbm.h5 $q
train_dsm train --model.type=mlp --model.layers=2,16,1 --data.type=synthetic --data.examples=400 --data.heldout_examples=100 --data.partitions=2 --train.objective=dsm --train.sigma=0.1 --train.batch=20 --run.steps=20 --train.eval_every=10 --train.grid_points=20 --output.file=train_dsm.h5 $q
train_pcd_mlp train --model.type=mlp --model.layers=2,16,1 --data.type=synthetic --data.examples=400 --data.heldout_examples=100 --data.partitions=2 --train.objective=pcd --train.batch=20 --train.buffer_size=100 --train.k=5 --run.steps=20 --train.eval_every=10 --sampler.type=langevin --sampler.step_size=0.01 --output.file=train_pcd_mlp.h5 $q
train_short_run train --model.type=mlp --model.layers=2,16,1 --data.type=synthetic --data.examples=400 --data.heldout_examples=100 --data.partitions=2 --train.batch=20 --run.steps=20 --train.eval_every=10 --train.grid_points=20 --train.objective=short_run_cd --train.k=5 --sampler.step_size=0.01 --sampler.clamp=-3,3 --output.file=train_short_run.h5 $q
train_nce train --model.type=mlp --model.layers=2,16,1 --data.type=synthetic --data.examples=400 --data.heldout_examples=100 --data.partitions=2 --train.batch=20 --run.steps=20 --train.eval_every=10 --train.grid_points=20 --train.objective=nce --output.file=train_nce.h5 $q
train_nce_uniform train --model.type=mlp --model.layers=2,16,1 --data.type=synthetic --data.examples=400 --data.heldout_examples=100 --data.partitions=2 --train.batch=20 --run.steps=20 --train.eval_every=10 --train.grid_points=20 --train.objective=nce --train.nce_noise=uniform --output.file=train_nce_uniform.h5 $q
train_ssm train --model.type=mlp --model.layers=2,16,1 --data.type=synthetic --data.examples=400 --data.heldout_examples=100 --data.partitions=2 --train.batch=20 --run.steps=20 --train.eval_every=10 --train.grid_points=20 --train.objective=ssm_vr --output.file=train_ssm.h5 $q
train_net train $here/../../input/train_pcd_energynet_fashion.ini --data.path=$fashion/t10k-images-idx3-ubyte.gz --data.limit=256 --train.batch=16 --train.buffer_size=128 --train.k=2 --run.steps=4 --train.eval_every=2 --checkpoint.file= --checkpoint.every_steps=0 --output.file=train_net.h5 $q
EOF_RUNS
)

while read -r name cmd args; do
  [ -n "$name" ] || continue
  # shellcheck disable=SC2086  # ARGS are words
  if ! timeout 120 "$mpiexec" -np 2 --oversubscribe "$zeta" "$cmd" $args < /dev/null > "$name.json" 2> "$name.err"; then
    echo "FAIL $name: zeta $cmd exited with an error"
    tail -n 5 "$name.err"
    fail=1
    continue
  fi
  "$python" "$here/h5_results.py" "$name" "$name.json" "$name.h5" || fail=1
done <<< "$runs"
[ $fail = 0 ] && echo "every output holds its JSON figures in /summary and describes every dataset"
exit $fail
