#!/usr/bin/env bash
# Issue 22's mode-weight check of noise-conditional DSM: trains input/train_ncsn_ring8.ini
# (MLP 2-64-64-1, 8 noise levels from 2 to 0.1), draws annealed Langevin samples from it
# with input/sample_annealed.ini (the same ladder) on CHAINS independent chains, assigns
# each chain's last state to the nearest of the ring's 8 modes (by angle) and prints the
# shares, their z = (share - 1/8) / SE with SE = sqrt(p (1 - p) / CHAINS), and the mean
# radius. Exits 1 when a share is more than 4 SE from 1/8. About 10 s of CPU on one core.
# With INPUT = input/train_ncsn_cond_ring8.ini (train.ncsn_energy = conditional: E(x, sigma),
# which zeta sample does not take), the samples are the training run's own annealed Langevin
# samples after training (/eval/samples, train.eval_samples = CHAINS; the same sampler keys).
# Usage: bench/run_ncsn_modes.sh [ZETA] [CHAINS] [INPUT]   (defaults build/zeta, 4096,
#        input/train_ncsn_ring8.ini)
set -eu
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
zeta=${1:-$root/build/zeta}
case $zeta in /*) ;; *) zeta=$PWD/$zeta ;; esac
chains=${2:-4096}
input=${3:-$root/input/train_ncsn_ring8.ini}
case $input in /*) ;; *) input=$PWD/$input ;; esac
work=$(mktemp -d "${TMPDIR:-/tmp}/ncsn-modes.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
if grep -Eq '^ncsn_energy *= *conditional' "$input"; then
  "$zeta" train "$input" --run.progress_every=0 --checkpoint.file= --checkpoint.every_steps=0 \
    --train.eval_samples="$chains" --output.file=modes.h5 > train.json
  set=eval/samples
else
  set=samples/x
  "$zeta" train "$input" --run.progress_every=0 --checkpoint.file= \
    --checkpoint.every_steps=0 > train.json
  "$zeta" sample "$root/input/sample_annealed.ini" --model.type=mlp --model.layers=2,64,64,1 \
    --model.activation=silu --model.params=zeta_train_ncsn.h5 --model.dim= --model.sigma= \
    --sampler.step_size=0.0002 --sampler.chains="$chains" --run.progress_every=0 --output.file=modes.h5 > sample.json
fi
/usr/bin/python3 - "$set" <<'PY'
import json
import sys
import h5py
import numpy as np
x = h5py.File("modes.h5", "r")[sys.argv[1]][()]
if x.ndim == 3:
    x = x[-1]  # zeta sample: each chain's last saved state, independent draws
t = json.load(open("train.json"))
if "heldout_nll" in t:
    print(f"held-out NLL {t['heldout_nll']:.4f} +- {t['heldout_nll_stderr']:.4f} nats, true density {t['true_nll']:.4f}")
k = np.round(np.arctan2(x[:, 1], x[:, 0]) / (np.pi / 4)).astype(int) % 8
N = len(k)
p = np.bincount(k, minlength=8) / N
se = np.sqrt(0.125 * 0.875 / N)
z = (p - 0.125) / se
print(f"chains {N}, mean radius {np.hypot(x[:, 0], x[:, 1]).mean():.3f} (the ring's: 2)")
print("mode shares " + " ".join(f"{v:.4f}" for v in p))
print("z          " + " ".join(f"{v:+.2f}" for v in z) + f"   (SE {se:.4f})")
ok = np.all(np.abs(z) <= 4)
print("every share within 4 SE of 1/8" if ok else "FAIL: a share is more than 4 SE from 1/8")
sys.exit(0 if ok else 1)
PY
