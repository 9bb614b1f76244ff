#!/usr/bin/python3
"""Plot the ln Z estimates of zeta (free-energy, temper, ais) and the AIS log-weights.

Usage:
    plot_log_z.py [--exact FILE] [-o PREFIX] INPUT...

Each INPUT is either
  * a text file holding the one-line JSON summaries that zeta prints on stdout, one
    JSON object per line (lines not starting with '{' are ignored), of
        zeta free-energy FILE.h5   betas, log_z (MBAR), log_z_stderr, log_z_bar,
                                   log_z_bar_stderr, log_z_ti, log_z_ti_stderr,
                                   log_z_reference
        zeta temper                betas, log_z_bar, log_z_bar_stderr, log_z_reference
                                   (ln Z by BAR along the ladder, when present)
        zeta ais                   beta, log_z, log_z_stderr, and with ais.reverse = true
                                   log_z_lower, log_z_upper, log_z_upper_stderr
  * or an HDF5 file written by `zeta ais` (root attribute command = "ais"):
        /ais/log_weights [chains], /ais/reverse_log_weights [chains] (ais.reverse = true),
        /ais/betas [steps + 1]; with ais.method = smc the /smc/ diagnostics per step
        (replicate, betas, ess, conditional_ess, resampled, acceptance, log_z_increment)

Writes
    PREFIX_log_z.png        (when JSON estimates are given) top: ln Z against beta, one
                            series per method and file, with standard-error bars; AIS
                            points with their [lower, upper] sandwich as a vertical bar;
                            the exact curve with --exact. Bottom: the differences from
                            the reference (the --exact values, else the MBAR values of the
                            first free-energy summary, else the first series), where the
                            error bars are visible; the points of the series are spread
                            a little along beta so that their bars do not hide each other.
    PREFIX_ais_weights.png  for each ais HDF5 file (PREFIX_STEM_ais_weights.png when
                            several): histogram of the forward log-weights and of minus
                            the reverse log-weights, both shifted by ln Z_0 of the base
                            distribution (so on the ln Z scale) when it is known from the
                            stored configuration, with the log-mean-exp (the ln Z
                            estimate), the effective sample size ESS = (sum w)^2 / sum w^2
                            (w = exp(logw - max)) and the variance of the log-weights;
                            right: the share of sum w carried by the largest weights.
    PREFIX_smc.png          for each ais HDF5 file of ais.method = smc instead: per step,
                            one line per replicate, the beta schedule chosen (and its step
                            in beta, a running mean on a log axis), the ESS and
                            conditional ESS (fractions of the particles) with the
                            resampling events marked, the acceptance of the moves, and
                            the running ln Z (base ln Z + the increments so far).
The names of the files written are printed on stdout, one per line.

PREFIX: -o PREFIX; a directory if it exists as one or ends with '/' (created then):
DIR/STEM_* with STEM the input's name without its extension. Default: the first JSON
input without its extension for the ln Z plot, each HDF5 file without .h5 for its
weights plot.

--exact FILE: text file of "beta lnZ" lines ('#' starts a comment), e.g. from an
enumeration. Values at betas not in the file are interpolated linearly (a warning says
so when the neighbouring exact betas are far apart).

Estimates "relative to betas[0]" (ladders with beta_min > 0: ln Z(beta_0) := 0) are
shifted by the reference value at beta_0 when the reference is absolute and has that beta.

Needs Debian's python3-h5py, python3-numpy and python3-matplotlib, hence the
/usr/bin/python3 shebang. Exit status: 0 on success, 1 on a bad or unusable input.
"""

import argparse
import json
import math
import os
import sys

import numpy as np

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from zeta import attr_str, cfg_float, cfg_get, read_config  # noqa: E402 (analysis/zeta.py, next to this script)

PROG = os.path.basename(sys.argv[0])
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
BETA_TOL = 1e-9           # betas closer than this (relative to max(1, |beta|)) are the same
INTERP_WARN_GAP = 0.02    # warn when an exact value is interpolated over a wider beta gap
HIST_BINS_MAX = 80

METHOD_STYLE = {          # marker, colour family
    "MBAR": ("o", "tab:blue"),
    "BAR": ("s", "tab:orange"),
    "TI": ("^", "tab:green"),
    "AIS": ("D", "tab:red"),
}
EXTRA_COLOURS = ["tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray",
                 "navy", "darkgreen", "maroon", "goldenrod"]


def fail(msg):
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    sys.exit(1)


def warn(msg):
    print(f"{PROG}: warning: {msg}", file=sys.stderr)


def same_beta(a, b):
    return abs(a - b) <= BETA_TOL * max(1.0, abs(a), abs(b))


# --- Reading the JSON summaries -------------------------------------------------


