#!/usr/bin/env bash
# `zeta eval` end to end on a small trained net (seconds): the per-row energies of
# held-out Fashion-MNIST images against analysis/net_to_torch.py's numpy energy
# (a direct convolution written apart from the C++), |grad E| against its central
# differences, the same bits on 1, 2 and 4 ranks (energies, |grad E| and the
# figures), the AUROC of the JSON line against a brute-force pairwise count in
# numpy, the exactly known AUROC 1/2 of a set against itself, eval.other = flip,
# an mlp and an rbm on 1 and 2 ranks, plot_eval.py, and the bad-input errors (expect_error.sh: one line naming the key or
# file, every rank non-zero, an existing output untouched). Usage: eval.sh ZETA MPIEXEC SOURCE_DIR
set -u
zeta=$1
mpiexec=${2:-mpirun}
src=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
fail=0
py=/usr/bin/python3
fm=/usr/share/datasets/fashion-mnist
net='conv(8,4,2,1) lrelu(0.2) sn_conv(16,4,2,1) silu flatten linear(32) softplus linear(1)'
"$zeta" train "$src/input/train_pcd_energynet_fashion.ini" "--model.net=$net" \
  --data.limit=256 --train.batch=16 --train.buffer_size=128 --train.k=3 --run.steps=6 --train.eval_every=0 \
  --checkpoint.file= --checkpoint.every_steps=0 --output.file=net.h5 --run.progress_every=0 > train.json 2> train.err \
  || { echo "FAIL: zeta train"; tail -n 5 train.err; exit 1; }

# Held-out images (t10k: 100 rows, 7 partitions of 14-15, so blocks of 16 straddle nothing
# and the last block of each partition is padded) against uniform noise and against themselves.
ev=("$src/input/eval_energynet_fashion.ini" "--model.net=$net" --model.params=net.h5 --data.limit=100
  --data.partitions=7 --run.progress_every=0)
for np in 1 2 4; do
  "$mpiexec" -np $np --oversubscribe "$zeta" eval "${ev[@]}" --eval.other=noise --eval.grad_norm=true \
    --output.file=noise$np.h5 > noise$np.json 2> noise$np.err || { echo "FAIL: eval on $np ranks"; tail -n 3 noise$np.err; fail=1; }
done
"$zeta" evaluate "${ev[@]}" "--eval.other=$fm/t10k-images-idx3-ubyte.gz" --output.file=self.h5 > self.json 2> self.err \
  || { echo "FAIL: evaluate (alias) against the same file"; tail -n 3 self.err; fail=1; }
"$zeta" eval "${ev[@]}" --eval.other=flip --output.file=flip.h5 > flip.json 2> flip.err \
  || { echo "FAIL: eval.other = flip"; tail -n 3 flip.err; fail=1; }

# An mlp (|grad E|, eval.other = invert) and an rbm (free energy, noise): 1 and 2 ranks the same bits.
short=(--run.steps=2 --data.limit=256 --train.eval_every=0 --checkpoint.file= --checkpoint.every_steps=0 --run.progress_every=0)
"$zeta" train "$src/input/train_pcd_fashion.ini" "${short[@]}" --train.buffer_size=128 --output.file=mlp.h5 > /dev/null 2>&1 \
  && "$zeta" train "$src/input/train_rbm_fashion.ini" "${short[@]}" --train.ais_every=0 --output.file=rbm.h5 > /dev/null 2>&1 \
  || { echo "FAIL: zeta train (mlp, rbm)"; fail=1; }
for np in 1 2; do
  other=("--data.path=$fm/t10k-images-idx3-ubyte.gz" --data.limit=50 --data.partitions=4 --run.progress_every=0)
  "$mpiexec" -np $np --oversubscribe "$zeta" eval --model.type=mlp --model.layers=784,256,256,1 --model.params=mlp.h5 \
    "${other[@]}" --eval.other=invert --eval.grad_norm=true --output.file=mlp$np.h5 > /dev/null 2> mlp$np.err \
    || { echo "FAIL: eval mlp on $np ranks"; tail -n 3 mlp$np.err; fail=1; }
  "$mpiexec" -np $np --oversubscribe "$zeta" eval --model.type=rbm --model.params=rbm.h5 --data.binarize=threshold \
    "${other[@]}" --eval.other=noise --output.file=rbm$np.h5 > /dev/null 2> rbm$np.err \
    || { echo "FAIL: eval rbm on $np ranks"; tail -n 3 rbm$np.err; fail=1; }
done

"$py" - "$src" "$fm/t10k-images-idx3-ubyte.gz" <<'PY' || fail=1
import gzip, json, sys
import h5py, numpy as np
sys.path.insert(0, sys.argv[1] + "/analysis")
import net_to_torch
bad = 0
def check(ok, what):
    global bad
    print(("ok   " if ok else "FAIL ") + what)
    bad |= not ok
with gzip.open(sys.argv[2]) as f:
    x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)[:100].astype(np.float64) / 255
ref = net_to_torch.energy("net.h5", x)
files = {n: h5py.File(f"noise{n}.h5", "r") for n in (1, 2, 4)}
e = files[1]["eval/energy"][()]
check(e.shape == (100,) and np.abs(e - ref).max() < 1e-10 * (1 + np.abs(ref).max()),
      f"/eval/energy = numpy's direct energy of the 100 images (max diff {np.abs(e - ref).max():.2e})")
