#!/usr/bin/env bash
# `zeta temper` stopped by SIGTERM mid-run, then restarted from its checkpoint
# (on a different number of ranks), ends byte for byte where a straight run
# ends: the same JSON figures (all but timings) and the same HDF5 datasets.
# Usage: temper_signal.sh ZETA MPIEXEC
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
source "$here/signal_restart.sh"
signal_restart temper "wall_s|sweeps_per_s|exchange_fraction|sync_wait_fraction" \
  "/temper/energy /temper/replica /temper/magnetization /temper/betas /temper/round_trips /temper/flow"
progress_after_restart temper 150000
exit $fail