class Series:
    """ln Z estimates of one method from one summary line."""

    def __init__(self, method, source, betas, log_z, stderr, relative=False):
        self.method = method
        self.source = source              # "file[:line]"
        self.betas = np.asarray(betas, dtype=float)
        self.log_z = np.asarray(log_z, dtype=float)
        self.stderr = np.asarray(stderr, dtype=float)
        self.relative = relative          # ln Z(betas[0]) := 0
        self.shift = 0.0                  # added when a relative series is aligned to the reference
        self.shift_note = ""
        self.unaligned = False            # relative, and no reference value at beta_0 to align it with
        # AIS sandwich (same length as betas, NaN where absent)
        self.lower = None
        self.upper = None
        self.upper_stderr = None

    @property
    def label(self):
        return f"{self.method} ({self.source})"

    @property
    def values(self):
        return self.log_z + self.shift


def as_floats(value, what, where, length=None):
    """A JSON number or list of numbers (null = NaN) as a float array."""
    if value is None:
        value = [None] if length is None else [None] * length
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list):
        fail(f"{where}: '{what}' is not a number or a list of numbers")
    out = []
    for v in value:
        if v is None:
            out.append(math.nan)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append(float(v))
        else:
            fail(f"{where}: '{what}' holds a non-number ({v!r})")
    if length is not None and len(out) != length:
        fail(f"{where}: '{what}' has {len(out)} values, 'betas' has {length}")
    return np.array(out, dtype=float)


def is_relative(obj):
    ref = obj.get("log_z_reference")
    return isinstance(ref, str) and ref.startswith("relative")


def series_from_object(obj, where):
    """The ln Z series of one summary line; [] for zeta summaries without any (with a warning)."""
    cmd = obj.get("command")
    status = obj.get("status", "ok")
    if cmd in ("free-energy", "temper", "ais") and status != "ok":
        warn(f"{where}: zeta {cmd} reported status '{status}': its estimates may be incomplete")
    if cmd == "free-energy":
        if "betas" not in obj or "log_z" not in obj:
            fail(f"{where}: a zeta free-energy summary without 'betas' or 'log_z'")
        b = as_floats(obj["betas"], "betas", where)
        if b.size == 0:
            fail(f"{where}: empty 'betas'")
        rel = is_relative(obj)
        out = []
        for method, key in (("MBAR", "log_z"), ("BAR", "log_z_bar"), ("TI", "log_z_ti")):
            if key in obj:
                out.append(Series(method, where, b, as_floats(obj[key], key, where, b.size),
                                  as_floats(obj.get(key + "_stderr"), key + "_stderr", where, b.size), rel))
        return out
    if cmd == "temper":
        if "log_z_bar" not in obj:
            warn(f"{where}: zeta temper summary without 'log_z_bar' (no ln Z estimates): skipped")
            return []
        if "betas" not in obj:
            fail(f"{where}: a zeta temper summary with 'log_z_bar' but no 'betas'")
        b = as_floats(obj["betas"], "betas", where)
        return [Series("BAR", where, b, as_floats(obj["log_z_bar"], "log_z_bar", where, b.size),
                       as_floats(obj.get("log_z_bar_stderr"), "log_z_bar_stderr", where, b.size),
                       is_relative(obj))]
    if cmd == "ais":
        for key in ("beta", "log_z"):
            if key not in obj:
                fail(f"{where}: a zeta ais summary without '{key}'")
        s = Series("AIS", where, as_floats(obj["beta"], "beta", where), as_floats(obj["log_z"], "log_z", where),
                   as_floats(obj.get("log_z_stderr"), "log_z_stderr", where))
        if s.betas.size != 1 or s.log_z.size != 1:
            fail(f"{where}: 'beta' and 'log_z' of a zeta ais summary must be single numbers")
        s.lower = as_floats(obj.get("log_z_lower"), "log_z_lower", where)
        s.upper = as_floats(obj.get("log_z_upper"), "log_z_upper", where)
        s.upper_stderr = as_floats(obj.get("log_z_upper_stderr"), "log_z_upper_stderr", where)
        return [s]
    if isinstance(cmd, str):
        warn(f"{where}: a zeta {cmd} summary has no ln Z estimates: skipped")
        return []
    fail(f"{where}: not a zeta summary (no 'command' key; expected the JSON line printed by "
         "zeta free-energy, temper or ais)")


