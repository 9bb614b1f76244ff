#!/usr/bin/python3
"""Plots a `zeta train` output: learning curves and a grid of the RBM's filters,
and, from a checkpoint, a grid of the persistent chains' samples.

  plot_train.py FILE.h5 [--checkpoint FILE.ckpt] [-o PREFIX]

Writes PREFIX_curves.png (reconstruction error, pseudo-log-likelihood, mean free
energy of data and of negative samples, gradient norm, and the AIS held-out
log-likelihood with error bars when train.ais_every was set), PREFIX_filters.png
(the columns of W as images when the visible size is a square, e.g. 28x28) and,
with --checkpoint of a PCD run, PREFIX_samples.png (the chains' visible states).
"""
import argparse
import math
import os

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def grid(images, side, path, title, cmap="gray"):
    n = len(images)
    cols = int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 0.9 + 0.4), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            ax.imshow(images[k].reshape(side, side), cmap=cmap)
    fig.suptitle(title)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    print(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("--checkpoint", help="a zeta train checkpoint (PCD chains for the samples grid)")
    ap.add_argument("-o", "--prefix", help="output prefix (default: FILE without .h5)")
    a = ap.parse_args()
    prefix = a.prefix or os.path.splitext(a.file)[0]
    with h5py.File(a.file, "r") as f:
        if "/model/rbm/W" not in f:
            raise SystemExit(f"{a.file}: no /model/rbm/W (not a zeta train output)")
        W = f["/model/rbm/W"][...]
        t = {k: f["/train/" + k][...] for k in f["/train"].keys()}
    panels = [("recon_error", "reconstruction error"), ("pseudo_loglik", "pseudo-log-likelihood"),
              ("free_energy", "mean free energy"), ("grad_norm", "gradient norm")]
    has_ais = "ais_step" in t and len(t["ais_step"]) > 0
    if has_ais:
        panels.append(("heldout", "held-out log-likelihood (AIS)"))
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2))
    for ax, (key, title) in zip(np.atleast_1d(axes), panels):
        if key == "free_energy":
            ax.plot(t["step"], t["free_energy_data"], label="data")
            ax.plot(t["step"], t["free_energy_model"], label="negative samples")
            ax.legend()
        elif key == "heldout":
            ax.errorbar(t["ais_step"], t["heldout_loglik"], yerr=t["heldout_loglik_stderr"], marker="o", capsize=3)
        else:
            ax.plot(t["step"], t[key])
        ax.set_title(title)
        ax.set_xlabel("step")
    fig.tight_layout()
    fig.savefig(prefix + "_curves.png", dpi=110)
    plt.close(fig)
    print(prefix + "_curves.png")
    nv, nh = W.shape
    side = int(round(math.sqrt(nv)))
    if side * side == nv:
        grid([W[:, j] for j in range(min(nh, 100))], side, prefix + "_filters.png",
             f"filters (columns of W, {min(nh, 100)} of {nh})", cmap="RdBu_r")
        if a.checkpoint:
            with h5py.File(a.checkpoint, "r") as c:
                if "/train/chains" in c:
                    v = c["/train/chains"][...]
                    grid(list(v[:100]), side, prefix + "_samples.png", f"PCD chains ({min(len(v), 100)} of {len(v)})")
    else:
        print(f"visible size {nv} is not a square: no image grids")


if __name__ == "__main__":
    main()
