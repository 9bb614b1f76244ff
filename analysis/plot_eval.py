#!/usr/bin/python3
"""Plots a `zeta eval` output: PREFIX_energies.png (overlaid histograms of the
per-row energies of the data, /eval/energy, and of eval.other, /eval/other_energy)
and PREFIX_roc.png (the ROC curve of the energy as an out-of-distribution score,
higher energy = other set, with the AUROC of the file's /summary); with
--images FILE.h5:DATASET, also PREFIX_samples.png, a grid of the first 100 rows of
that dataset (e.g. a training checkpoint's /train/replay_buffer or a training
output's /eval/samples) when a row is a square image.

    zeta eval input/eval_energynet_fashion.ini
    analysis/plot_eval.py zeta_eval_energynet_fashion.h5 -o energynet_eval \\
        --images zeta_train_energynet_fashion.h5:/eval/samples
"""
import argparse
import math
import os

import matplotlib

matplotlib.use("Agg")
import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def roc(e_in, e_out):
    """False- and true-positive rates of the threshold rule energy >= t, t over every value."""
    t = np.unique(np.concatenate([e_in, e_out]))[::-1]
    fpr = [0.0] + [np.mean(e_in >= v) for v in t]
    tpr = [0.0] + [np.mean(e_out >= v) for v in t]
    return np.array(fpr), np.array(tpr)


def grid(x, path, title):
    n, dim = x.shape
    side = int(round(math.sqrt(dim)))
    if side * side != dim:
        print(f"rows of {dim} values are not square images: no {path}")
        return
    cols = int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 0.9 + 0.4), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            ax.imshow(x[k].reshape(side, side), cmap="gray", vmin=0, vmax=1)
    fig.suptitle(title)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    print(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", help="a zeta eval output")
    ap.add_argument("-o", "--prefix", help="output prefix (default: FILE without .h5)")
    ap.add_argument("--images", help="FILE.h5:DATASET whose first 100 rows go into PREFIX_samples.png")
    a = ap.parse_args()
    prefix = a.prefix or os.path.splitext(a.file)[0]
    with h5py.File(a.file, "r") as f:
        if "eval/energy" not in f:
            raise SystemExit(f"{a.file}: no /eval/energy (not a zeta eval output)")
        e = f["eval/energy"][()]
        o = f["eval/other_energy"][()] if "eval/other_energy" in f else None
        s = dict(f["summary"].attrs) if "summary" in f else {}
    other = s.get("other", "other")
    other = other.decode() if isinstance(other, bytes) else other
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    sets = [(e, "data")] + ([(o, f"eval.other = {other}")] if o is not None else [])
    bins = np.histogram_bin_edges(np.concatenate([v for v, _ in sets]), bins=50)
    for v, label in sets:
        ax.hist(v, bins=bins, alpha=0.55, label=f"{label} (n {len(v)}, mean {v.mean():.4g})")
    ax.set_xlabel("energy E(x)")
    ax.set_ylabel("rows per bin")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(prefix + "_energies.png", dpi=110)
    plt.close(fig)
    print(prefix + "_energies.png")
    if o is not None:
        fpr, tpr = roc(e, o)
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.plot(fpr, tpr)
        ax.plot([0, 1], [0, 1], ":", color="gray")
        ax.set_xlabel("data rows above the threshold (FPR)")
        ax.set_ylabel(f"{other} rows above the threshold (TPR)")
        ax.set_title(f"energy as OOD score: AUROC {float(s.get('auroc', np.nan)):.4f}", fontsize=9)
        fig.tight_layout()
        fig.savefig(prefix + "_roc.png", dpi=110)
        plt.close(fig)
        print(prefix + "_roc.png")
    if a.images:
        path, _, name = a.images.rpartition(":")
        with h5py.File(path, "r") as g:
            if name not in g:
                raise SystemExit(f"{path}: no dataset {name}")
            x = g[name][:100]
        grid(np.asarray(x, dtype=float), prefix + "_samples.png", f"{name} of {os.path.basename(path)} ({len(x)} rows)")


if __name__ == "__main__":
    main()