def read_json_file(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
    except OSError as e:
        fail(f"cannot read '{path}' ({e.strerror or e})")
    name = os.path.basename(path)
    objects = []
    for i, line in enumerate(lines, 1):
        if not line.lstrip().startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            fail(f"{path}:{i}: invalid JSON ({e.msg} at column {e.colno})")
        if not isinstance(obj, dict):
            fail(f"{path}:{i}: not a JSON object")
        objects.append((i, obj))
    if not objects:
        fail(f"'{path}' holds no JSON object line (expected the stdout of zeta free-energy, temper or ais)")
    series = []
    # Name the line only when the file has several summaries.
    for i, obj in objects:
        where = f"{name}:{i}" if len(objects) > 1 else name
        series += series_from_object(obj, where)
    if not series:
        fail(f"'{path}' has no ln Z estimates (no zeta free-energy, ais or temper summary with log_z)")
    # One AIS series per file: its points (several runs at different betas) together.
    ais = [s for s in series if s.method == "AIS"]
    if len(ais) > 1:
        merged = Series("AIS", name, np.concatenate([s.betas for s in ais]), np.concatenate([s.log_z for s in ais]),
                        np.concatenate([s.stderr for s in ais]))
        for key in ("lower", "upper", "upper_stderr"):
            setattr(merged, key, np.concatenate([getattr(s, key) for s in ais]))
        series = [s for s in series if s.method != "AIS"] + [merged]
    return series


def read_exact(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
    except OSError as e:
        fail(f"--exact: cannot read '{path}' ({e.strerror or e})")
    rows = []
    for i, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        parts = text.replace(",", " ").split()
        try:
            if len(parts) < 2:
                raise ValueError
            b, z = float(parts[0]), float(parts[1])
        except ValueError:
            fail(f"--exact: {path}:{i}: expected 'beta lnZ', got {line.strip()[:60]!r}")
        if not (math.isfinite(b) and math.isfinite(z)):
            fail(f"--exact: {path}:{i}: non-finite value")
        rows.append((b, z))
    if not rows:
        fail(f"--exact: '{path}' holds no 'beta lnZ' line")
    a = np.array(sorted(rows))
    if np.any(np.diff(a[:, 0]) == 0):
        keep = np.concatenate([[True], np.diff(a[:, 0]) > 0])
        warn(f"--exact: '{path}' repeats some betas: the first value of each is used")
        a = a[keep]
    return a[:, 0], a[:, 1]


# --- Reference and alignment ------------------------------------------------------


class Reference:
    """ln Z values to subtract in the lower panel: exact (interpolated) or one series (betas must match)."""

    def __init__(self, name, betas, values, stderr=None, relative=False, exact=False):
        self.name = name
        self.betas = betas
        self.vals = values
        self.stderr = stderr
        self.relative = relative
        self.exact = exact
        self.interp_warned = False
        self.series = None                # the series that is the reference, if one is

    def at(self, beta):
        """(value, stderr) at beta, or None."""
        b = self.betas
        if self.exact:
            if beta < b[0] - BETA_TOL or beta > b[-1] + BETA_TOL:
                return None
            j = int(np.searchsorted(b, beta))
            for k in (j - 1, j):
                if 0 <= k < b.size and same_beta(b[k], beta):
                    return float(self.vals[k]), 0.0
            gap = b[j] - b[j - 1]
            if gap > INTERP_WARN_GAP and not self.interp_warned:
                warn(f"--exact: interpolating linearly over beta gaps up to {gap:.3g} wide (e.g. at beta = "
                     f"{beta:.6g}); ln Z is convex, so add the needed betas to the file for accurate differences")
                self.interp_warned = True
            return float(np.interp(beta, b, self.vals)), 0.0
        for k in range(b.size):
            if same_beta(b[k], beta) and math.isfinite(self.vals[k]):
                se = self.stderr[k] if self.stderr is not None else 0.0
                return float(self.vals[k]), float(se) if math.isfinite(se) else 0.0
        return None


def choose_reference(series, exact):
    if exact is not None:
        return Reference(f"exact ({os.path.basename(exact[0])})", exact[1], exact[2], exact=True)
    order = ["MBAR", "BAR", "TI", "AIS"]
    candidates = [(s.relative, order.index(s.method), i) for i, s in enumerate(series)
                  if s.method in order and np.isfinite(s.log_z).any()]
    if candidates:  # absolute before relative, then by method, then in input order
        s = series[min(candidates)[2]]
        ref = Reference(s.label, s.betas, s.log_z, s.stderr, relative=s.relative)
        ref.series = s
        return ref
    fail("no finite ln Z value in any input")


def align(series, ref):
    """Shift the relative series by the reference's ln Z(beta_0) (absolute reference), or say why not."""
    for s in series:
        if not s.relative:
            continue
        if ref.relative:
            if ref.betas.size and same_beta(ref.betas[0], s.betas[0]):
                continue  # same convention, same beta_0
            warn(f"{s.label}: ln Z relative to beta_0 = {s.betas[0]:.6g}, the reference to beta_0 = "
                 f"{ref.betas[0]:.6g}: plotted as it is, and left out of the difference panel")
            s.shift_note = " [rel. to $\\beta_0$]"
            s.unaligned = True
            continue
        r = ref.at(float(s.betas[0]))
        if r is None:
            warn(f"{s.label}: ln Z relative to beta_0 = {s.betas[0]:.6g}, where the reference has no value: "
                 "plotted as it is, and left out of the difference panel")
            s.shift_note = " [rel. to $\\beta_0$]"
            s.unaligned = True
        else:
            s.shift = r[0]
            s.shift_note = r" [+ ref. ln Z($\beta_0$)]"
    if ref.relative and not ref.exact:
        for s in series:
            if not s.relative:
                warn(f"{s.label}: absolute ln Z compared with a reference relative to beta_0 = {ref.betas[0]:.6g}: "
                     "the differences include ln Z(beta_0)")


# --- The ln Z plot ---------------------------------------------------------------------


def colour_of(series):
    """Method colour for the first series of each method, then other colours."""
    used = {}
    extra = iter(EXTRA_COLOURS * 10)
    out = []
    for s in series:
        base = METHOD_STYLE.get(s.method, ("o", "k"))[1]
        if base not in used.values() and s.method not in used:
            used[s.method] = base
            out.append(base)
        else:
            out.append(next(extra))
    return out


def wrap_names(names, width=110):
    lines, cur = [], ""
    for n in names:
        add = (", " if cur else "") + n
        if cur and len(cur) + len(add) > width:
            lines.append(cur + ",")
            cur = n
        else:
            cur += add
    lines.append(cur)
    return "\n".join(lines)


def plot_log_z(series, ref, exact, inputs, out):
    colours = colour_of(series)
    allb = np.concatenate([s.betas for s in series])
    lo, hi = float(np.nanmin(allb)), float(np.nanmax(allb))
    span = hi - lo if hi > lo else max(1.0, abs(hi))
    dodge = 0.006 * span
    n = len(series)

    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(9, 8.5), sharex=True,
                                  gridspec_kw=dict(height_ratios=[1, 1.15]))
    # Exact curve
    if exact is not None:
        eb, ez = exact[1], exact[2]
        pad = 0.03 * span
        m = (eb >= lo - pad) & (eb <= hi + pad)
        if m.sum() >= 2:
            ax.plot(eb[m], ez[m], "-", color="k", lw=1, alpha=0.7, label=f"exact ({os.path.basename(exact[0])})",
                    zorder=1)
        elif m.sum() == 1:
            ax.plot(eb[m], ez[m], "*", color="k", ms=9, label=f"exact ({os.path.basename(exact[0])})")
        else:
            warn("--exact: no exact value within the betas of the estimates")

    # Reference band in the difference panel
    ax2.axhline(0, color="k", lw=1)
    if not ref.exact and ref.stderr is not None:
        ok = np.isfinite(ref.vals) & np.isfinite(ref.stderr)
        if ok.sum() >= 2:
            ax2.fill_between(ref.betas[ok], -ref.stderr[ok], ref.stderr[ok], color="0.8", alpha=0.6, lw=0,
                             label="$\\pm$ standard error of the reference", zorder=0)
    if exact is not None and not ref.exact:
        # exact - reference where the reference has values
        pts = [(b, float(np.interp(b, exact[1], exact[2])) - ref.at(b)[0]) for b in ref.betas
               if ref.at(b) is not None and exact[1][0] <= b <= exact[1][-1]]
        if pts:
            p = np.array(pts)
            ax2.plot(p[:, 0], p[:, 1], "k*-", lw=1, ms=7, label="exact")

    stats = []
    for i, (s, c) in enumerate(zip(series, colours)):
        marker = METHOD_STYLE.get(s.method, ("o", "k"))[0]
        y, se = s.values, np.where(np.isfinite(s.stderr), s.stderr, 0.0)
        ok = np.isfinite(y)
        label = s.label + s.shift_note
        joined = s.betas.size > 1 and s.method != "AIS"  # AIS: separate runs, not a curve
        ax.errorbar(s.betas[ok], y[ok], yerr=se[ok], fmt=marker + ("-" if joined else ""), color=c,
                    ms=5, lw=1, capsize=3, alpha=0.85, label=label, zorder=3)
        off = (i - (n - 1) / 2) * dodge
        if s.method == "AIS":
            draw_sandwich(ax, s, c, 0.0, None)
            draw_sandwich(ax2, s, c, off, ref)
        # differences
        db, dy, de = [], [], []
        for b, v, e in zip(s.betas, y, se) if not s.unaligned else ():
            r = ref.at(float(b))
            if r is None or not math.isfinite(v):
                continue
            db.append(b)
            dy.append(v - r[0])
            de.append(e)
        if len(db) < int(ok.sum()) and not s.unaligned:
            warn(f"{s.label}: {int(ok.sum()) - len(db)} of {int(ok.sum())} points at betas where the reference "
                 f"({ref.name}) has no value: left out of the difference panel")
        if db and s is ref.series:
            # The reference itself: zero, its standard error is the grey band.
            ax2.plot(np.array(db) + off, dy, marker, color=c, ms=5, zorder=3)
        elif db:
            db, dy, de = np.array(db), np.array(dy), np.array(de)
            ax2.errorbar(db + off, dy, yerr=de, fmt=marker + ("-" if joined else ""), color=c, ms=5, lw=1,
                         capsize=3, alpha=0.85, zorder=3)
            txt = f"{s.label}: max |$\\Delta$| = {np.max(np.abs(dy)):.3g}"
            pos = de > 0
            if ref.exact and pos.any():
                z = np.abs(dy[pos]) / de[pos]
                txt += f", max |$\\Delta$|/$\\sigma$ = {z.max():.2f}, $\\chi^2$/n = {np.mean(z ** 2):.2f}"
            stats.append((txt, c))

    ax.set_ylabel(r"$\ln Z(\beta)$")
    ax.legend(loc="upper left", fontsize=7.5, ncol=1 if n < 6 else 2)
    ax.grid(alpha=0.3)
    ax.set_title(r"ln Z $\pm$ standard error per method; AIS: vertical bar = [lower, upper] sandwich", fontsize=9)

    ax2.set_xlabel(r"inverse temperature $\beta$")
    ax2.set_ylabel(r"$\ln Z - \ln Z_{\mathrm{ref}}$")
    ax2.set_title(f"difference from the reference: {ref.name}"
                  + ("" if ref.exact else " (betas must match)")
                  + (f"; series spread by {dodge:.2g} along $\\beta$" if n > 1 else ""), fontsize=9)
    ax2.grid(alpha=0.3)
    if stats:
        y0 = 0.98
        for txt, c in stats:
            ax2.text(0.01, y0, txt, transform=ax2.transAxes, fontsize=7, color=c, va="top",
                     bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.7))
            y0 -= 0.055
    h, lab = ax2.get_legend_handles_labels()
    if h:
        ax2.legend(loc="lower left", fontsize=7.5)
    # Room at the top of the difference panel for the statistics text.
    ylo, yhi = ax2.get_ylim()
    ax2.set_ylim(ylo, yhi + (yhi - ylo) * 0.06 * (len(stats) + 1))

    fig.suptitle("ln Z estimates from " + wrap_names([os.path.basename(p) for p in inputs]), fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def draw_sandwich(ax, s, c, off, ref):
    """AIS: [lower, upper] as a thick translucent bar; the upper bound with its standard error."""
    if s.lower is None or s.upper is None:
        return
    labelled = ref is not None  # the legend is in the upper panel
    for k in range(s.betas.size):
        lo, up = s.lower[k], s.upper[k]
        if not (math.isfinite(lo) and math.isfinite(up)):
            continue
        b = float(s.betas[k])
        sub = 0.0
        if ref is not None:
            r = ref.at(b)
            if r is None:
                continue
            sub = r[0]
        ax.plot([b + off, b + off], [lo - sub, up - sub], "-", color=c, lw=7, alpha=0.25, solid_capstyle="butt",
                zorder=2, label=None)
        use = s.upper_stderr[k] if s.upper_stderr is not None and math.isfinite(s.upper_stderr[k]) else 0.0
        ax.errorbar([b + off], [up - sub], yerr=[use], fmt="v", color=c, ms=6, capsize=3, mfc="white", zorder=3,
                    label=None if labelled else f"AIS upper bound (reverse) ({s.source})")
        labelled = True


# --- The AIS weights plot ------------------------------------------------------------------


def base_log_z(cp):
    """ln Z_0 of the AIS base distribution from the stored configuration, or None."""
    t = cfg_get(cp, "model", "type", "")
    try:
        if t == "ising":
            L = int(cfg_get(cp, "model", "L", ""))
            return L * L * math.log(2.0), "uniform spins"
        if t in ("gaussian", "double_well"):
            d = int(cfg_get(cp, "model", "dim", ""))
        elif t == "gmm":
            d = len([v for v in cfg_get(cp, "model", "means", "").split(";")[0].split(",") if v.strip()])
        elif t == "mlp":
            d = int(cfg_get(cp, "model", "layers", "").split(",")[0])
        else:
            return None
    except ValueError:
        return None
    if d < 1:
        return None
    s = cfg_float(cp, "ais", "base_scale", 1.0)
    return 0.5 * d * math.log(2 * math.pi * s * s), f"N(mu, {s:g}^2), dim {d}"


def weight_stats(logw):
    n = logw.size
    m = float(np.max(logw))
    e = np.exp(logw - m)
    s1, s2 = float(e.sum()), float((e * e).sum())
    mean = s1 / n
    var = max(0.0, s2 / n - mean * mean)
    return dict(lme=m + math.log(mean), se=math.sqrt(var / (n - 1)) / mean if n > 1 else math.nan,
                ess=s1 * s1 / s2, var=float(np.var(logw, ddof=1)) if n > 1 else math.nan,
                share=np.cumsum(np.sort(e)[::-1]) / s1)


def load_ais(path):
    try:
        import h5py
    except ImportError:
        fail("h5py is missing; run this script with /usr/bin/python3 (Debian python3-h5py)")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        fail(f"'{path}' is not a readable HDF5 file ({e})")
    with f:
        if "zeta_checkpoint" in f.attrs:
            fail(f"'{path}' is a zeta {attr_str(f.attrs['zeta_checkpoint'])} checkpoint, not an ais output file")
        command = attr_str(f.attrs["command"]) if "command" in f.attrs else None
        if command != "ais":
            what = f"it was written by zeta {command}" if command else "it has no root attribute 'command'"
            fail(f"'{path}' is not a zeta ais output ({what}); HDF5 inputs must come from `zeta ais`")
        if "smc" in f and isinstance(f["smc"], h5py.Group):
            g = f["smc"]
            d = {"smc": True, "config": read_config(f.attrs)}
            for key in ("replicate", "betas", "ess", "conditional_ess", "resampled", "acceptance", "log_z_increment"):
                if key not in g:
                    fail(f"'{path}' has no /smc/{key} (incomplete zeta ais --ais.method=smc output)")
                d[key] = np.asarray(g[key][()], dtype=float).reshape(-1)
            return d
        if "ais" not in f or not isinstance(f["ais"], h5py.Group) or "log_weights" not in f["ais"]:
            fail(f"'{path}' has no /ais/log_weights (incomplete zeta ais output)")
        g = f["ais"]
        d = {"config": read_config(f.attrs), "ranks": attr_str(f.attrs["ranks"]) if "ranks" in f.attrs else "?"}
        d["log_w"] = np.asarray(g["log_weights"][()], dtype=float).reshape(-1)
        if "reverse_log_weights" in g:
            d["log_w_rev"] = np.asarray(g["reverse_log_weights"][()], dtype=float).reshape(-1)
        if "betas" in g:
            d["betas"] = np.asarray(g["betas"][()], dtype=float).reshape(-1)
    for key in ("log_w", "log_w_rev"):
        if key not in d:
            continue
        w = d[key]
        bad = ~np.isfinite(w)
        if bad.all():
            fail(f"'{path}': no finite value in /ais/{'log_weights' if key == 'log_w' else 'reverse_log_weights'}")
        if bad.any():
            warn(f"'{path}': {int(bad.sum())} non-finite {'forward' if key == 'log_w' else 'reverse'} "
                 "log-weights left out")
            d[key] = w[~bad]
    return d


def plot_ais_weights(path, d, exact, out):
    cp = d["config"]
    base = base_log_z(cp)
    shift = base[0] if base else 0.0
    beta = d["betas"][-1] if "betas" in d and d["betas"].size else cfg_float(cp, "ais", "beta", math.nan)
    fw = d["log_w"]
    sf = weight_stats(fw)
    xf = fw + shift
    rv = d.get("log_w_rev")
    sr = weight_stats(rv) if rv is not None else None
    xr = shift - rv if rv is not None else None

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12.5, 5), gridspec_kw=dict(width_ratios=[1.7, 1]))
    allx = np.concatenate([xf, xr]) if xr is not None else xf
    edges = np.histogram_bin_edges(allx, bins="auto")
    if edges.size - 1 > HIST_BINS_MAX:
        edges = np.linspace(allx.min(), allx.max(), HIST_BINS_MAX + 1)
    if edges.size < 2 or edges[-1] <= edges[0]:
        edges = np.array([allx.min() - 0.5, allx.max() + 0.5])
    xname = r"$\ln Z_0 + \log w$" if base else r"$\log w$ (= $\ln Z/Z_0$ scale)"
    zname = "ln Z" if base else "ln(Z/Z$_0$)"
    lower = shift + sf["lme"]
    ax.hist(xf, bins=edges, histtype="stepfilled", alpha=0.35, color="tab:blue")
    ax.hist(xf, bins=edges, histtype="step", lw=1.3, color="tab:blue",
            label=f"forward {xname} ({fw.size} chains)")
    ax.axvline(lower, color="tab:blue", lw=1.6, ls="--",
               label=f"log-mean-exp: {zname} $\\geq$ {lower:.5g} $\\pm$ {sf['se']:.2g} (lower)")
    txt = [f"forward: ESS = {sf['ess']:.1f} of {fw.size} ({100 * sf['ess'] / fw.size:.1f}%), "
           f"var(log w) = {sf['var']:.3g}"]
    if xr is not None:
        upper = shift - sr["lme"]
        ax.hist(xr, bins=edges, histtype="stepfilled", alpha=0.35, color="tab:orange")
        ax.hist(xr, bins=edges, histtype="step", lw=1.3, color="tab:orange",
                label="reverse: " + (r"$\ln Z_0 - \log w_{rev}$" if base else r"$-\log w_{rev}$")
                + f" ({rv.size} chains)")
        ax.axvline(upper, color="tab:orange", lw=1.6, ls="--",
                   label=f"$-$log-mean-exp: {zname} $\\leq$ {upper:.5g} $\\pm$ {sr['se']:.2g} (upper)")
        txt.append(f"reverse: ESS = {sr['ess']:.1f} of {rv.size} ({100 * sr['ess'] / rv.size:.1f}%), "
                   f"var(log w) = {sr['var']:.3g}")
        txt.append(f"sandwich width = {upper - lower:.3g}  (densities cross near ln Z, Crooks)")
    if exact is not None and base and math.isfinite(beta):
        eb, ez = exact[1], exact[2]
        if eb[0] - BETA_TOL <= beta <= eb[-1] + BETA_TOL:
            ex = float(np.interp(beta, eb, ez))
            ax.axvline(ex, color="k", lw=1.2, zorder=5, label=f"exact ln Z = {ex:.5g} ({os.path.basename(exact[0])})")
        else:
            warn(f"--exact: no exact value at the AIS beta = {beta:.6g}")
    ax.text(0.01, 0.98, "\n".join(txt), transform=ax.transAxes, va="top", fontsize=8,
            bbox=dict(boxstyle="round", fc="white", alpha=0.85))
    ax.set_xlabel(xname + ("  [ln Z scale]" if base else ""))
    ax.set_ylabel("chains per bin")
    ymax = ax.get_ylim()[1]
    ax.set_ylim(0, ymax * (1.45 + 0.08 * len(txt)))  # room for the text and the legend
    ax.legend(loc="upper right", fontsize=7.5)
    ax.set_title((f"AIS log-weights at $\\beta$ = {beta:.6g}" if math.isfinite(beta) else "AIS log-weights")
                 + (f"; ln Z$_0$ = {base[0]:.6g} ({base[1]})" if base else "; ln Z$_0$ unknown: not shifted"),
                 fontsize=9)

    k = np.arange(1, fw.size + 1)
    ax2.plot(k, sf["share"], "-", color="tab:blue", lw=1.5, label=f"forward (ESS {sf['ess']:.0f})")
    ax2.axvline(sf["ess"], color="tab:blue", ls=":", lw=1)
    if sr is not None:
        k2 = np.arange(1, rv.size + 1)
        ax2.plot(k2, sr["share"], "-", color="tab:orange", lw=1.5, label=f"reverse (ESS {sr['ess']:.0f})")
        ax2.axvline(sr["ess"], color="tab:orange", ls=":", lw=1)
    ax2.plot(k, k / fw.size, "--", color="0.5", lw=1, label="equal weights")
    ax2.set_xscale("log")
    ax2.set_xlim(1, max(fw.size, rv.size if rv is not None else 1))
    ax2.set_ylim(0, 1.02)
    ax2.set_xlabel("number of largest weights")
    ax2.set_ylabel(r"share of $\sum w$")
    ax2.set_title("weight concentration (dotted: ESS)", fontsize=9)
    ax2.legend(loc="upper left", fontsize=7.5)
    ax2.grid(alpha=0.3)

    model = cfg_get(cp, "model", "type", "?")
    if model == "ising":
        model += f" L={cfg_get(cp, 'model', 'L', '?')}"
    steps = d["betas"].size - 1 if "betas" in d else cfg_get(cp, "ais", "steps", "?")
    fig.suptitle(f"{os.path.basename(path)}: zeta ais, {model}, {cfg_get(cp, 'sampler', 'type', '?')}, "
                 f"{steps} steps ({cfg_get(cp, 'ais', 'schedule', '?')}) x {cfg_get(cp, 'ais', 'sweeps', '?')} "
                 f"sweep(s), {fw.size} chains, {d['ranks']} rank(s)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


# --- Main -------------------------------------------------------------------------------


def plot_smc(path, d, out):
    """The SMC diagnostics of one zeta ais --ais.method=smc output, per step and replicate."""
    base = base_log_z(d["config"])
    shift = base[0] if base else 0.0
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), sharex=True)
    (ab, ae), (aa, az) = axes
    reps = d["replicate"].astype(int)
    ad = ab.twinx()  # the step sizes the ESS target chose: where the schedule is dense
    for k in sorted(set(reps.tolist())):
        m = reps == k
        step = np.arange(1, int(m.sum()) + 1)
        c = plt.cm.viridis(k / max(1, reps.max()))
        lab = f"replicate {k}"
        ab.plot(step, d["betas"][m], color=c, lw=1, label=lab)
        db = np.diff(d["betas"][m])
        if db.size and np.all(db > 0):
            w = max(1, db.size // 100)  # a running mean over 1 % of the steps: one step's size is noisy
            db = np.convolve(db, np.ones(w) / w, mode="valid")
            ad.semilogy(step[1:db.size + 1] + (w - 1) / 2, db, color=c, lw=0.8, ls="--")
        ae.plot(step, d["ess"][m], color=c, lw=1, label=f"ESS, {lab}")
        ae.plot(step, d["conditional_ess"][m], color=c, lw=0.8, ls=":")
        res = d["resampled"][m] > 0.5
        ae.plot(step[res], d["ess"][m][res], "v", color=c, ms=4)
        aa.plot(step, d["acceptance"][m], color=c, lw=1)
        az.plot(step, shift + np.cumsum(d["log_z_increment"][m]), color=c, lw=1)
    ab.set_ylabel("beta reached")
    ab.set_title("the schedule; dashed, right axis: its step in beta (mean over 1 % of the steps)", fontsize=9)
    ad.set_ylabel("beta step", fontsize=8)
    ae.set_ylabel("ESS / particles")
    ae.set_title("solid: ESS after the step; dotted: conditional ESS; v: resampled", fontsize=9)
    ae.set_ylim(0, 1.05)
    aa.set_ylabel("acceptance")
    aa.set_title("of the moves after the step (spin flips per site for lattices)", fontsize=9)
    az.set_ylabel("running ln Z" + ("" if base else " - ln Z_0 (base unknown)") + " [nat]")
    for ax in (aa, az):
        ax.set_xlabel("SMC step")
    if reps.max() < 8:
        ab.legend(fontsize=8)
    fig.suptitle(f"zeta ais --ais.method=smc: {os.path.basename(path)}")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def is_hdf5(path):
    try:
        with open(path, "rb") as f:
            return f.read(8) == HDF5_MAGIC
    except OSError as e:
        fail(f"cannot read '{path}' ({e.strerror or e})")


def stem(path):
    name = os.path.basename(path)
    base, ext = os.path.splitext(name)
    return base if ext else name


def without_ext(path):
    return os.path.join(os.path.dirname(path), stem(path))


def main():
    ap = argparse.ArgumentParser(
        description="Plot ln Z estimates of zeta free-energy / temper / ais (JSON summaries) against beta, "
                    "and the log-weights of zeta ais HDF5 outputs.",
        epilog="PREFIX is a directory if it exists as one or ends with '/', else a file-name prefix.")
    ap.add_argument("inputs", nargs="+", metavar="INPUT",
                    help="file of zeta JSON summary lines (free-energy, temper, ais) or an HDF5 file of zeta ais")
    ap.add_argument("--exact", metavar="FILE", help="text file of 'beta lnZ' lines: exact values (the reference)")
    ap.add_argument("-o", "--prefix", help="output prefix or directory (default: next to the inputs)")
    args = ap.parse_args()

    for p, what in [(p, "") for p in args.inputs] + ([(args.exact, "--exact: ")] if args.exact else []):
        if not os.path.exists(p):
            fail(f"{what}'{p}': no such file")
        if os.path.isdir(p):
            fail(f"{what}'{p}' is a directory")
    exact = None
    if args.exact:
        eb, ez = read_exact(args.exact)
        exact = (args.exact, eb, ez)

    json_inputs, h5_inputs, series = [], [], []
    for p in args.inputs:
        if is_hdf5(p):
            h5_inputs.append(p)
        elif p.lower().endswith((".h5", ".hdf5")):
            fail(f"'{p}' is not an HDF5 file")
        else:
            json_inputs.append(p)
            series += read_json_file(p)
    ais_data = [(p, load_ais(p)) for p in h5_inputs]  # check all inputs before writing anything

    outdir = None
    if args.prefix is not None and (os.path.isdir(args.prefix) or args.prefix.endswith(os.sep)):
        try:
            os.makedirs(args.prefix, exist_ok=True)
        except OSError as e:
            fail(f"cannot create output directory '{args.prefix}' ({e.strerror or e})")
        outdir = args.prefix
    elif args.prefix is not None:
        d = os.path.dirname(args.prefix)
        if d and not os.path.isdir(d):
            fail(f"output directory '{d}' does not exist (end PREFIX with '/' to create it)")

    # Output names first, so that clashes are found before anything is written.
    log_z_out = None
    if series:
        if outdir is not None:
            log_z_out = os.path.join(outdir, stem(json_inputs[0]) + "_log_z.png")
        elif args.prefix is not None:
            log_z_out = args.prefix + "_log_z.png"
        else:
            log_z_out = without_ext(json_inputs[0]) + "_log_z.png"
    ais_outs = []
    for p, d in ais_data:
        tail = "_smc.png" if d.get("smc") else "_ais_weights.png"
        if outdir is not None:
            ais_outs.append(os.path.join(outdir, stem(p) + tail))
        elif args.prefix is not None:
            ais_outs.append(args.prefix + (f"_{stem(p)}" if len(ais_data) > 1 else "") + tail)
        else:
            ais_outs.append(without_ext(p) + tail)
    names = ([log_z_out] if log_z_out else []) + ais_outs
    if len(set(os.path.abspath(n) for n in names)) < len(names):
        fail("several ais HDF5 inputs have the same name: their plots would overwrite each other "
             "(rename them or plot them separately)")

    written = []
    if series:
        ref = choose_reference(series, exact)
        align(series, ref)
        written.append(plot_log_z(series, ref, exact, json_inputs, log_z_out))
    for (p, d), out in zip(ais_data, ais_outs):
        written.append(plot_smc(p, d, out) if d.get("smc") else plot_ais_weights(p, d, exact, out))
    for name in written:
        print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
