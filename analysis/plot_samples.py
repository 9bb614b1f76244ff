#!/usr/bin/python3
"""Plot the samples and energies written by `zeta sample`.

Usage:
    plot_samples.py FILE.h5 [-o PREFIX]

Writes two PNG files:
    PREFIX_samples.png  the saved samples
                          1-D:  histogram of x with exp(-beta E) (normalised over the
                                sampled range) drawn over it
                          2-D:  scatter of the samples over the energy contour in
                                /landscape when the file has one, else over a 2-D
                                histogram of the samples
                          >2-D: 2-D histogram of the two coordinates of highest
                                variance (x_i, x_j) and their 1-D histograms
    PREFIX_energy.png   energy traces of a few chains and the mean over all chains
                        against the saved-sample index, and a histogram of all saved
                        energies
and, when the dimension is a square of at least 64 (images, e.g. an RBM on
Fashion-MNIST):
    PREFIX_images.png   the last saved state of up to 64 chains as an image grid
PREFIX defaults to FILE without its .h5 extension.

File layout read (written by zeta):
    /samples/x       [saved, chains, dim]
    /samples/energy  [saved, chains]
    /landscape/x [nx], /landscape/y [ny], /landscape/energy [ny, nx]  (optional)
    root attributes: config (the full INI), ranks, samples_saved (interrupted runs:
    only the first samples_saved rows of /samples hold data)
    attribute units of /samples/x, /samples/energy, /landscape/energy (the axis
    labels show them; files that predate them: energies in kT)
Reads the file with analysis/zeta.py (next to this script).

Needs Debian's python3-h5py, python3-numpy and python3-matplotlib, hence the
/usr/bin/python3 shebang. Exit status: 0 on success, 1 on a bad or unusable file.
"""

import argparse
import os
import sys

import numpy as np

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import zeta  # noqa: E402 (analysis/zeta.py, next to this script)

PROG = os.path.basename(sys.argv[0])
MAX_ROWS = 20000          # saved rows read at most (a stride is used beyond this)
MAX_SCATTER = 5000        # points drawn at most in a scatter plot
TRACE_CHAINS = 4          # individual chains drawn in the energy trace


def fail(msg):
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    sys.exit(1)


