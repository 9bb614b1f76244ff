"""Python access to Zeta's outputs: NumPy arrays, the resolved configuration,
the /summary figures and the JSON line, and pymbar's u_kn from a temper output.

    import zeta
    out = zeta.open("temper_ising.h5")   # any output: sample, temper, ais, train,
                                         # free-energy; a checkpoint or model.params file
    out.command                          # "temper"
    out.config["temper.count"]           # "16": the resolved INI, flat "section.key" -> str
    out.config.get_float("sampler.beta", 1.0)
    out.summary["round_trip_rate"]       # /summary: the JSON figures, typed ({} if absent)
    out["temper/energy"]                 # numpy array (rows that hold data only)
    out.describe("temper/energy")        # {"units": ..., "description": ..., "axes": [...]}
    out.datasets()                       # ["temper/acceptance", "temper/betas", ...]
    zeta.read_json(stdout_text)          # the JSON line a command printed, as a dict
    u_kn, N_k = zeta.u_kn(out)           # pymbar.MBAR(u_kn, N_k), as zeta free-energy samples

Needs only Debian's python3-h5py and python3-numpy (/usr/bin/python3). The
scripts beside this file import it from their own directory; from elsewhere put
this directory on PYTHONPATH. docs/python.md has a worked example.
"""
import json
import math
import os

import numpy as np

__all__ = ["Error", "Output", "Config", "read_json", "read_json_lines", "temper_energies", "u_kn",
           "thinning_stride", "attr_str", "read_config", "cfg_get", "cfg_float"]

#: The datasets whose first axis is the saved-sample axis: after an interrupted
#: run only the first `samples_saved` rows (root attribute) hold data.
SAVED_ROW_DATASETS = ("samples/x", "samples/energy", "temper/energy", "temper/replica", "temper/magnetization",
                      "temper/x")


class Error(Exception):
    """A file that is missing, not HDF5, or lacks what was asked for; the message names it."""


def _h5py():
    try:
        import h5py
    except ImportError as e:
        raise Error("h5py is missing; use /usr/bin/python3 (Debian python3-h5py)") from e
    return h5py


# --- Attribute values as Python types -------------------------------------------------------------


