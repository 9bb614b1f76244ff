#!/usr/bin/python3
"""Plots a `zeta train` output: learning curves and, for an RBM, a grid of its
filters and, from a checkpoint, of the persistent chains' samples; for an MLP
energy (model.type = mlp), the seed's energy check and the model's samples.

  plot_train.py FILE.h5 [--checkpoint FILE.ckpt] [-o PREFIX]

RBM (/model/rbm/W): writes PREFIX_curves.png (reconstruction error,
pseudo-log-likelihood, mean free energy of data and of negative samples,
gradient norm, and the AIS held-out log-likelihood with error bars when
train.ais_every was set), PREFIX_filters.png (the columns of W as images when
the visible size is a square, e.g. 28x28) and, with --checkpoint of a PCD run,
PREFIX_samples.png (the chains' visible states).

MLP (/model/layer_0/weight): writes PREFIX_curves.png (the loss, or the DSM
loss; the mean energy of data and of model samples (CD/PCD); the gradient norm;
and, on 2-D data, the grid held-out NLL with error bars and the true NLL as a
horizontal line); on 2-D data with the NLL grid, PREFIX_density.png (the
model's density exp(-E - ln Z) from /landscape, ln Z the grid's, with the
held-out and true NLL); and, when the file has /eval (CD/PCD runs; a net's DSM,
with /eval/energy_noisy for energy_model and no samples):
PREFIX_energies.png (overlaid histograms of /eval/energy_{data,model,noise}:
the seed's check is data lowest, model samples between, noise highest) and
PREFIX_samples.png (/eval/samples as an image grid when dim is a square >= 64,
else a scatter of the first two coordinates). --checkpoint is RBM-only.

Layer stacks (model.type = net, /model/net): as an MLP (the EnergyNet on
Fashion-MNIST gives the energy histograms and a grid of its 28x28 samples).

Axis labels carry the units of the datasets (attribute units) when the file has
them. Reads the file with analysis/zeta.py (next to this script).
"""
import argparse
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import zeta  # noqa: E402 (analysis/zeta.py, next to this script)

# A curves panel: (title, [(x key, y key, label, y-error key or None)], horizontal-line key or None).
RBM_PANELS = [
    ("reconstruction error", [("step", "recon_error", None, None)], None),
    ("pseudo-log-likelihood", [("step", "pseudo_loglik", None, None)], None),
    ("mean free energy", [("step", "free_energy_data", "data", None),
                          ("step", "free_energy_model", "negative samples", None)], None),
    ("gradient norm", [("step", "grad_norm", None, None)], None),
    ("held-out log-likelihood (AIS)", [("ais_step", "heldout_loglik", None, "heldout_loglik_stderr")], None),
]
MLP_PANELS = [
    ("loss", [("step", "loss", None, None)], None),
    ("DSM loss", [("step", "dsm_loss", None, None)], None),
    ("mean energy", [("step", "energy_data", "data", None),
                     ("step", "energy_model", "model samples", None)], None),
    ("gradient norm", [("step", "grad_norm", None, None)], None),
    ("held-out NLL (grid)", [("nll_step", "heldout_nll", "model", "heldout_nll_stderr")], "true_nll"),
]

# Units of the series in files that predate the `units` attributes (the files' vocabulary).
DEFAULT_UNITS = {"pseudo_loglik": "nat", "heldout_loglik": "nat", "heldout_nll": "nat", "free_energy_data": "kT",
                 "energy_data": "kT"}


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


def curves(f, t, panels, path):
    """One panel per entry of panels whose series are all in t and non-empty."""
    has = lambda k: k in t and len(t[k]) > 0  # noqa: E731
    panels = [p for p in panels if all(has(x) and has(y) for x, y, _, _ in p[1])]
    if not panels:
        print(f"no learning-curve series: no {path}")
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2))
    for ax, (title, lines, hline) in zip(np.atleast_1d(axes), panels):
        for x, y, label, err in lines:
            if err and has(err):
                ax.errorbar(t[x], t[y], yerr=t[err], marker="o", capsize=3, label=label)
            else:
                ax.plot(t[x], t[y], label=label)
        if hline and has(hline):
            ax.axhline(t[hline][0], color="k", ls="--", label=f"true density ({t[hline][0]:.4g})")
        if any(label for _, _, label, _ in lines):
            ax.legend()
        ax.set_title(title)
        ax.set_xlabel(f.label("train/" + lines[0][0], "step"))
        ax.set_ylabel(f.label("train/" + lines[0][1], title, DEFAULT_UNITS.get(lines[0][1])))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(path)


def density_label(text, units):
    """An axis label for a density over a plane of coordinates in `units`: text [1/units^2]."""
    return f"{text} [1/{units}$^2$]" if units and units != "1" else text


def image_side(dim, smallest=1):
    side = int(round(math.sqrt(dim)))
    return side if side * side == dim and dim >= smallest else 0