def load(path):
    try:
        out = zeta.open(path)
    except zeta.Error as e:
        fail(str(e))
    with out:
        if "samples/x" not in out or "samples/energy" not in out:
            what = f"a zeta {out.command} output" if out.command else "not a zeta output"
            fail(f"'{path}' has no /samples/x and /samples/energy ({what}; this script reads the files of "
                 "`zeta sample` written with run.save_every > 0)")
        dx, de = out.h5["samples/x"], out.h5["samples/energy"]
        if dx.ndim != 3 or de.ndim != 2 or dx.shape[:2] != de.shape:
            fail(f"'{path}': unexpected shapes /samples/x {dx.shape}, /samples/energy {de.shape}")
        rows = dx.shape[0] if out.saved is None else min(dx.shape[0], max(out.saved, 0))
        interrupted = rows < dx.shape[0]  # interrupted runs: the rest of the rows are unwritten
        if rows == 0 or dx.shape[1] == 0:
            fail(f"'{path}' holds no saved samples")
        stride = max(1, -(-rows // MAX_ROWS))
        data = {
            "x": dx[0:rows:stride],
            "energy": de[0:rows:stride],
            "index": np.arange(0, rows, stride),
            "rows": rows,
            "stride": stride,
            "interrupted": interrupted,
            "config": out.config,
            "ranks": out.attrs.get("ranks", "?"),
            # Axis labels with the units the file gives (attribute `units`), when it does.
            "x_units": out.units("samples/x"),
            "e_label": out.label("samples/energy", "energy E", "kT"),
        }
        if all(f"landscape/{k}" in out for k in ("x", "y", "energy")):
            data["landscape"] = tuple(out[f"landscape/{k}"] for k in ("x", "y", "energy"))
            data["landscape_label"] = out.label("landscape/energy", "energy E (landscape)", "kT")
    return data


def coord_label(d, i):
    """Axis label of coordinate i of the samples (its pixel when they are images),
    with their units when the file gives them."""
    u = d.get("x_units")
    side = image_side(d["x"].shape[2])
    pixel = f" (pixel row {i // side}, column {i % side})" if side else ""
    return f"$x_{{{i}}}${pixel}" + (f" [{u}]" if u and u != "1" else "")


def bin_edges(v, bins=80):
    """80 bins, or one bin per value when a coordinate takes few values (binary pixels)."""
    u = np.unique(v)
    if u.size > 16:
        return bins
    if u.size == 1:
        return np.array([u[0] - 0.5, u[0] + 0.5])
    mid = (u[1:] + u[:-1]) / 2
    return np.concatenate([[2 * u[0] - mid[0]], mid, [2 * u[-1] - mid[-1]]])


def top_variance_pair(pts):
    """The two coordinates of highest sample variance (ties: the lower index first).
    Picking x_0 and x_1 showed two constant pixels for RBMs on Fashion-MNIST: the
    border pixels of the images are always 0."""
    var = np.var(pts, axis=0)
    order = np.argsort(-var, kind="stable")
    return sorted(int(i) for i in order[:2])


def title_of(path, d):
    cp = d["config"]
    model = cp.get("model.type", "?")
    sampler = cp.get("sampler.type", "?")
    beta = cp.get("sampler.beta", "1")
    n, chains, dim = d["x"].shape
    t = (f"{os.path.basename(path)}: {model}, dim {dim}, {sampler}, {chains} chains, "
         f"beta {beta}, {d['rows']} saved")
    if d["stride"] > 1:
        t += f" (every {d['stride']}th shown)"
    if d["interrupted"]:
        t += " [interrupted run]"
    return t


def subsample(points, k, rng):
    if len(points) <= k:
        return points
    return points[rng.choice(len(points), size=k, replace=False)]


def plot_samples(path, d, out):
    x = d["x"]
    dim = x.shape[2]
    pts = x.reshape(-1, dim)
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    rng = np.random.default_rng(0)
    title = title_of(path, d)

    if dim == 1:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        xs = pts[:, 0]
        ax.hist(xs, bins=80, density=True, color="tab:blue", alpha=0.6, label="samples")
        # exp(-beta E) at the sampled points, normalised over the sampled range.
        beta = d["config"].get_float("sampler.beta", 1.0)
        e = d["energy"].reshape(-1)
        xe = x.reshape(-1)
        ok = np.isfinite(e) & np.isfinite(xe)
        xe, e = xe[ok], e[ok]
        order = np.argsort(xe)
        xe, e = xe[order], e[order]
        if len(xe) > 1 and xe[-1] > xe[0]:
            p = np.exp(-beta * (e - e.min()))
            z = getattr(np, "trapezoid", getattr(np, "trapz", None))(p, xe)
            if z > 0:
                ax.plot(xe, p / z, color="k", lw=1.2, label=r"$e^{-\beta E}$ (normalised)")
        ax.set_xlabel(coord_label(d, 0))
        ax.set_ylabel("density")
        ax.legend(loc="best")
    elif dim == 2:
        fig, ax = plt.subplots(figsize=(7, 6))
        if "landscape" in d:
            lx, ly, le = d["landscape"]
            finite = le[np.isfinite(le)]
            lo = finite.min()
            hi = np.percentile(finite, 90)  # the corners can be steep; keep the contour readable
            if not hi > lo:
                hi = finite.max() if finite.max() > lo else lo + 1
            levels = np.linspace(lo, hi, 30)
            cs = ax.contourf(lx, ly, np.clip(le, lo, None), levels=levels, cmap="viridis", extend="max")
            ax.contour(lx, ly, le, levels=levels[::3], colors="white", linewidths=0.4, alpha=0.5)
            fig.colorbar(cs, ax=ax, label=d["landscape_label"])
            ax.set_xlim(lx[0], lx[-1])
            ax.set_ylim(ly[0], ly[-1])
            outside = np.mean((pts[:, 0] < lx[0]) | (pts[:, 0] > lx[-1]) |
                              (pts[:, 1] < ly[0]) | (pts[:, 1] > ly[-1]))
            if outside > 0.001:
                ax.text(0.01, 0.01, f"{100 * outside:.1f}% of samples outside the landscape range",
                        transform=ax.transAxes, color="white", fontsize=8)
            dot = "tab:red"
        else:
            h = ax.hist2d(pts[:, 0], pts[:, 1], bins=80, cmap="Greys", cmin=1)
            fig.colorbar(h[3], ax=ax, label="samples per bin")
            dot = "tab:blue"
        s = subsample(pts, MAX_SCATTER, rng)
        ax.scatter(s[:, 0], s[:, 1], s=3, c=dot, alpha=0.5, linewidths=0,
                   label=f"samples ({len(s)} of {len(pts)} shown)" if len(s) < len(pts) else "samples")
        ax.set_xlabel(coord_label(d, 0))
        ax.set_ylabel(coord_label(d, 1))
        ax.legend(loc="upper right", markerscale=4, fontsize=8)
    else:
        fig, (ax, ax1) = plt.subplots(1, 2, figsize=(12, 5))
        i, j = top_variance_pair(pts)
        h = ax.hist2d(pts[:, i], pts[:, j], bins=(bin_edges(pts[:, i]), bin_edges(pts[:, j])), cmap="viridis",
                      cmin=1)
        fig.colorbar(h[3], ax=ax, label="samples per bin")
        ax.set_xlabel(coord_label(d, i))
        ax.set_ylabel(coord_label(d, j))
        ax.set_title(f"the two of {dim} coordinates with the highest variance")
        ax.set_aspect("equal", adjustable="datalim")
        for k, c in ((i, "tab:blue"), (j, "tab:orange")):
            ax1.hist(pts[:, k], bins=bin_edges(pts[:, k]), density=True, histtype="step", lw=1.5, color=c,
                     label=f"$x_{{{k}}}$: mean {pts[:, k].mean():.3g}, sd {pts[:, k].std():.3g}")
        u = d.get("x_units")
        ax1.set_xlabel("value" + (f" [{u}]" if u and u != "1" else ""))
        ax1.set_ylabel("density")
        ax1.legend(loc="upper right", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_energy(path, d, out):
    e = d["energy"]
    idx = d["index"]
    fig, (ax, ax1) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [2, 1]})
    for c in range(min(TRACE_CHAINS, e.shape[1])):
        ax.plot(idx, e[:, c], lw=0.7, alpha=0.7, label=f"chain {c}")
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(np.where(np.isfinite(e), e, np.nan), axis=1)
    ax.plot(idx, mean, color="k", lw=1.8, label=f"mean over {e.shape[1]} chains")
    ax.set_xlabel("saved sample index" + (f" (every {d['stride']}th)" if d["stride"] > 1 else ""))
    ax.set_ylabel(d["e_label"])
    ax.legend(loc="upper right", fontsize=8, ncol=2)
    flat = e[np.isfinite(e)]
    if flat.size:
        ax1.hist(flat, bins=80, density=True, color="tab:gray", orientation="horizontal")
        ax1.axhline(flat.mean(), color="k", lw=1.2, label=f"mean {flat.mean():.4g}")
        ax1.legend(loc="upper right", fontsize=8)
    ax1.set_xlabel("density")
    ax1.set_ylabel(d["e_label"])
    ax1.sharey(ax)
    if flat.size:
        # Rare spikes would squash the traces: show up to the 99.9th percentile.
        lo = flat.min()
        hi = max(np.percentile(flat, 99.9), np.nanmax(mean))
        pad = 0.05 * (hi - lo) if hi > lo else 1.0
        ax.set_ylim(lo - pad, hi + pad)
    fig.suptitle(title_of(path, d), fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def image_side(dim):
    side = int(round(np.sqrt(dim)))
    return side if side * side == dim and dim >= 64 else 0


def plot_images(path, d, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    x = d["x"][-1]
    side = image_side(x.shape[1])
    n = min(64, x.shape[0])
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.2 * cols, 1.2 * rows + 0.5), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            ax.imshow(x[k].reshape(side, side), cmap="gray", interpolation="nearest")
    fig.suptitle(f"{title_of(path, d)}\nlast saved state of {n} chains", fontsize=8)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description="Plot samples and energies from a `zeta sample` HDF5 file.")
    ap.add_argument("file", help="HDF5 file written by zeta sample")
    ap.add_argument("-o", "--prefix", help="output prefix (default: FILE without .h5)")
    args = ap.parse_args()
    prefix = args.prefix or (args.file[:-3] if args.file.endswith(".h5") else args.file)
    d = load(args.file)
    outdir = os.path.dirname(prefix)
    if outdir and not os.path.isdir(outdir):
        fail(f"output directory '{outdir}' does not exist")
    files = (prefix + "_samples.png", prefix + "_energy.png")
    plot_samples(args.file, d, files[0])
    plot_energy(args.file, d, files[1])
    if image_side(d["x"].shape[2]):
        files += (prefix + "_images.png",)
        plot_images(args.file, d, files[2])
    for name in files:
        print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
