#!/usr/bin/env bash
# Runs that must stop with one clear error (issue 25, items 9, 11, 12, 13, 15): chains
# that diverge, chains that cannot fit in memory, a broken ladder in a temper output,
# data values beyond what zeta takes, a directory or missing file as the INI, binary
# bytes in a CSV. Under 2 MPI ranks every rank exits non-zero, no hang, exactly one
# "zeta: error:" line naming the key or file, an existing output untouched.
# Usage: error_cases.sh ZETA MPIEXEC
set -u
zeta=$1
mpiexec=${2:-mpirun}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail=0

source "$here/expect_error.sh"

# --- Item 9: chains that diverge stop with an error naming sampler.step_size.
# An MLP far from its data grows linearly: step 1e300 sends the states to ~1e302 (finite),
# and <E> to -1e301; a double well at Langevin step 1 overflows x^4 within 6 steps (NaN).
cat > mlp.ini <<'INI'
[run]
steps = 200
burn_in = 10
save_every = 10
[model]
type = mlp
layers = 2,16,1
[sampler]
type = langevin
chains = 8
step_size = 1e300
[output]
file = out.h5
INI
cat > dw.ini <<'INI'
[run]
steps = 200
burn_in = 10
save_every = 10
[model]
type = double_well
[sampler]
type = langevin
chains = 8
step_size = 1
[output]
file = out.h5
INI
expect_error sample_mlp_diverges       'sampler.step_size: the chains diverged' sample mlp.ini
expect_error sample_double_well_nan    'sampler.step_size: the chains diverged' sample dw.ini
expect_error temper_double_well_nan    'sampler.step_size: the chains diverged' temper dw.ini --temper.count=4
expect_error temper_mlp_diverges       'sampler.step_size: the chains diverged' temper mlp.ini --temper.count=4
sed '1,4d' dw.ini > dw_ais.ini   # ais takes no [run] steps
sed '1,4d' mlp.ini > mlp_ais.ini
expect_error ais_double_well_nan       'sampler.step_size: the chains diverged' ais dw_ais.ini --ais.steps=50 --ais.chains=8
expect_error ais_mlp_diverges          'sampler.step_size: the chains diverged' ais mlp_ais.ini --ais.steps=50 --ais.chains=8
expect_error smc_double_well_nan       'sampler.step_size: the chains diverged' ais dw_ais.ini --ais.method=smc --ais.chains=8
# The same MLP at a sound step still runs (the check refuses no valid run).
timeout 120 "$mpiexec" -np 2 --oversubscribe "$zeta" sample mlp.ini --sampler.step_size=0.01 --output.file=ok.h5 \
  > ok.json 2> ok.err && grep -q '"status": "ok"' ok.json || { echo "FAIL sound MLP run"; cat ok.err; fail=1; }
# A temper checkpoint never holds a diverged state: with a checkpoint every step, the
# one left is the last sound step's, and all its states are finite.
timeout 120 "$mpiexec" -np 2 --oversubscribe "$zeta" temper dw.ini --temper.count=4 --output.file=dw.h5 \
  --checkpoint.file=dw.ckpt --checkpoint.every_steps=1 > /dev/null 2> dw.err
grep -q 'sampler.step_size: the chains diverged' dw.err || { echo "FAIL temper divergence with checkpoints"; cat dw.err; fail=1; }
/usr/bin/python3 - <<'PY' || fail=1
import h5py, numpy as np
with h5py.File("dw.ckpt", "r") as f:
    s, step = f["/replicas/state"][...], int(f["/run/step"][0])
    assert step >= 1 and np.isfinite(s).all() and np.abs(s).max() < 1.35e154, (step, s)
print(f"ok   temper_checkpoint_sound: checkpoint at step {step}, |x| <= {np.abs(s).max():.3g}")
PY
[ -e dw.h5 ] && { echo "FAIL temper divergence left an output"; fail=1; }

