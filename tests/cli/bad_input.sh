#!/usr/bin/env bash
# Bad input to `zeta sample` under 2 MPI ranks: every rank exits non-zero, no
# hang, exactly one "zeta: error:" line naming the key or file, and an existing
# output file is left untouched (no backup, no partial file).
# Usage: bad_input.sh ZETA MPIEXEC
set -u
zeta=$1
mpiexec=${2:-mpirun}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail=0

cat > good.ini <<'INI'
[run]
steps = 20
burn_in = 5
save_every = 5
[model]
type = gaussian
dim = 2
[sampler]
type = mala
chains = 8
step_size = 0.1
[output]
file = out.h5
INI

source "$here/expect_error.sh"

expect_error unknown_key        'sampler.stepsize'  sample good.ini --sampler.stepsize=0.1
expect_error wrong_type         'sampler.chains'    sample good.ini --sampler.chains=ten
expect_error negative_step      'sampler.step_size' sample good.ini --sampler.step_size=-1
expect_error missing_config     'nowhere.ini'       sample nowhere.ini
expect_error missing_params     'missing.h5'        sample good.ini --model.type=mlp --model.layers=2,4,1 --model.params=missing.h5
printf 'not hdf5' > corrupt.h5
expect_error corrupt_params     'corrupt.h5'        sample good.ini --model.type=mlp --model.layers=2,4,1 --model.params=corrupt.h5
expect_error unknown_command    'frobnicate'        frobnicate good.ini
printf '[sampler]\nchains = 8\nbogus = 1\n' > unknown.ini
expect_error unknown_key_in_ini 'sampler.bogus'     sample unknown.ini

# zeta temper: bad ladders, and checkpoints that are corrupt, missing or of another run.
cat > temper.ini <<'INI'
[run]
steps = 40
burn_in = 10
save_every = 10
[model]
type = ising
L = 8
[sampler]
type = heatbath
[temper]
beta_min = 0.2
beta_max = 0.6
count = 4
[output]
file = out.h5
INI
expect_error temper_not_increasing 'temper.betas'          temper temper.ini --temper.betas=0.2,0.5,0.4
expect_error temper_one_level      'temper.count'          temper temper.ini --temper.count=1
expect_error temper_exchange_zero  'temper.exchange_every' temper temper.ini --temper.exchange_every=0
expect_error temper_wrong_sampler  'sampler.type'          temper temper.ini --sampler.type=mala
expect_error temper_clusters_sw    'sampler.clusters'      temper temper.ini --sampler.type=swendsen_wang --sampler.clusters=4
expect_error temper_clusters_zero  'sampler.clusters'      temper temper.ini --sampler.type=wolff --sampler.clusters=0
expect_error temper_missing_ckpt   'none.ckpt'             temper temper.ini --checkpoint.file=none.ckpt --checkpoint.restart=true
printf 'not hdf5' > corrupt.ckpt
expect_error temper_corrupt_ckpt   'corrupt.ckpt'          temper temper.ini --checkpoint.file=corrupt.ckpt --checkpoint.restart=true
[ "$(cat corrupt.ckpt)" = 'not hdf5' ] || { echo "FAIL corrupt checkpoint was touched"; fail=1; }
timeout 120 "$mpiexec" -np 2 --oversubscribe "$zeta" temper temper.ini --output.file=other.h5 --checkpoint.file=good.ckpt \
  > /dev/null 2> ckpt.err || { echo "FAIL writing a checkpoint"; cat ckpt.err; fail=1; }
cp good.ckpt good.copy
expect_error temper_other_model    'model.L'               temper temper.ini --model.L=16 --checkpoint.file=good.ckpt --checkpoint.restart=true --run.steps=80
expect_error temper_other_ladder   'temper.beta_max'       temper temper.ini --temper.beta_max=0.7 --checkpoint.file=good.ckpt --checkpoint.restart=true --run.steps=80
# A checkpoint beyond run.steps is refused (one at run.steps finishes again: cli_kill_loop).
expect_error temper_beyond_steps  'run.steps'             temper temper.ini --checkpoint.file=good.ckpt --checkpoint.restart=true --run.steps=30
# A truncated checkpoint (killed mid-copy) is refused whole.
head -c 3000 good.ckpt > truncated.ckpt
expect_error temper_truncated_ckpt 'truncated.ckpt'        temper temper.ini --checkpoint.file=truncated.ckpt --checkpoint.restart=true --run.steps=80
cmp -s good.ckpt good.copy || { echo "FAIL refused checkpoint was modified"; fail=1; }

