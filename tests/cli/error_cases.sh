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

# --- Issue 23: free-energy inputs of any reduced potentials (u_kn, energies): bad
# files name the dataset and write nothing (out.h5 is output.file, kept untouched).
/usr/bin/python3 - <<'PY'
import h5py, numpy as np
rng = np.random.default_rng(3)
kappa = np.array([1.0, 1.6, 2.5, 4.0]); N_k = np.array([200, 150, 250, 100])
x = np.concatenate([rng.normal(0, k ** -0.5, n) for k, n in zip(kappa, N_k)])
u = 0.5 * np.outer(kappa, x * x)
def write(name, **arrays):
    with h5py.File(name, "w") as f:
        for k, v in arrays.items(): f[k] = v
np.savez("osc.npz", u_kn=u, N_k=N_k, x=x)
write("osc_ukn.h5", u_kn=u, N_k=N_k, **{"observables/x": x})
bad = u.copy(); bad[2, 37] = np.nan
write("fe_ukn_nan.h5", u_kn=bad, N_k=N_k)
write("fe_nk_sum.h5", u_kn=u, N_k=N_k - np.array([0, 1, 0, 0]))
write("fe_nk_shape.h5", u_kn=u, N_k=N_k[:3])
write("fe_ukn_1d.h5", u_kn=u[0], N_k=N_k)
write("fe_obs_length.h5", u_kn=u, N_k=N_k, **{"observables/x": x[:-1]})
write("fe_obs_nan.h5", u_kn=u, N_k=N_k, **{"observables/x": np.where(np.arange(x.size) == 500, np.inf, x)})
write("fe_en_beta.h5", energy=0.5 * x * x, beta=np.array([1.0, np.nan, 2.5, 4.0]), N_k=N_k)
write("fe_en_nk.h5", energy=0.5 * x * x, beta=kappa, N_k=np.array([200.5, 150, 250, 99.5]))
# A fifth state without samples, far stiffer than any sampled one: its weight sits on one sample.
lonely = np.vstack([u, 0.5 * 1e8 * x * x])
write("fe_lonely.h5", u_kn=lonely, N_k=np.append(N_k, 0))
weak = np.array([1.0, 12.0, 144.0, 1728.0])
xw = np.concatenate([rng.normal(0, k ** -0.5, 300) for k in weak])
write("fe_weak.h5", u_kn=0.5 * np.outer(weak, xw * xw), N_k=np.full(4, 300))
write("fe_other.h5", something=np.zeros(3))
# Two pairs of states, each pair overlapping well, the pairs hardly at all.
split = np.array([1.0, 1.5, 1e4, 1.5e4])
xs = np.concatenate([rng.normal(0, k ** -0.5, 300) for k in split])
write("fe_split.h5", u_kn=0.5 * np.outer(split, xs * xs), N_k=np.full(4, 300))
# pymbar's older u_kln [K, K, N_max] (padded past N_k) and extended ensembles (/couplings).
starts = np.concatenate([[0], np.cumsum(N_k)])
kln = np.zeros((4, 4, 250))
for k in range(4): kln[k, :, :N_k[k]] = u[:, starts[k]:starts[k + 1]]
write("fe_kln_nk.h5", u_kln=kln, N_k=np.array([200, 260, 250, 100]))
write("fe_kln_shape.h5", u_kln=kln[:, :3, :], N_k=N_k)
bad = kln.copy(); bad[2, 1, 5] = np.nan
write("fe_kln_nan.h5", u_kln=bad, N_k=N_k)
write("fe_cpl_obs.h5", energy=0.5 * x * x, beta=kappa, N_k=N_k, **{"couplings/M": np.zeros(4)})
write("fe_cpl_len.h5", energy=0.5 * x * x, beta=kappa, N_k=N_k, **{"observables/x": x, "couplings/x": np.zeros(3)})
write("fe_cpl_ukn.h5", u_kn=u, N_k=N_k, **{"observables/x": x, "couplings/x": np.zeros(4)})
np.savez("osc_kln.npz", u_kln=kln, N_k=N_k, x=x)
np.save("osc_e.npy", 0.5 * x * x); np.save("osc_beta.npy", kappa); np.save("osc_nk.npy", N_k); np.save("osc_x.npy", x)
np.save("osc_p.npy", np.array([0, 0.1, -0.1, 0.2]))
write("fe_cpl.h5", energy=0.5 * x * x, beta=kappa, N_k=N_k, **{"observables/x": x, "couplings/x": np.array([0, 0.1, -0.1, 0.2])})
write("fe_en.h5", energy=0.5 * x * x, beta=kappa, N_k=N_k)
PY
o=--output.file=out.h5
expect_error fe_ukn_nan      "/u_kn in 'fe_ukn_nan.h5': element \[2, 37\] is nan"          free-energy fe_ukn_nan.h5 $o
expect_error fe_nk_sum       "/N_k in 'fe_nk_sum.h5' sums to 699, but /u_kn has N = 700"  free-energy fe_nk_sum.h5 $o
expect_error fe_nk_shape     "/N_k in 'fe_nk_shape.h5' has shape \[3\]; expected \[4\]"    free-energy fe_nk_shape.h5 $o
expect_error fe_ukn_shape    "/u_kn in 'fe_ukn_1d.h5' has shape \[700\]; expected \[K, N\]" free-energy fe_ukn_1d.h5 $o
expect_error fe_obs_length   "/observables/x in 'fe_obs_length.h5' has shape \[699\]; expected \[700\]" free-energy fe_obs_length.h5 $o
expect_error fe_obs_nan      "/observables/x in 'fe_obs_nan.h5': element \[500\] is inf"   free-energy fe_obs_nan.h5 $o
expect_error fe_en_beta      "/beta in 'fe_en_beta.h5': beta\[1\] is not finite"          free-energy fe_en_beta.h5 $o
expect_error fe_en_nk        "/N_k in 'fe_en_nk.h5': N_k\[0\] is not a count"             free-energy fe_en_nk.h5 $o
expect_error fe_no_overlap   "'fe_lonely.h5' (/u_kn): state(s) 4 (N_eff = 1) without samples"      free-energy fe_lonely.h5 $o
expect_error fe_unconverged  "did not converge.*free_energy.max_iterations"               free-energy fe_weak.h5 $o --free_energy.max_iterations=1
expect_error fe_wrong_format "/energy"                                                    free-energy fe_weak.h5 $o --free_energy.format=energies
expect_error fe_targets_ukn   "free_energy.target_betas: needs states given by beta"        free-energy fe_weak.h5 $o --free_energy.target_betas=2
expect_error fe_pmf_unknown   "free_energy.pmf: no observable 'volume' in the input (it has: x)" free-energy osc_ukn.h5 $o --free_energy.pmf=volume
expect_error fe_equil_temper  "free_energy.equilibrate: is for u_kn and energies inputs"      free-energy fe_good.h5 $o --free_energy.equilibrate=true
expect_error fe_kln_nk        "/N_k in 'fe_kln_nk.h5': N_k\[1\] = 260 exceeds the 250 samples per state of /u_kln" free-energy fe_kln_nk.h5 $o
expect_error fe_kln_shape     "/u_kln in 'fe_kln_shape.h5' has shape \[4, 3, 250\]; expected \[K, K, N_max\]" free-energy fe_kln_shape.h5 $o
expect_error fe_kln_nan       "/u_kln in 'fe_kln_nan.h5': element \[2, 1, 5\] is nan"        free-energy fe_kln_nan.h5 $o
expect_error fe_cpl_obs       "/couplings/M in 'fe_cpl_obs.h5' couples to an observable /observables/M, which the file lacks" free-energy fe_cpl_obs.h5 $o
expect_error fe_cpl_len       "/couplings/x in 'fe_cpl_len.h5' has shape \[3\]; expected \[4\]" free-energy fe_cpl_len.h5 $o
expect_error fe_cpl_ukn       "/couplings in 'fe_cpl_ukn.h5': couplings need the energies form" free-energy fe_cpl_ukn.h5 $o
expect_error fe_cpl_targets   "free_energy.target_fields: needs the targets' couplings: 1 list(s)" free-energy fe_cpl.h5 $o --free_energy.target_betas=2
expect_error fe_cpl_tfields  "free_energy.target_fields: list 1 (x) has 2 values; expected 1" free-energy fe_cpl.h5 $o --free_energy.target_betas=2 --free_energy.target_fields=0.1,0.2
expect_error fe_tfields_nocpl "free_energy.target_fields: applies to inputs with /couplings" free-energy fe_en.h5 $o --free_energy.target_betas=2 --free_energy.target_fields=0.1
expect_error fe_not_input    "'fe_other.h5' holds no free-energy input"                   free-energy fe_other.h5 $o
# The same files that do work: the converter's output, and an unconverged estimate when asked for.
rm -f osc.h5 fe_ok.h5 fe_unconv.h5
/usr/bin/python3 "$here/../../analysis/pymbar_to_zeta.py" osc.h5 --npz osc.npz > /dev/null || { echo "FAIL pymbar_to_zeta.py"; fail=1; }
timeout 120 "$mpiexec" -np 2 --oversubscribe "$zeta" free-energy osc.h5 --output.file=fe_ok.h5 --free_energy.pmf=x --free_energy.pmf_bins=8 > ok.json 2> ok.err ||
  { echo "FAIL free-energy on the converted file"; cat ok.err; fail=1; }