def plot_rbm(f, t, a, prefix):
    W = f["model/rbm/W"]
    curves(f, t, RBM_PANELS, prefix + "_curves.png")
    nv, nh = W.shape
    side = image_side(nv)
    if side:
        grid([W[:, j] for j in range(min(nh, 100))], side, prefix + "_filters.png",
             f"filters (columns of W, {min(nh, 100)} of {nh})", cmap="RdBu_r")
        if a.checkpoint:
            with zeta.open(a.checkpoint) as c:
                if "train/chains" in c:
                    v = c["train/chains"]
                    grid(list(v[:100]), side, prefix + "_samples.png", f"PCD chains ({min(len(v), 100)} of {len(v)})")
    else:
        print(f"visible size {nv} is not a square: no image grids")


def density(f, t, objective, path):
    """The model's density on the NLL grid: /landscape/energy at the cell centres,
    normalised with the grid's ln Z (the last /train/grid_log_z, for the same
    final parameters)."""
    x, y, e = (f["landscape/" + k] for k in ("x", "y", "energy"))
    p = np.exp(-(e + t["grid_log_z"][-1]))
    dx, dy = x[1] - x[0], y[1] - y[0]
    fig, ax = plt.subplots(figsize=(4.8, 4.3))
    im = ax.imshow(p, origin="lower", extent=(x[0] - dx / 2, x[-1] + dx / 2, y[0] - dy / 2, y[-1] + dy / 2),
                   cmap="viridis")
    fig.colorbar(im, ax=ax, label=density_label("p(x)", f.units("landscape/x")))
    title = f"model density ({objective}, step {int(t['nll_step'][-1])})"
    title += f"\nheld-out NLL {t['heldout_nll'][-1]:.4f} +- {t['heldout_nll_stderr'][-1]:.4f}"
    if "true_nll" in t:
        title += f", true {t['true_nll'][0]:.4f}"
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(f.label("landscape/x", "$x_0$"))
    ax.set_ylabel(f.label("landscape/y", "$x_1$"))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(path, f"(grid mass {p.sum() * dx * dy:.4f})")


def plot_mlp(f, t, a, prefix):
    objective = f.config.get("train.objective", "?")
    if a.checkpoint:
        print("--checkpoint is used for RBM outputs only: ignored")
    curves(f, t, MLP_PANELS, prefix + "_curves.png")
    if "/landscape/energy" in f:
        density(f, t, objective, prefix + "_density.png")
    if "eval/energy_data" not in f:
        print(f"no /eval (objective {objective}): no energies or samples plots")
        return
    # CD / PCD check model samples; a net's DSM the noisy data rows (no sampler).
    mid, mid_label = ("model", "samples") if "eval/energy_model" in f else ("noisy", "noisy data")
    e = {k: f["eval/energy_" + k] for k in ("data", mid, "noise")}
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    bins = np.histogram_bin_edges(np.concatenate(list(e.values())), bins=40)
    for k, label in (("data", "data"), (mid, "model samples" if mid == "model" else mid_label), ("noise", "noise")):
        ax.hist(e[k], bins=bins, alpha=0.5, label=f"{label} (mean {e[k].mean():.4g})")
    ok = e["data"].mean() < e[mid].mean() < e["noise"].mean()
    ax.set_title(f"energies after training ({objective}): data < {mid_label} < noise: {'yes' if ok else 'NO'}",
                 fontsize=9)
    ax.set_xlabel(f.label("eval/energy_data", "energy E", "kT"))
    ax.set_ylabel("examples per bin")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(prefix + "_energies.png", dpi=110)
    plt.close(fig)
    print(prefix + "_energies.png")
    if "eval/samples" not in f:
        print(f"no /eval/samples (objective {objective}): no samples plot")
        return
    x = f["eval/samples"]
    n, dim = x.shape
    side = image_side(dim, 64)
    if side:
        grid(list(x[:100]), side, prefix + "_samples.png", f"model samples ({min(n, 100)} of {n}, {objective})")
        return
    if dim < 2:
        print(f"dim {dim}: no samples plot")
        return
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.scatter(x[:, 0], x[:, 1], s=4, alpha=0.6)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel(f.label("eval/samples", "$x_0$"))
    ax.set_ylabel(f.label("eval/samples", "$x_1$"))
    ax.set_title(f"model samples ({n}, {objective})" + ("" if dim == 2 else f", first 2 of {dim} coords"))
    fig.tight_layout()
    fig.savefig(prefix + "_samples.png", dpi=110)
    plt.close(fig)
    print(prefix + "_samples.png")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("--checkpoint", help="a zeta train checkpoint of an RBM (PCD chains for the samples grid)")
    ap.add_argument("-o", "--prefix", help="output prefix (default: FILE without .h5)")
    a = ap.parse_args()
    prefix = a.prefix or os.path.splitext(a.file)[0]
    try:
        out = zeta.open(a.file)
    except zeta.Error as e:
        raise SystemExit(f"plot_train.py: error: {e}")
    with out as f:
        if "train" not in f:
            raise SystemExit(f"{a.file}: no /train (not a zeta train output)")
        t = {k[len("train/"):]: f[k] for k in f.datasets("train")}
        if "model/rbm/W" in f:
            plot_rbm(f, t, a, prefix)
        elif "model/layer_0/weight" in f or "model/net" in f:
            plot_mlp(f, t, a, prefix)
        else:
            raise SystemExit(f"{a.file}: none of /model/rbm/W, /model/layer_0/weight, /model/net "
                             "(not a zeta train output)")


if __name__ == "__main__":
    main()