# zeta ais: a schedule that does not end at the target.
printf '[model]\ntype = ising\nL = 4\n[sampler]\ntype = heatbath\n[ais]\nchains = 8\n[output]\nfile = out.h5\n' > ais.ini
expect_error ais_schedule_end      'ais.betas'             ais ais.ini --ais.schedule=list --ais.betas=0.1,0.2 --ais.beta=0.4
expect_error ais_one_chain         'ais.chains'            ais ais.ini --ais.chains=1
expect_error ais_rbm_no_params     'model.params'          ais ais.ini --model.type=rbm --sampler.type=gibbs
# zeta ais --ais.method=smc (issue 28): target ESS, resampling threshold, replicate error, AIS-only keys.
expect_error smc_target_ess_one    'ais.target_ess'        ais ais.ini --ais.method=smc --ais.target_ess=1
expect_error smc_target_ess_zero   'ais.target_ess'        ais ais.ini --ais.method=smc --ais.target_ess=0
expect_error smc_resample_zero     'ais.resample_threshold' ais ais.ini --ais.method=smc --ais.resample_threshold=0
expect_error smc_resample_above    'ais.resample_threshold' ais ais.ini --ais.method=smc --ais.resample_threshold=1.01
expect_error smc_replicate_error   'ais.replicates'        ais ais.ini --ais.method=smc --ais.error=replicates --ais.replicates=1
expect_error smc_no_steps          'ais.steps'             ais ais.ini --ais.method=smc --ais.steps=100
expect_error smc_method            'ais.method'            ais ais.ini --ais.method=mcmc
expect_error smc_stalled           'ais.max_steps'         ais ais.ini --ais.method=smc --ais.max_steps=2
expect_error ais_rbm_missing_file  'none_rbm.h5'           ais ais.ini --model.type=rbm --sampler.type=gibbs --model.params=none_rbm.h5
expect_error ais_rbm_sampler       'sampler.type'          ais ais.ini --model.type=rbm --model.params=none_rbm.h5
expect_error ais_exact_not_rbm     'ais.exact'             ais ais.ini --ais.exact=true
# zeta sample / temper with an RBM: no parameters, a missing file, a sampler other than gibbs.
expect_error sample_rbm_no_params  'model.params'          sample good.ini --model.type=rbm --sampler.type=gibbs
expect_error sample_rbm_missing    'none_rbm.h5'           sample good.ini --model.type=rbm --sampler.type=gibbs --model.params=none_rbm.h5
expect_error sample_rbm_sampler    'sampler.type'          sample good.ini --model.type=rbm --model.params=none_rbm.h5
expect_error sample_gibbs_not_rbm  'sampler.type'          sample good.ini --sampler.type=gibbs
# Cluster moves (issue 28) apply to the Ising model only; sampler.clusters to wolff only.
expect_error sample_sw_continuous  'sampler.type'          sample good.ini --sampler.type=swendsen_wang
expect_error temper_wolff_continuous 'sampler.type'        temper good.ini --sampler.type=wolff
# sampler.cluster_from (the heat-bath/cluster hybrid): cluster moves only, >= 0, not in temper; hot_sweeps needs it.
expect_error cluster_from_heatbath 'sampler.cluster_from'  ais ais.ini --sampler.cluster_from=0.3
expect_error cluster_from_negative 'sampler.cluster_from'  ais ais.ini --sampler.type=swendsen_wang --sampler.cluster_from=-0.1
expect_error cluster_from_temper   'sampler.cluster_from'  temper temper.ini --sampler.type=swendsen_wang --sampler.cluster_from=0.3
expect_error hot_sweeps_no_window  'sampler.hot_sweeps'    ais ais.ini --sampler.type=swendsen_wang --sampler.hot_sweeps=3
expect_error hot_sweeps_zero       'sampler.hot_sweeps'    ais ais.ini --sampler.type=swendsen_wang --sampler.cluster_from=0.3 --sampler.hot_sweeps=0
expect_error smc_replicate_mean    'ais.replicate_mean'    ais ais.ini --ais.method=smc --ais.replicate_mean=median
expect_error sample_sw_rbm         'sampler.type'          sample good.ini --model.type=rbm --sampler.type=swendsen_wang --model.params=none_rbm.h5
expect_error temper_rbm_no_params  'model.params'          temper good.ini --model.type=rbm --sampler.type=gibbs
expect_error temper_rbm_missing    'none_rbm.h5'           temper good.ini --model.type=rbm --sampler.type=gibbs --model.params=none_rbm.h5
expect_error temper_rbm_sampler    'sampler.type'          temper good.ini --model.type=rbm --sampler.type=hmc --model.params=none_rbm.h5