for n in (2, 4):
    for d in ("eval/energy", "eval/grad_norm", "eval/other_energy", "eval/other_grad_norm"):
        check(np.array_equal(files[1][d][()], files[n][d][()]), f"{d}: same bits on 1 and {n} ranks")
js = [json.loads(open(f"noise{n}.json").read()) for n in (1, 2, 4)]
keys = ("count", "mean_energy", "energy_sd", "mean_grad_norm", "other_mean_energy", "auroc")
check(all(js[0][k] == j[k] for j in js[1:] for k in keys), "JSON figures the same on 1, 2 and 4 ranks")
o = files[1]["eval/other_energy"][()]
brute = np.mean((o[:, None] > e[None, :]) + 0.5 * (o[:, None] == e[None, :]))
check(js[0]["auroc"] == brute, f"auroc {js[0]['auroc']} = brute-force pairwise count {brute}")
check(js[0]["count"] == 100 and js[0]["other_count"] == 100
      and abs(js[0]["mean_energy"] - np.mean(e)) < 1e-12 * (1 + abs(np.mean(e))), "count and mean_energy")
check(abs(js[0]["energy_sd"] - np.std(e, ddof=1)) < 1e-10 * (1 + np.std(e)), "energy_sd = numpy's std (ddof 1)")
check(float(files[1]["summary"].attrs["auroc"]) == js[0]["auroc"] and "config" in files[1].attrs,
      "/summary holds the JSON figures, the root the configuration")
# |grad E| of rows 0 and 57 against central differences of numpy's energy, one per pixel.
g = files[1]["eval/grad_norm"][()]
for r in (0, 57):
    h = 1e-5
    X = np.repeat(x[r:r + 1], 2 * 784, axis=0)
    X[np.arange(784), np.arange(784)] += h
    X[784 + np.arange(784), np.arange(784)] -= h
    Ex = net_to_torch.energy("net.h5", X)
    fd = np.linalg.norm((Ex[:784] - Ex[784:]) / (2 * h))
    check(abs(g[r] - fd) < 1e-6 * fd, f"grad_norm of row {r} = central differences ({g[r]:.10g} vs {fd:.10g})")
s = json.loads(open("self.json").read())
check(s["auroc"] == 0.5 and s["command"] == "eval", f"a set against itself: auroc exactly 1/2 ({s['auroc']})")
xf = x.reshape(-1, 1, 28, 28)[:, :, ::-1, :].reshape(-1, 784)
fe = h5py.File("flip.h5", "r")["eval/other_energy"][()]
check(np.abs(fe - net_to_torch.energy("net.h5", xf)).max() < 1e-10 * (1 + np.abs(fe).max()),
      "eval.other = flip: the energies of the images upside down")
for m, sets in (("mlp", ("energy", "grad_norm", "other_energy", "other_grad_norm")), ("rbm", ("energy", "other_energy"))):
    a, b = h5py.File(f"{m}1.h5", "r"), h5py.File(f"{m}2.h5", "r")
    check(all(a["eval"][d].shape == (50,) and np.array_equal(a["eval"][d][()], b["eval"][d][()]) for d in sets),
          f"{m}: /eval/{{{', '.join(sets)}}} the same bits on 1 and 2 ranks")
sys.exit(bad)
PY

"$py" -c "import h5py, numpy as np; h5py.File('wide.h5', 'w')['x'] = np.full((8, 784), 0.5); h5py.File('narrow.h5', 'w')['x'] = np.full((8, 3), 0.5)"
# analysis/plot_eval.py: histograms, ROC curve, and a sample grid.
MPLCONFIGDIR=$work "$py" "$src/analysis/plot_eval.py" noise1.h5 -o plot --images wide.h5:/x > plot.out 2>&1 \
  && [ -s plot_energies.png ] && [ -s plot_roc.png ] && [ -s plot_samples.png ] && echo "ok   plot_eval.py: three PNGs" \
  || { echo "FAIL plot_eval.py:"; cat plot.out; fail=1; }

# Bad input (two ranks each, an existing out.h5 left untouched).
. "$here/expect_error.sh"
printf 'not an hdf5 file\n' > corrupt.h5
printf '0.1,0.2,0.3\n0.4,0.5,0.6\n0.1,0.2,0.3\n0.4,0.5,0.6\n' > three.csv
base=(eval "${ev[@]}" --output.file=out.h5)
expect_error missing_params model.params "${base[@]}" --model.params=absent.h5
expect_error corrupt_params corrupt.h5 "${base[@]}" --model.params=corrupt.h5
expect_error no_params model.params "${base[@]}" --model.params=
expect_error params_mismatch model.net "${base[@]}" "--model.net=conv(4,4,2,1) lrelu(0.2) flatten linear(1)"
expect_error data_dimension data.path "${base[@]}" --data.type=csv --data.path=three.csv --data.partitions=2
expect_error other_dimension eval.other "${base[@]}" --data.type=hdf5 --data.path=wide.h5 --data.partitions=2 \
  --eval.other=narrow.h5
expect_error unknown_other eval.other "${base[@]}" --eval.other=gaussian
expect_error bad_box eval.box "${base[@]}" --eval.other=noise --eval.box=1,0
expect_error flip_flat eval.other "${base[@]}" --model.type=mlp --model.layers=784,8,1 --eval.other=flip
expect_error lattice model.type "${base[@]}" --model.type=ising
exit $fail