# --- Item 11: chains that cannot fit are refused up front, naming the key; an
# allocation that fails anyway is one "out of memory" line, every rank exiting 1.
expect_error sample_chains_too_many    'sampler.chains'   sample dw.ini --sampler.chains=1000000000000 --sampler.step_size=0.01
expect_error ais_chains_too_many       'ais.chains'       ais dw_ais.ini --ais.chains=1000000000000 --sampler.step_size=0.01
expect_error temper_copies_too_many    'temper.copies'    temper dw.ini --temper.copies=100000000 --sampler.step_size=0.01
# 4e7 chains fit in physical memory but not in a 2.5 GB address space per rank.
wrap='ulimit -v 2500000;'
expect_error sample_out_of_memory      'out of memory'    sample dw.ini --sampler.chains=40000000 --sampler.step_size=0.01 --run.steps=20
wrap=

# --- Item 12: a temper output whose ladder is broken names the file and /temper/betas.
printf '[run]\nsteps = 60\nburn_in = 10\nsave_every = 2\n[model]\ntype = ising\nL = 4\n[sampler]\ntype = heatbath\n[temper]\ncount = 4\n[output]\nfile = out.h5\n' > ising.ini
timeout 120 "$mpiexec" -np 1 "$zeta" temper ising.ini --output.file=fe_good.h5 > /dev/null 2>&1 || { echo "FAIL temper for free-energy"; fail=1; }
/usr/bin/python3 - <<'PY'
import h5py, numpy as np, shutil
for name, k, v in [("fe_nan_beta.h5", 1, np.nan), ("fe_dec_beta.h5", 2, 0.01), ("fe_neg_beta.h5", 0, -1.0)]:
    shutil.copy("fe_good.h5", name)
    with h5py.File(name, "r+") as f:
        b = f["/temper/betas"][...]; b[k] = v; f["/temper/betas"][...] = b
PY
expect_error fe_nan_beta        "/temper/betas in 'fe_nan_beta.h5'.*betas\[1\] = nan"   free-energy fe_nan_beta.h5
expect_error fe_decreasing_beta "/temper/betas in 'fe_dec_beta.h5'.*betas\[2\] = 0.01"  free-energy fe_dec_beta.h5
expect_error fe_negative_beta   "/temper/betas in 'fe_neg_beta.h5'.*betas\[0\] = -1"    free-energy fe_neg_beta.h5

# --- Item 13: data values beyond the bound name the file, line, field and value.
printf '1,0,1\n0,1,1\n1,1e200,0\n0,0,1\n1,0,0\n0,1,0\n1,1,1\n0,0,0\n' > huge.csv
cat > train.ini <<'INI'
[run]
steps = 4
[model]
type = rbm
hidden = 2
[data]
type = csv
path = huge.csv
partitions = 2
[train]
batch = 4
chains = 4
[output]
file = out.h5
INI
expect_error train_huge_csv     "'huge.csv' line 3: field 2 (1e+200) is beyond"  train train.ini
/usr/bin/python3 -c "
import h5py, numpy as np
x = np.zeros((8, 3)); x[5, 1] = -3e150
with h5py.File('huge.h5', 'w') as f: f['x'] = x"
expect_error train_huge_hdf5    "'huge.h5': example 5 value 1 (-3e+150) is beyond" train train.ini --data.type=hdf5 --data.path=huge.h5 --data.dataset=x
# Binary bytes in a CSV are escaped and the echoed field is capped.
printf '1,0,1\n0,\001\002\377abc,1\n' > binary.csv
expect_error train_binary_csv   "field 2 ('\\\\x01\\\\x02\\\\xffabc')"         train train.ini --data.path=binary.csv
if grep -q "$(printf '\001')" err.0 err.1; then echo "FAIL raw control bytes echoed"; fail=1; fi
{ echo 1,2; head -c 300 /dev/zero | tr '\0' 'z'; echo; } > long.csv
expect_error train_long_field   "line 2: field 1 ('zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz... (300 bytes)')" train train.ini --data.path=long.csv

# --- Item 15: a directory, or a missing file, as the INI.
mkdir -p conf.d
expect_error ini_directory      "configuration file 'conf.d' is a directory"        sample conf.d
expect_error ini_missing        "configuration file 'nowhere.ini': No such file"   sample nowhere.ini

exit $fail
