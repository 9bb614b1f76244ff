#!/usr/bin/python3
"""Plot the diagnostics and samples written by `zeta temper` (parallel tempering).

Usage:
    plot_temper.py FILE.h5 [OUTDIR/ | PREFIX]
    plot_temper.py FILE.h5 -o PREFIX

The second argument is a directory when it exists as one or ends with '/' (it is
created then), and the files are OUTDIR/NAME_*.png with NAME = FILE's name without
.h5; otherwise it is a prefix. Default: FILE without its .h5 extension.

Writes these PNG files (those that the file has data for):
    PREFIX_acceptance.png   swap acceptance of each neighbour pair (beta_k, beta_k+1)
                            against beta, with the ladder marked
    PREFIX_flow.png         flow fraction f(beta) (replicas last seen at the hottest
                            level, on their way up) against beta and against the level
                            index, with the ideal straight line 1 - k / (K - 1)
    PREFIX_round_trips.png  round trips per replica (bars, coloured by ladder copy)
    PREFIX_energy_hist.png  histogram of the saved energies at every beta, pooled
                            over the copies (needs run.save_every > 0)
    PREFIX_x.png            continuous models: the saved states at the target beta
                            (the last level): scatter of (x_0, x_1) coloured by copy,
                            histogram for 1-D; for a gmm the share of samples nearest
                            to each mean is printed next to its weight
    PREFIX_mean_energy.png  mean energy +- standard error against beta, the integrated
                            autocorrelation time, and for Ising the mean |m| per spin
The names of the files written are printed on stdout, one per line.

File layout read (written by zeta temper):
    /temper/betas [K], /temper/acceptance [K-1], /temper/flow [K],
    /temper/round_trips [copies * K], /temper/mean_energy [K],
    /temper/mean_energy_stderr [K], /temper/tau_int [K],
    /temper/mean_abs_magnetization(_stderr) [K]        (Ising)
    /temper/energy, /temper/replica, /temper/magnetization (Ising):
        [saved, K] for one ladder, [saved, copies, K] for temper.copies > 1
    /temper/x [saved, copies, dim]                     (continuous models)
    root attributes: command ("temper"), config (the resolved INI), ranks,
    samples_saved (interrupted runs: only the first samples_saved rows hold data)
    attribute units of the datasets (the axis labels show them; files that predate
    them: energies in kT, betas in 1/kT)
Reads the file with analysis/zeta.py (next to this script).

Needs Debian's python3-h5py, python3-numpy and python3-matplotlib, hence the
/usr/bin/python3 shebang. Exit status: 0 on success, 1 on a bad or unusable file.
"""

import argparse
import math
import os
import sys

import numpy as np

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import cm, colors  # noqa: E402

import zeta  # noqa: E402 (analysis/zeta.py, next to this script)
from zeta import cfg_float, cfg_get  # noqa: E402

PROG = os.path.basename(sys.argv[0])
MAX_ROWS = 20000          # saved rows read at most (a stride is used beyond this)
MAX_SCATTER = 6000        # points drawn at most in a scatter plot
HIST_BINS = 80            # bins of the energy histograms (about)
BETA_C_ISING = 0.5 * math.log(1 + math.sqrt(2))  # Onsager, for J = 1


def fail(msg):
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    sys.exit(1)


def warn(msg):
    print(f"{PROG}: warning: {msg}", file=sys.stderr)


def parse_list(text, sep=","):
    try:
        return [float(v) for v in text.split(sep) if v.strip()]
    except ValueError:
        return []


# --- Reading ------------------------------------------------------------------


