#!/usr/bin/python3
"""Plot a `zeta free-energy` output: overlap matrix, free energies, expectations, PMF.

Usage:
    plot_free_energy.py [-o PREFIX] FILE.h5

FILE.h5 is the output of `zeta free-energy` (output.file, default
zeta_free_energy.h5; datasets under /free_energy, docs/free-energy.md).

Writes
    PREFIX_overlap.png       the overlap matrix O_ij (pymbar computeOverlap), with
                             1 - lambda_2 in the title; the states' indices on the axes
    PREFIX_f.png             f_k with its standard error against beta_k (or the state
                             index when the input had no beta)
    PREFIX_expectations.png  one panel per observable: <A>_k +- sigma_k against beta_k
    PREFIX_pmf.png           the PMF f_i +- df_i against the bin centres (free_energy.pmf)
PREFIX defaults to FILE without .h5.
"""
import argparse
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("file")
    p.add_argument("-o", "--prefix")
    a = p.parse_args(argv)
    prefix = a.prefix or os.path.splitext(a.file)[0]
    with h5py.File(a.file, "r") as f:
        if "free_energy" not in f:
            sys.exit(f"plot_free_energy.py: {a.file} has no /free_energy (not a zeta free-energy output)")
        g = f["free_energy"]
        fk, dfk = g["f_k"][...], g["dDelta_f"][0, :]
        overlap, eig = g["overlap"][...], g["overlap_eigenvalues"][...]
        beta = g["beta"][...] if "beta" in g else None
        x = beta if beta is not None else np.arange(len(fk))
        xlabel = "beta" if beta is not None else "state k"
        expectations = {n: (g["expectations"][n]["mu"][...], g["expectations"][n]["sigma"][...])
                        for n in (g["expectations"] if "expectations" in g else [])}
        pmf = {k: g["pmf"][k][...] for k in g["pmf"]} if "pmf" in g else None
        summary = f["summary"].attrs if "summary" in f else {}
        pmf_what = "PMF along %s at state %s" % (summary.get("pmf_observable", "?"), summary.get("pmf_state", "?"))
        if isinstance(pmf_what, bytes):
            pmf_what = pmf_what.decode()
    written = []

    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    im = ax.imshow(overlap, cmap="viridis", vmin=0, vmax=max(1e-12, overlap.max()))
    fig.colorbar(im, ax=ax, label="O_ij")
    ax.set_xlabel("state j")
    ax.set_ylabel("state i")
    ax.set_title(f"overlap matrix, 1 - lambda_2 = {1 - eig[1]:.3g}")
    fig.tight_layout()
    fig.savefig(prefix + "_overlap.png", dpi=120)
    written.append(prefix + "_overlap.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(x, fk, yerr=dfk, fmt="o-", ms=3, capsize=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("f_k = -ln Z_k + ln Z_0")
    ax.set_title("MBAR free energies (error bars: 1 SE of f_k - f_0)")
    fig.tight_layout()
    fig.savefig(prefix + "_f.png", dpi=120)
    written.append(prefix + "_f.png")
    plt.close(fig)

    if expectations:
        fig, axes = plt.subplots(len(expectations), 1, figsize=(6, 2.8 * len(expectations)), squeeze=False)
        for ax, (name, (mu, sigma)) in zip(axes[:, 0], expectations.items()):
            ax.errorbar(x, mu, yerr=sigma, fmt="o-", ms=3, capsize=2)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(f"<{name}>_k")
        axes[0, 0].set_title("MBAR expectations (error bars: 1 SE)")
        fig.tight_layout()
        fig.savefig(prefix + "_expectations.png", dpi=120)
        written.append(prefix + "_expectations.png")
        plt.close(fig)

    if pmf is not None:
        centres = 0.5 * (pmf["edges"][1:] + pmf["edges"][:-1])
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.errorbar(centres, pmf["f"], yerr=pmf["df"], fmt="o-", ms=3, capsize=2)
        ax.set_xlabel("observable (bin centre)")
        ax.set_ylabel("f_i - f_lowest")
        ax.set_title(pmf_what + " (error bars: 1 SE from the lowest bin)", fontsize=9)
        fig.tight_layout()
        fig.savefig(prefix + "_pmf.png", dpi=120)
        written.append(prefix + "_pmf.png")
        plt.close(fig)
    print("wrote " + ", ".join(written))


if __name__ == "__main__":
    main()