# zeta free-energy: files that are not usable temper outputs.
timeout 120 "$mpiexec" -np 1 "$zeta" temper temper.ini --output.file=fe_good.h5 > /dev/null 2>&1 || { echo "FAIL temper for free-energy"; fail=1; }
/usr/bin/python3 - <<'PY'
import h5py, numpy as np, shutil
for name, edit in [("fe_one.h5", "one"), ("fe_shape.h5", "shape"), ("fe_nan.h5", "nan")]:
    shutil.copy("fe_good.h5", name)
    with h5py.File(name, "r+") as f:
        if edit == "one":
            del f["/temper/betas"]; f["/temper/betas"] = np.array([0.5])
        elif edit == "shape":
            del f["/temper/betas"]; f["/temper/betas"] = np.linspace(0.2, 0.6, 5)
        else:
            e = f["/temper/energy"][...]; e[1, 2] = np.nan; f["/temper/energy"][...] = e
PY
expect_error fe_one_temperature    'at least 2'            free-energy fe_one.h5
expect_error fe_mismatched_shapes  'does not match'        free-energy fe_shape.h5
expect_error fe_nan_energy         'NaN'                   free-energy fe_nan.h5
expect_error fe_missing_file       'none.h5'               free-energy none.h5
expect_error fe_not_temper         'corrupt.h5'            free-energy corrupt.h5
expect_error fe_bad_bootstrap      'free_energy.bootstrap' free-energy fe_good.h5 --free_energy.bootstrap=-3
expect_error fe_bad_tol            'free_energy.tol'    free-energy fe_good.h5 --free_energy.tol=0