/usr/bin/python3 "$here/../../analysis/plot_free_energy.py" fe_ok.h5 -o plot > /dev/null &&
  [ -s plot_overlap.png ] && [ -s plot_f.png ] && [ -s plot_expectations.png ] && [ -s plot_pmf.png ] ||
  { echo "FAIL plot_free_energy.py on fe_ok.h5"; fail=1; }
# pymbar's u_kln through the converter gives the u_kn file's figures; an extended ensemble too.
rm -f osc_kln.h5 osc_cpl.h5
/usr/bin/python3 "$here/../../analysis/pymbar_to_zeta.py" osc_kln.h5 --npz osc_kln.npz > /dev/null &&
  /usr/bin/python3 "$here/../../analysis/pymbar_to_zeta.py" osc_cpl.h5 --energy osc_e.npy --beta osc_beta.npy \
    --n-k osc_nk.npy --observable x=osc_x.npy --coupling x=osc_p.npy > /dev/null || { echo "FAIL pymbar_to_zeta.py u_kln / --coupling"; fail=1; }
timeout 120 "$mpiexec" -np 2 --oversubscribe "$zeta" free-energy osc_kln.h5 --output.file=fe_kln_ok.h5 --free_energy.pmf=x \
  --free_energy.pmf_bins=8 > /dev/null 2> kln.err || { echo "FAIL free-energy on the converted u_kln"; cat kln.err; fail=1; }
