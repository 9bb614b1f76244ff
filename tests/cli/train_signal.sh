#!/usr/bin/env bash
# `zeta train` stopped by SIGTERM mid-run, then restarted from its checkpoint on
# a different number of ranks (train.deterministic), ends byte for byte where a
# straight run ends: the same JSON figures (all but timings) and the same
# parameters, PCD chains, optimizer state and monitor series.
# Usage: train_signal.sh ZETA MPIEXEC
set -u
zeta=$1
mpiexec=${2:-mpirun}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
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
source "$here/signal_restart.sh"
signal_restart train "wall_s|updates_per_s|examples_per_s|allreduce_fraction|allreduce_fraction_min" \
  "/model/rbm/W /model/rbm/b /model/rbm/c /train/step /train/recon_error /train/pseudo_loglik /train/grad_norm" \
  "/train/chains /optimizer/m /optimizer/v /optimizer/steps /run/step"

# The restarted job's progress lines count from its checkpoint's step to run.steps.
progress_after_restart train 3000
# The monitors end at run.steps (eval_every 100 gives 0 .. 2900, then 3000), the steps as integers.
steps=$(h5dump -d /train/step -y -w 0 resumed.h5 2> /dev/null | sed -n '/DATA {/,/}/p' | grep -o '[0-9]\+' | tail -n 1)
[ "$steps" = 3000 ] || { echo "FAIL /train/step ends at ${steps:-nothing}, not run.steps = 3000"; fail=1; }
h5dump -H -d /train/step resumed.h5 | grep -q 'H5T_STD_I64LE' || { echo "FAIL /train/step is not int64"; fail=1; }
exit $fail