def attr_str(value):
    """An HDF5 string attribute (str, bytes or a 0-d array of either) as str."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        return attr_str(value[()])
    return str(value)


def _python(value):
    """An attribute value as a plain Python value: str, bool, int, float, or a list of them."""
    if isinstance(value, (bytes, str)):
        return attr_str(value)
    if isinstance(value, np.ndarray):
        if value.shape == ():
            return _python(value[()])
        return [_python(v) for v in value.tolist()] if value.dtype.kind in "OSU" else value.tolist()
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


# --- The configuration ----------------------------------------------------------------------------


class Config(dict):
    """A run's resolved configuration: a dict of flat keys "section.key" -> str
    (as in `zeta COMMAND --help` and docs/keys.md), with the INI text in .text."""

    def __init__(self, text=""):
        super().__init__()
        self.text = text
        section = ""
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()  # as Boost's parser: '#' starts a comment anywhere
            if not line or line.startswith(";"):
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1].strip()
                continue
            key, sep, value = line.partition("=")
            if sep:
                key = key.strip()
                self[f"{section}.{key}" if section and "." not in key else key] = value.strip()

    def section(self, name):
        """The keys of one section, without the "name." prefix."""
        p = name + "."
        return {k[len(p):]: v for k, v in self.items() if k.startswith(p)}

    def get_float(self, key, default=None):
        try:
            return float(self[key])
        except (KeyError, ValueError):
            return default

    def get_int(self, key, default=None):
        try:
            return int(self[key])
        except (KeyError, ValueError):
            try:
                v = float(self[key])  # "1e3"
                return int(v) if v.is_integer() else default
            except (KeyError, ValueError, OverflowError):
                return default

    def get_list(self, key, default=None):
        """A comma-separated value as a list of floats (e.g. temper.betas)."""
        try:
            return [float(v) for v in self[key].split(",") if v.strip()]
        except (KeyError, ValueError):
            return default


def read_config(attrs):
    """The configuration stored in a file's root attributes: `config` (the resolved
    INI of an output) or `signature` (the key = value lines a checkpoint is checked
    against); an empty Config when neither is there."""
    for name in ("config", "signature"):
        if name in attrs:
            return Config(attr_str(attrs[name]))
    return Config()


def cfg_get(cfg, section, key, default=""):
    return cfg.get(f"{section}.{key}", default)


def cfg_float(cfg, section, key, default):
    return cfg.get_float(f"{section}.{key}", default)


# --- Outputs ---------------------------------------------------------------------------------------


def open(path):  # noqa: A001 (zeta.open, like h5py.File or gzip.open)
    """Opens a Zeta output, checkpoint or model.params file; use as a context
    manager or call close(). Raises zeta.Error when it cannot."""
    return Output(path)


class Output:
    """One Zeta HDF5 file, read-only.

    command   the command that wrote it ("sample", "temper", ...; a checkpoint's
              command; None for a bare model.params file)
    checkpoint  True for a checkpoint (root attribute zeta_checkpoint)
    attrs     the root attributes as Python values
    config    the resolved configuration (Config: "section.key" -> str)
    summary   the /summary attributes (the command's JSON figures) as Python
              values: str, int, float (NaN for a JSON null), bool, list of float;
              {} when the file has no /summary
    saved     rows of the saved-sample datasets that hold data (root attribute
              samples_saved), None when the file has none
    """

    def __init__(self, path):
        h5py = _h5py()
        path = os.fspath(path)
        if not os.path.exists(path):
            raise Error(f"'{path}': no such file")
        if os.path.isdir(path):
            raise Error(f"'{path}' is a directory")
        try:
            self._f = h5py.File(path, "r")
        except OSError as e:
            raise Error(f"'{path}' is not a readable HDF5 file ({e})") from None
        self.path = path
        a = self._f.attrs
        self.attrs = {k: _python(a[k]) for k in a.keys()}
        self.checkpoint = "zeta_checkpoint" in self.attrs
        self.command = self.attrs.get("command", self.attrs.get("zeta_checkpoint"))
        self.config = read_config(a)
        self.saved = int(self.attrs["samples_saved"]) if "samples_saved" in self.attrs else None
        self.summary = {}
        g = self._f.get("summary")
        if isinstance(g, h5py.Group):
            self.summary = {k: _python(g.attrs[k]) for k in g.attrs.keys()}

    # Context manager and closing.
    def close(self):
        if getattr(self, "_f", None) is not None:
            self._f.close()
            self._f = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    def __repr__(self):
        what = f"zeta {self.command}" + (" checkpoint" if self.checkpoint else "") if self.command else "HDF5"
        if self._f is None:
            return f"<zeta.Output '{self.path}': {what} file, closed>"
        return f"<zeta.Output '{self.path}': {what} file, {len(self.datasets())} datasets>"

    @property
    def h5(self):
        """The open h5py.File, for anything this class does not cover."""
        if self._f is None:
            raise Error(f"'{self.path}' is closed")
        return self._f

    # Datasets.
    def datasets(self, group=""):
        """Names of the datasets (under `group`, e.g. "temper"), sorted, without a leading '/'."""
        h5py = _h5py()
        root = self.h5.get(group.strip("/")) if group.strip("/") else self.h5
        if not isinstance(root, h5py.Group):
            raise Error(f"'{self.path}': no group /{group.strip('/')}")
        names = []

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                names.append((root.name.rstrip("/") + "/" + name).lstrip("/"))
        root.visititems(visit)
        return sorted(names)

    def __contains__(self, name):
        return name.strip("/") in self.h5 if name.strip("/") else False

    def _dataset(self, name):
        h5py = _h5py()
        key = name.strip("/")
        obj = self.h5.get(key) if key else None
        if not isinstance(obj, h5py.Dataset):
            what = "a group, not a dataset" if isinstance(obj, h5py.Group) else "no such dataset"
            raise Error(f"'{self.path}': /{key}: {what} (it has: {', '.join(self.datasets()) or 'none'})")
        return key, obj

    def array(self, name, all_rows=False):
        """Dataset `name` as a NumPy array. The saved-sample datasets (/samples/*,
        /temper/{energy, replica, magnetization, x}) give only the rows that hold
        data (samples_saved) unless all_rows is true."""
        key, d = self._dataset(name)
        if not all_rows and self.saved is not None and key in SAVED_ROW_DATASETS and d.ndim >= 1:
            return d[0:min(d.shape[0], max(self.saved, 0))]
        return d[()]

    def __getitem__(self, name):
        return self.array(name)

    def describe(self, name):
        """The attributes of dataset (or group) `name` that say what it holds:
        units, description, axes (a list) and any others; {} when it has none."""
        key = name.strip("/")
        if key not in self.h5:
            raise Error(f"'{self.path}': no /{key}")
        a = self.h5[key].attrs
        return {k: _python(a[k]) for k in a.keys() if k != "zeta_crc32"}

    def units(self, name, default=None):
        """The `units` attribute of dataset `name`, or `default`."""
        return self.describe(name).get("units", default) if name.strip("/") in self.h5 else default

    def label(self, name, text, units=None):
        """An axis label: `text` with the units of dataset `name` ("text [units]");
        `units` is used when the file has none; no bracket when dimensionless ("1")
        or when the units are the text ("step")."""
        u = self.units(name, units)
        return f"{text} [{u}]" if u and u not in ("1", text) else text


# --- The JSON line -----------------------------------------------------------------------------------


def read_json_lines(text):
    """Every JSON object line of `text` (what zeta commands print on stdout: one
    line each), in order; other lines are skipped."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("{"):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise Error(f"line {i}: invalid JSON ({e.msg} at column {e.colno})") from None
            if isinstance(obj, dict):
                out.append(obj)
    return out


def read_json(text):
    """The JSON figures a zeta command printed on stdout (its last JSON line) as a dict."""
    objs = read_json_lines(text)
    if not objs:
        raise Error("no JSON line (expected the stdout of a zeta command)")
    return objs[-1]


# --- Temper outputs for MBAR ----------------------------------------------------------------------------


def _as_output(source):
    return (source, False) if isinstance(source, Output) else (Output(source), True)


def thinning_stride(tau_int, save_every):
    """zeta's stride in saved rows for roughly independent samples: the statistical
    inefficiency 2 tau_int / save_every (tau_int in steps) rounded up, at least 1;
    1 where tau_int is not finite (estimators/timeseries.hpp thinning_stride)."""
    g = 2 * tau_int / float(save_every) if math.isfinite(tau_int) else 1.0
    return max(1, int(math.ceil(g)))


def temper_energies(source, burn_in=0, thin="auto"):
    """The saved energies of a temper output per level, as zeta free-energy uses
    them: returns (betas [K], [energies of level k for k in 0..K-1]).

    burn_in: saved rows to drop at the start (0: zeta free-energy's default;
             the run's own run.burn_in steps were never saved).
    thin:    "auto" (each level every thinning_stride(tau_int_k, run.save_every)-th
             row, as free_energy.thin = auto) or a fixed stride in rows.
    The energy at level k of a row is that of whichever replica sat at β_k, so
    the samples are grouped by the state they were drawn at; with
    temper.copies > 1 each row gives all copies' energies together.
    """
    out, own = _as_output(source)
    try:
        if out.command != "temper" or out.checkpoint:
            raise Error(f"'{out.path}' is not a zeta temper output (command {out.command!r})")
        betas = np.asarray(out.array("temper/betas"), dtype=float).reshape(-1)
        K = betas.size
        if "temper/energy" not in out:
            raise Error(f"'{out.path}' has no /temper/energy (run zeta temper with run.save_every > 0)")
        e = np.asarray(out.array("temper/energy"), dtype=float)
        if e.ndim == 2:
            e = e[:, None, :]
        if e.ndim != 3 or e.shape[2] != K:
            raise Error(f"'{out.path}': /temper/energy {e.shape} does not match /temper/betas ({K} levels)")
        tau = (np.asarray(out.array("temper/tau_int"), dtype=float).reshape(-1) if "temper/tau_int" in out
               else np.full(K, 0.5))
        save_every = max(1, out.config.get_int("run.save_every", 1))
        if isinstance(thin, str):
            if thin != "auto":
                raise Error(f"thin must be 'auto' or a stride >= 1, not {thin!r}")
            strides = [thinning_stride(float(t), save_every) for t in tau]
        else:
            if int(thin) < 1:
                raise Error(f"thin must be 'auto' or a stride >= 1, not {thin!r}")
            strides = [int(thin)] * K
        if not 0 <= int(burn_in) < e.shape[0]:
            raise Error(f"burn_in = {burn_in}: '{out.path}' has {e.shape[0]} saved rows")
        levels = [e[int(burn_in)::strides[k], :, k].reshape(-1) for k in range(K)]
        return betas, levels
    finally:
        if own:
            out.close()


def u_kn(source, burn_in=0, thin="auto"):
    """pymbar's input from a temper output (a path or an Output): u_kn [K, N] with
    u_kn[k, n] = β_k E(x_n), the reduced potential of every kept sample at every
    level, samples grouped by the level they were drawn at, and N_k [K] the
    samples per level. burn_in and thin as in temper_energies; the defaults keep
    the samples zeta free-energy keeps, so pymbar.MBAR(u_kn, N_k) estimates what
    it reports: ln Z(β_k) - ln Z(β_0) = -(f_k - f_0)."""
    betas, levels = temper_energies(source, burn_in=burn_in, thin=thin)
    energies = np.concatenate(levels)
    N_k = np.array([lv.size for lv in levels], dtype=np.int64)
    return betas[:, None] * energies[None, :], N_k