timeout 120 "$mpiexec" -np 2 --oversubscribe "$zeta" free-energy osc_cpl.h5 --output.file=fe_cpl_ok.h5 > /dev/null 2> cpl.err ||
  { echo "FAIL free-energy on the converted extended ensemble"; cat cpl.err; fail=1; }
timeout 120 "$mpiexec" -np 2 --oversubscribe "$zeta" free-energy fe_cpl.h5 --output.file=fe_cpl_ref.h5 > /dev/null 2> cpl.err ||
  { echo "FAIL free-energy on an extended ensemble"; cat cpl.err; fail=1; }
/usr/bin/python3 - <<'PY' || { echo "FAIL u_kln or extended files differ from their references"; fail=1; }
import h5py, numpy as np, sys
with h5py.File("fe_ok.h5") as a, h5py.File("fe_kln_ok.h5") as b:
    for d in ("f_k", "dDelta_f", "overlap", "pmf/f", "expectations/x/mu"):
        if not np.array_equal(a["free_energy/" + d][...], b["free_energy/" + d][...]): sys.exit(f"u_kln: {d} differs")
with h5py.File("fe_cpl_ok.h5") as a, h5py.File("fe_cpl_ref.h5") as b:
    if not np.array_equal(a["free_energy/f_k"][...], b["free_energy/f_k"][...]): sys.exit("couplings: f_k differs")
    if not np.array_equal(a["free_energy/couplings/x"][...], [0, 0.1, -0.1, 0.2]): sys.exit("couplings/x not written")
PY
timeout 120 "$mpiexec" -np 2 --oversubscribe "$zeta" free-energy fe_weak.h5 --output.file=fe_unconv.h5 \
  --free_energy.max_iterations=1 --free_energy.allow_unconverged=true > unconv.json 2> unconv.err ||
  { echo "FAIL free-energy with free_energy.allow_unconverged = true"; cat unconv.err; fail=1; }
# A temper output reweighted to betas between its levels (and one below the ladder).
timeout 120 "$mpiexec" -np 2 --oversubscribe "$zeta" free-energy fe_good.h5 --output.file= \
  --free_energy.target_betas=0.35,0.05 > target.json 2> target.err || { echo "FAIL free-energy target_betas"; cat target.err; fail=1; }
grep -q '"log_z_target": \[[0-9.e+-]*, [0-9.e+-]*\]' target.json || { echo "FAIL no log_z_target:"; cat target.json; fail=1; }
grep -q '^zeta: warning: MBAR stopped after 1 steps' unconv.err || { echo "FAIL no warning for an unconverged estimate"; fail=1; }
if grep -q 'warning: poor overlap' ok.err; then echo "FAIL poor-overlap warning on well overlapping states"; fail=1; fi
timeout 120 "$mpiexec" -np 2 --oversubscribe "$zeta" free-energy fe_split.h5 --output.file= > /dev/null 2> split.err ||
  { echo "FAIL free-energy on two weakly overlapping groups"; cat split.err; fail=1; }
grep -q '^zeta: warning: poor overlap between states {2, 3} and states {0, 1}: the largest overlap between the two groups is 0.0' split.err ||
  { echo "FAIL no poor-overlap warning naming the groups:"; cat split.err; fail=1; }
/usr/bin/python3 - <<'PY' || fail=1
import h5py, json, sys
ok = True
for name, converged in (("fe_ok.h5", True), ("fe_unconv.h5", False)):
    with h5py.File(name, "r") as f:
        s = f["summary"].attrs
        if bool(s["converged"]) != converged or s["command"] != "free-energy" or f.attrs["input"] == "":
            print(f"FAIL {name}: /summary converged {s['converged']}, command {s['command']}"); ok = False
        for ds in ("f_k", "Delta_f", "dDelta_f", "overlap", "effective_samples"):
            d = f["free_energy"][ds]
            if "units" not in d.attrs or "description" not in d.attrs or "axes" not in d.attrs:
                print(f"FAIL {name}: /free_energy/{ds} has no units, description or axes"); ok = False
j = json.loads(open("ok.json").read())
with h5py.File("fe_ok.h5", "r") as f:
    if list(f["free_energy/expectations/x/mu"][...]) != j["expectation_x"]:
        print("FAIL fe_ok.h5: expectations differ from the JSON"); ok = False
print("ok   free-energy outputs: /summary, described datasets, converged flag" if ok else "FAIL free-energy outputs")
sys.exit(0 if ok else 1)
PY

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