def load(path):
    try:
        out = zeta.open(path)
    except zeta.Error as e:
        fail(str(e))
    with out:
        if out.checkpoint:
            fail(f"'{path}' is a zeta {out.command} checkpoint, not an output file: pass the file named by "
                 "output.file")
        command = out.command
        if "temper/betas" not in out:
            what = f"a zeta {command} output" if command else "not a zeta temper output"
            fail(f"'{path}' has no /temper group ({what}; this script reads the files of `zeta temper`)")
        if command not in (None, "temper"):
            fail(f"'{path}' was written by zeta {command}, not by zeta temper")
        for name in ("betas", "acceptance", "flow", "round_trips"):
            if f"temper/{name}" not in out:
                fail(f"'{path}' has no /temper/{name} (not a complete zeta temper output)")
        d = {"config": out.config, "ranks": out.attrs.get("ranks", "?")}
        for name in ("betas", "acceptance", "flow", "round_trips", "mean_energy", "mean_energy_stderr",
                     "tau_int", "mean_abs_magnetization", "mean_abs_magnetization_stderr"):
            if f"temper/{name}" in out:
                d[name] = np.asarray(out[f"temper/{name}"])
        # Axis labels with the units the file gives (attribute `units`), when it does.
        # Files that predate the units attributes: the units zeta writes now.
        d["beta_units"] = out.units("temper/betas", "1/kT")
        d["e_units"] = out.units("temper/energy", out.units("temper/mean_energy", "kT"))
        d["x_units"] = out.units("temper/x")
        d["tau_units"] = out.units("temper/tau_int", "step")
        K = d["betas"].size
        if K < 2 or d["acceptance"].size != K - 1 or d["flow"].size != K or d["round_trips"].size % K:
            fail(f"'{path}': inconsistent shapes: /temper/betas {d['betas'].shape}, /temper/acceptance "
                 f"{d['acceptance'].shape}, /temper/flow {d['flow'].shape}, /temper/round_trips "
                 f"{d['round_trips'].shape}")
        d["K"] = K
        d["copies"] = d["round_trips"].size // K

        # Saved rows: [saved, K] or [saved, copies, K]; rows past samples_saved are unwritten.
        d["rows"] = 0
        d["interrupted"] = False
        d["stride"] = 1
        if "temper/energy" in out:
            de = out.h5["temper/energy"]
            if de.ndim == 2:
                shape_ok = de.shape[1] == K and d["copies"] == 1
            elif de.ndim == 3:
                shape_ok = de.shape[2] == K and de.shape[1] == d["copies"]
            else:
                shape_ok = False
            if not shape_ok:
                fail(f"'{path}': unexpected shape of /temper/energy {de.shape} for K = {K}, "
                     f"{d['copies']} copies")
            rows = de.shape[0]
            if out.saved is not None:
                d["interrupted"] = out.saved < rows
                rows = min(rows, max(out.saved, 0))
            stride = max(1, -(-rows // MAX_ROWS))
            d["rows"], d["stride"] = rows, stride
            # Always [rows, copies, K] from here on.
            e = de[0:rows:stride]
            d["energy"] = e.reshape(e.shape[0], d["copies"], K)
            g = out.h5["temper"]
            if "magnetization" in g and g["magnetization"].shape == de.shape:
                m = g["magnetization"][0:rows:stride]
                d["magnetization"] = m.reshape(m.shape[0], d["copies"], K)
            if "x" in g:
                dx = g["x"]
                if dx.ndim == 3 and dx.shape[0] == de.shape[0]:
                    d["x"] = dx[0:rows:stride]
                else:
                    warn(f"unexpected shape of /temper/x {dx.shape}: no state plot")
    return d


def with_units(text, units):
    return f"{text} [{units}]" if units and units != "1" else text


# --- Helpers ------------------------------------------------------------------


def model_type(d):
    return cfg_get(d["config"], "model", "type", "?")


def is_ising(d):
    return model_type(d) == "ising"


def title_of(path, d):
    cp = d["config"]
    model = model_type(d)
    if model == "ising":
        model += f" L={cfg_get(cp, 'model', 'L', '?')}"
    t = (f"{os.path.basename(path)}: {model}, {cfg_get(cp, 'sampler', 'type', '?')}, K={d['K']} levels"
         f" x {d['copies']} cop{'y' if d['copies'] == 1 else 'ies'}, scheme {cfg_get(cp, 'temper', 'scheme', '?')}, "
         f"adapt {cfg_get(cp, 'temper', 'adapt', '?')}, {d['ranks']} rank(s)")
    if d["rows"]:
        t += f", {d['rows']} saved rows"
        if d["stride"] > 1:
            t += f" (every {d['stride']}th shown)"
    if d["interrupted"]:
        t += " [interrupted run]"
    return t


def log_scale(betas):
    """Log axis for ladders spanning more than a decade (and strictly positive)."""
    return betas[0] > 0 and betas[-1] / betas[0] > 10


def beta_axis(ax, d, label=None):
    if label is None:
        label = with_units(r"inverse temperature $\beta$", d.get("beta_units"))
    b = d["betas"]
    if log_scale(b):
        ax.set_xscale("log")
    ax.set_xlabel(label)
    for v in b:  # the ladder as a rug
        ax.axvline(v, color="0.85", lw=0.6, zorder=0)
    if is_ising(d):
        J = cfg_float(d["config"], "model", "J", 1.0)
        h = cfg_float(d["config"], "model", "h", 0.0)
        if J > 0 and h == 0:
            bc = BETA_C_ISING / J
            if b[0] <= bc <= b[-1]:
                ax.axvline(bc, color="tab:red", lw=1, ls="--", label=rf"$\beta_c$ = {bc:.4f}")


def pair_midpoints(b):
    return np.sqrt(b[:-1] * b[1:]) if log_scale(b) else 0.5 * (b[:-1] + b[1:])


def finish(fig, path, d, out):
    fig.suptitle(title_of(path, d), fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


# --- Plots --------------------------------------------------------------------


def plot_acceptance(path, d, out):
    b, a = d["betas"], d["acceptance"]
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    beta_axis(ax, d)
    # Each pair as a horizontal segment over its interval, and a marker at its middle.
    for k in range(len(a)):
        ax.plot([b[k], b[k + 1]], [a[k], a[k]], color="tab:blue", lw=2, alpha=0.5)
    ok = np.isfinite(a)
    barrier = float(np.sum(1 - a[ok]))
    ax.plot(pair_midpoints(b)[ok], a[ok], "o", color="tab:blue",
            label=f"pair (k, k+1): mean {np.mean(a[ok]):.3f}, min {np.min(a[ok]):.3f}" if ok.any() else None)
    if (~ok).any():
        ax.plot(pair_midpoints(b)[~ok], np.zeros((~ok).sum()), "x", color="tab:red", label="never tried")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("swap acceptance")
    ax.set_title(rf"$\sum_k$ (1 - acceptance) = {barrier:.2f}  (~ barrier $\Lambda$)", fontsize=9)
    ax.legend(loc="lower left", fontsize=8)
    return finish(fig, path, d, out)


def plot_flow(path, d, out):
    b, f = d["betas"], d["flow"]
    K = d["K"]
    fig, (ax, ax1) = plt.subplots(1, 2, figsize=(12, 4.5))
    beta_axis(ax, d)
    ax.plot(b, f, "o-", color="tab:green", label=r"$f(\beta)$")
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel(r"flow fraction $f(\beta)$ (coming from $\beta_{min}$)")
    ax.legend(loc="upper right", fontsize=8)
    k = np.arange(K)
    ax1.plot(k, f, "o-", color="tab:green", label=r"$f(\beta_k)$")
    ax1.plot(k, 1 - k / (K - 1), "--", color="0.4", label="ideal: 1 - k / (K - 1)")
    ax1.set_xlabel("level k (0 = hottest)")
    ax1.set_ylabel(r"flow fraction $f(\beta_k)$")
    ax1.set_ylim(-0.03, 1.03)
    ax1.legend(loc="upper right", fontsize=8)
    return finish(fig, path, d, out)


def plot_round_trips(path, d, out):
    rt = d["round_trips"]
    K, copies = d["K"], d["copies"]
    fig, ax = plt.subplots(figsize=(max(7.0, min(16.0, 0.12 * rt.size + 4)), 4.5))
    cmap = plt.get_cmap("tab10")
    ids = np.arange(rt.size)
    for c in range(copies):
        sl = slice(c * K, (c + 1) * K)
        ax.bar(ids[sl], rt[sl], width=0.85, color=cmap(c % 10),
               label=f"copy {c}: {int(rt[sl].sum())}" if copies <= 12 else None)
    ax.axhline(rt.mean(), color="k", lw=1, ls="--", label=f"mean {rt.mean():.2f} per replica")
    ax.set_xlabel("replica id (copy * K + starting level)")
    ax.set_ylabel("round trips (hottest -> coldest -> hottest)")
    ax.set_title(f"{int(rt.sum())} round trips in total, {int(np.sum(rt == 0))} of {rt.size} "
                 "replicas without any", fontsize=9)
    ax.set_xlim(-0.6, rt.size - 0.4)
    ax.set_ylim(0, 1.3 * max(1, int(rt.max())))  # room for the legend
    ax.legend(loc="upper right", fontsize=8, ncol=2 if copies > 4 else 1)
    return finish(fig, path, d, out)


def hist_edges(values, logx):
    """Common bin edges; on integer-valued data (Ising) the bins are whole multiples of the lattice step."""
    lo, hi = float(values.min()), float(values.max())
    if logx:
        return np.geomspace(lo, hi, HIST_BINS + 1)
    if hi <= lo:
        return np.array([lo - 0.5, hi + 0.5])
    if np.all(values == np.round(values)):
        u = np.unique(values).astype(np.int64)
        step = int(np.gcd.reduce(np.diff(u))) if u.size > 1 else 1
        step = max(step, 1)
        width = step * max(1, math.ceil((hi - lo) / step / HIST_BINS))
        return np.arange(lo - 0.5 * step, hi + width, width)
    return np.linspace(lo, hi, HIST_BINS + 1)


def plot_energy_hist(path, d, out):
    e = d["energy"]  # [rows, copies, K]
    b = d["betas"]
    K = d["K"]
    per_level = [e[:, :, k].reshape(-1) for k in range(K)]
    per_level = [v[np.isfinite(v)] for v in per_level]
    allv = np.concatenate(per_level)
    if allv.size == 0:
        warn("no finite saved energies: no energy histogram")
        return None
    # Continuous models spread their energies like 1/beta: a log axis keeps every level visible.
    logx = bool(allv.min() > 0 and np.percentile(allv, 99) / np.percentile(allv, 1) > 30)
    edges = hist_edges(allv, logx)
    # On the log axis: density per decade of E (equal areas for equal counts).
    dlog = float(np.log10(edges[1] / edges[0])) if logx else 1.0
    norm = colors.LogNorm(b[0], b[-1]) if log_scale(b) else colors.Normalize(b[0], b[-1])
    cmap = plt.get_cmap("coolwarm_r")  # red = hot (small beta), blue = cold
    fig, ax = plt.subplots(figsize=(9, 5))
    for k in range(K):
        v = per_level[k]
        if v.size:
            kw = dict(weights=np.full(v.size, 1 / (v.size * dlog))) if logx else dict(density=True)
            ax.hist(v, bins=edges, histtype="stepfilled", alpha=0.25, color=cmap(norm(b[k])), **kw)
            ax.hist(v, bins=edges, histtype="step", lw=1.1, color=cmap(norm(b[k])), **kw)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(with_units("energy E", d.get("e_units")) + (" (log scale)" if logx else ""))
    ax.set_ylabel("density per decade of E" if logx else "density")
    n = e.shape[0] * e.shape[1]
    ax.set_title(f"saved energies per level ({n} per level, pooled over {e.shape[1]} "
                 f"cop{'y' if e.shape[1] == 1 else 'ies'}); overlapping neighbours swap often", fontsize=9)
    sm = cm.ScalarMappable(norm=norm, cmap=cmap)
    sm.set_array([])
    cb = fig.colorbar(sm, ax=ax, label=with_units(r"$\beta$", d.get("beta_units")))
    for v in b:
        cb.ax.axhline(v, color="k", lw=0.5)
    return finish(fig, path, d, out)


def plot_x(path, d, out):
    x = d["x"]  # [rows, copies, dim]
    rows, copies, dim = x.shape
    b_target = d["betas"][-1]
    rng = np.random.default_rng(0)
    cp = d["config"]
    cmap = plt.get_cmap("tab10")
    if dim == 1:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        v = x.reshape(-1)
        v = v[np.isfinite(v)]
        ax.hist(v, bins=100, density=True, color="tab:blue", alpha=0.7)
        ax.set_xlabel(with_units("$x_0$", d.get("x_units")))
        ax.set_ylabel("density")
        ax.set_title(rf"states at the target $\beta$ = {b_target:.4g} ({v.size} samples)", fontsize=9)
        return finish(fig, path, d, out)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    total = rows * copies
    per_copy = max(1, MAX_SCATTER // copies)
    for c in range(copies):
        p = x[:, c, :2]
        p = p[np.all(np.isfinite(p), axis=1)]
        if len(p) > per_copy:
            p = p[rng.choice(len(p), size=per_copy, replace=False)]
        ax.scatter(p[:, 0], p[:, 1], s=3, alpha=0.5, linewidths=0, color=cmap(c % 10),
                   label=f"copy {c}" if copies <= 10 else None)
    shown = min(total, per_copy * copies)
    ax.set_xlabel(with_units("$x_0$", d.get("x_units")))
    ax.set_ylabel(with_units("$x_1$", d.get("x_units")))
    ax.set_aspect("equal", adjustable="datalim")
    t = rf"states at the target $\beta$ = {b_target:.4g}: {total} samples"
    if shown < total:
        t += f" ({shown} shown)"
    if dim > 2:
        t += f", first 2 of {dim} coordinates"
    ax.set_title(t, fontsize=9)
    # Gaussian mixtures: share of the samples nearest to each mean, against its weight.
    if model_type(d) == "gmm":
        means = [parse_list(m) for m in cfg_get(cp, "model", "means").split(";") if m.strip()]
        weights = parse_list(cfg_get(cp, "model", "weights"))
        if means and all(len(m) == dim for m in means):
            mu = np.array(means)
            pts = x.reshape(-1, dim)
            pts = pts[np.all(np.isfinite(pts), axis=1)]
            near = np.argmin(((pts[:, None, :] - mu[None, :, :]) ** 2).sum(axis=2), axis=1)
            share = np.bincount(near, minlength=len(mu)) / max(1, len(pts))
            w = np.array(weights) / np.sum(weights) if len(weights) == len(mu) and np.sum(weights) > 0 else None
            ax.plot(mu[:, 0], mu[:, 1], "k+", ms=12, mew=1.5)
            for i, m in enumerate(mu):
                txt = f"{share[i]:.3f}" + (f"\n(w {w[i]:.3f})" if w is not None else "")
                ax.annotate(txt, (m[0], m[1]), xytext=(8, 8), textcoords="offset points", fontsize=8,
                            bbox=dict(boxstyle="round", fc="white", alpha=0.8))
            ax.plot([], [], "k+", label="means: share of samples (weight)")
    ax.legend(loc="best", markerscale=4, fontsize=8)
    return finish(fig, path, d, out)


def plot_mean_energy(path, d, out):
    b = d["betas"]
    E = d.get("mean_energy")
    if E is None or not np.isfinite(E).any():
        warn("no mean energies (run stopped within the burn-in?): no mean-energy plot")
        return None
    se = d.get("mean_energy_stderr", np.full_like(E, np.nan))
    tau = d.get("tau_int")
    mag = d.get("mean_abs_magnetization")
    panels = 1 + (tau is not None) + (mag is not None)
    fig, axes = plt.subplots(panels, 1, figsize=(7.5, 3.2 * panels + 0.6), sharex=True, squeeze=False)
    axes = axes[:, 0]
    ax = axes[0]
    beta_axis(ax, d, label="")
    ax.errorbar(b, E, yerr=np.where(np.isfinite(se), se, 0), fmt="o-", color="tab:purple", ms=4, capsize=3,
                label=r"mean energy $\pm$ standard error")
    ax.set_ylabel(with_units(r"$\langle E \rangle_\beta$", d.get("e_units")))
    ax.set_title(rf"target $\beta$ = {b[-1]:.4g}: $\langle E \rangle$ = {E[-1]:.6g} $\pm$ {se[-1]:.2g}",
                 fontsize=9)
    ax.legend(loc="best", fontsize=8)
    i = 1
    if mag is not None:
        ax = axes[i]
        i += 1
        beta_axis(ax, d, label="")
        mse = d.get("mean_abs_magnetization_stderr", np.full_like(mag, np.nan))
        ax.errorbar(b, mag, yerr=np.where(np.isfinite(mse), mse, 0), fmt="o-", color="tab:orange", ms=4,
                    capsize=3, label=r"mean |m| per spin $\pm$ standard error")
        ax.set_ylabel(r"$\langle |m| \rangle_\beta$")
        ax.set_ylim(0, 1.02)
        ax.legend(loc="best", fontsize=8)
    if tau is not None:
        ax = axes[i]
        beta_axis(ax, d, label="")
        ax.plot(b, tau, "s-", color="tab:gray", ms=4, label=r"$\tau_{int}$ of the energy at level k")
        ax.set_ylabel(with_units(r"$\tau_{int}$", d.get("tau_units")))
        ax.set_ylim(bottom=0)
        ax.legend(loc="best", fontsize=8)
    axes[-1].set_xlabel(with_units(r"inverse temperature $\beta$", d.get("beta_units")))
    return finish(fig, path, d, out)


# --- Main -----------------------------------------------------------------------


def output_prefix(file, out):
    name = os.path.basename(file)
    name = name[:-3] if name.endswith(".h5") else name
    if out is None:
        return file[:-3] if file.endswith(".h5") else file
    if os.path.isdir(out) or out.endswith(os.sep):
        try:
            os.makedirs(out, exist_ok=True)
        except OSError as e:
            fail(f"cannot create output directory '{out}' ({e})")
        return os.path.join(out, name)
    outdir = os.path.dirname(out)
    if outdir and not os.path.isdir(outdir):
        fail(f"output directory '{outdir}' does not exist (end OUTDIR with '/' to create it)")
    return out


def main():
    ap = argparse.ArgumentParser(
        description="Plot the diagnostics and samples of a `zeta temper` HDF5 file.",
        epilog="OUT is a directory if it exists as one or ends with '/', else a file-name prefix.")
    ap.add_argument("file", help="HDF5 file written by zeta temper (its output.file)")
    ap.add_argument("out", nargs="?", help="output directory or prefix (default: FILE without .h5)")
    ap.add_argument("-o", "--prefix", help="output prefix (same as OUT)")
    args = ap.parse_args()
    if args.out is not None and args.prefix is not None:
        fail("give the output location once (OUT or -o PREFIX)")
    d = load(args.file)
    prefix = output_prefix(args.file, args.out if args.out is not None else args.prefix)

    written = [
        plot_acceptance(args.file, d, prefix + "_acceptance.png"),
        plot_flow(args.file, d, prefix + "_flow.png"),
        plot_round_trips(args.file, d, prefix + "_round_trips.png"),
    ]
    if "energy" in d and d["rows"] > 0:
        written.append(plot_energy_hist(args.file, d, prefix + "_energy_hist.png"))
        if "x" in d:
            written.append(plot_x(args.file, d, prefix + "_x.png"))
    elif "energy" in d:
        warn("no saved rows (samples_saved = 0): no energy histogram or state plot")
    else:
        warn("no /temper/energy (run.save_every = 0?): no energy histogram or state plot")
    written.append(plot_mean_energy(args.file, d, prefix + "_mean_energy.png"))
    for name in written:
        if name:
            print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