# zeta train: bad data, parameters of the wrong shape, impossible batches and chains.
printf '1,0,1\n0,1,1\n1,1,0\n0,0,1\n1,0,0\n0,1,0\n1,1,1\n0,0,0\n' > train.csv
printf '1,0,1\n0,nan,1\n1,1,0\n0,0,1\n1,0,0\n0,1,0\n1,1,1\n0,0,0\n' > train_nan.csv
cat > train.ini <<'INI'
[run]
steps = 4
[model]
type = rbm
hidden = 2
[data]
type = csv
path = train.csv
partitions = 2
[train]
batch = 4
chains = 4
[output]
file = out.h5
INI
head -c 100 /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz > truncated.gz 2>/dev/null || printf 'x' > truncated.gz
expect_error train_missing_idx     'nowhere-idx3-ubyte.gz' train train.ini --data.type=idx --data.path=nowhere-idx3-ubyte.gz
expect_error train_truncated_idx   'truncated.gz'          train train.ini --data.type=idx --data.path=truncated.gz
expect_error train_nan_csv         'train_nan.csv'         train train.ini --data.path=train_nan.csv
expect_error train_batch_ranks     'train.batch'           train train.ini --train.batch=1 --data.partitions=1
expect_error train_batch_multiple  'train.batch'           train train.ini --train.batch=5
expect_error train_chains          'train.chains'          train train.ini --train.chains=5
expect_error train_deterministic   'train.deterministic'   train train.ini --data.partitions=3 --train.batch=3 --train.chains=3
# zeta train on an mlp: PCD negatives come from the replay buffer, not the RBM's
# train.chains (which train.ini sets); the buffer keys are the mlp's; DSM takes noise
# scales > 0 and a smooth activation.
expect_error train_mlp_chains      'train.chains'          train train.ini --model.type=mlp --model.layers=3,8,1 --train.objective=pcd
expect_error train_rbm_buffer      'train.buffer_size'     train train.ini --train.buffer_size=10
expect_error train_dsm_sigma       'train.sigma'           train train.ini --model.type=mlp --model.layers=3,8,1 --train.objective=dsm --train.sigma=0.1,-1
expect_error train_dsm_leaky_relu  'model.activation'      train train.ini --model.type=mlp --model.layers=3,8,1 --train.objective=dsm --model.activation=leaky_relu
# The objectives of issue 22: NCE's uniform noise must cover the data (found after
# the data are read, on every rank alike), SSM needs a smooth activation, and
# short-run CD keeps no buffer.
cat > train_mlp.ini <<'INI'
[run]
steps = 4
[model]
type = mlp
layers = 3,8,1
[data]
type = csv
path = train.csv
partitions = 2
[train]
batch = 4
[output]
file = out.h5
INI
expect_error train_nce_box         'train.nce_box'         train train_mlp.ini --train.objective=nce --train.nce_noise=uniform --train.nce_box=0.2,0.8
expect_error train_nce_ratio       'train.nce_ratio'       train train_mlp.ini --train.objective=nce --train.nce_ratio=0
expect_error train_ssm_leaky_relu  'model.activation'      train train_mlp.ini --train.objective=ssm --model.activation=leaky_relu
expect_error train_short_run_buffer 'train.buffer_size'    train train_mlp.ini --train.objective=short_run_cd --train.buffer_size=8
# A layer-stack energy (model.type = net): a layer that does not parse, shapes that do
# not chain, a kernel larger than its input, spectral norm on a layer without weights,
# DSM with a kinked activation (lrelu), an objective a net does not take yet: one error
# naming the key (and model.net's layer index).
expect_error net_bad_layer         'model.net: layer 1'    train train.ini --model.type=net --model.input=3 '--model.net=linear(4) relux linear(1)'
expect_error net_no_flatten        'model.net: layer 2'    sample good.ini --model.type=net --model.input=1,2,2 '--model.net=conv(2,1) relu linear(1)'
expect_error net_big_kernel        'model.net: layer 0'    sample good.ini --model.type=net --model.input=1,2,2 '--model.net=conv(2,3) flatten linear(1)'
expect_error net_sn_no_weights     'model.net: layer 1'    sample good.ini --model.type=net --model.input=4 '--model.net=linear(4) sn_relu linear(1)'
expect_error net_dsm_lrelu         'model.net: layer 1'    train train.ini --model.type=net --model.input=3 '--model.net=linear(4) lrelu(0.2) linear(1)' --train.objective=dsm
expect_error net_ssm               'train.objective'       train train.ini --model.type=net --model.input=3 '--model.net=linear(4) silu linear(1)' --train.objective=ssm
# JEM (train.objective = jem): labels required, one per example, each below K.
printf '1,0,0\n0,1,1\n1,1,2\n0,0,3\n1,0,0\n0,1,1\n1,1,2\n0,0,3\n' > train_lab.csv
jem=(--model.type=net --model.input=2 '--model.net=linear(4) silu linear(2)' --train.objective=jem)
fm=/usr/share/datasets/fashion-mnist
expect_error jem_no_labels         'data.labels'           train train_mlp.ini "${jem[@]}"
expect_error jem_label_ge_k        'data.labels: example'  train train_mlp.ini "${jem[@]}" --data.path=train_lab.csv --data.labels=2
expect_error jem_labels_missing    'nowhere-labels.gz'     train train_mlp.ini --model.type=net --model.input=784 '--model.net=linear(4) silu linear(10)' --train.objective=jem --data.type=idx --data.path=$fm/t10k-images-idx3-ubyte.gz --data.labels=nowhere-labels.gz
expect_error jem_labels_count      'data.labels'           train train_mlp.ini --model.type=net --model.input=784 '--model.net=linear(4) silu linear(10)' --train.objective=jem --data.type=idx --data.path=$fm/t10k-images-idx3-ubyte.gz --data.labels=$fm/train-labels-idx1-ubyte.gz
# A checkpoint of 3 visible units is a model.params file that does not fit 4 features.
timeout 120 "$mpiexec" -np 2 --oversubscribe "$zeta" train train.ini --output.file= --checkpoint.file=train.ckpt > /dev/null 2>&1 || { echo "FAIL train for checkpoint"; fail=1; }
cp train.ckpt train.copy
printf '1,0,1,1\n0,1,1,0\n1,1,0,0\n0,0,1,1\n' > train4.csv
expect_error train_params_shape    'model.params'          train train.ini --data.path=train4.csv --model.params=train.ckpt
# An RBM's checkpoint as an mlp's model.params: one error naming the key and the file.
expect_error mlp_rbm_params        "model.params: 'train.ckpt' holds rbm" sample good.ini --model.type=mlp --model.layers=4,8,1 --model.params=train.ckpt
expect_error train_other_hidden    'model.hidden'          train train.ini --model.hidden=3 --checkpoint.file=train.ckpt --checkpoint.restart=true --run.steps=8
expect_error train_other_objective 'train.objective'       train train.ini --train.objective=cd --checkpoint.file=train.ckpt --checkpoint.restart=true --run.steps=8
cmp -s train.ckpt train.copy || { echo "FAIL refused train checkpoint was modified"; fail=1; }

# A good run still works and keeps the old file as a backup.
timeout 120 "$mpiexec" -np 2 --oversubscribe "$zeta" sample good.ini > ok.json 2> ok.err || { echo "FAIL good run"; cat ok.err; fail=1; }
grep -q '"status": "ok"' ok.json || { echo "FAIL good run: no JSON"; fail=1; }
[ "$(cat out.h5.~1~)" = precious ] || { echo "FAIL good run: old output not kept"; fail=1; }
exit $fail
