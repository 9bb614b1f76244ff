"""What the RBM quality scripts share (bench/rbm_quality.py, bench/rbm_defaults.py):
binarized Fashion-MNIST, Bernoulli RBM parameters in Zeta's model.params layout
(/model/rbm/{W, b, c, base_bias}, W visible x hidden), scikit-learn's BernoulliRBM
converted to it, the free energy, the exact ln Z by enumerating the hidden states
(numpy, float64) and launching zeta under mpirun.
"""
import gzip
import json
import os
import subprocess

import h5py
import numpy as np

DATA = "/usr/share/datasets/fashion-mnist"


def load(name, limit=None):
    """The images of an IDX file of DATA as rows of 784, binarized as Zeta's
    data.binarize = threshold does: 1 where x / 255 > 0.5, else 0."""
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[4:8], "big")
    x = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, 784)
    if limit:
        x = x[:limit]
    return (x.astype(np.float64) / 255.0 > 0.5).astype(np.float64)


def base_bias(x, eps=1e-3):
    """The visible biases of the data's marginals (clamped logits), as `zeta train` stores them."""
    p = np.clip(x.mean(0), eps, 1 - eps)
    return np.log(p / (1 - p))


def free_energy(v, W, b, c):
    """F(v) = -b.v - sum_j softplus(c_j + (v W)_j), one per row of v."""
    return -(v @ b) - np.logaddexp(0.0, v @ W + c).sum(1)


def exact_log_z(W, b, c, chunk=1 << 13):
    """ln Z of a Bernoulli RBM, exactly: the hidden states enumerated (2^hidden of them,
    `chunk` at a time), ln Z = logsumexp_h [c.h + sum_i softplus(b_i + (W h)_i)], in
    float64 with softplus(x) = max(x, 0) + log1p(exp(-|x|)) computed in place."""
    nv, nh = W.shape
    if nh > 24:
        raise ValueError("exact ln Z enumerates 2^hidden states: %d hidden units are too many" % nh)
    bits = np.arange(nh, dtype=np.int64)
    x = np.empty((chunk, nv))
    y = np.empty((chunk, nv))
    parts = []
    for lo in range(0, 1 << nh, chunk):
        idx = np.arange(lo, min(lo + chunk, 1 << nh), dtype=np.int64)
        h = ((idx[:, None] >> bits) & 1).astype(np.float64)
        xs, ys = x[: len(idx)], y[: len(idx)]
        np.matmul(h, W.T, out=xs)
        xs += b
        np.abs(xs, out=ys)
        np.negative(ys, out=ys)
        np.exp(ys, out=ys)
        np.log1p(ys, out=ys)
        np.maximum(xs, 0.0, out=xs)
        s = h @ c + xs.sum(1) + ys.sum(1)
        m = s.max()
        parts.append(m + np.log(np.exp(s - m).sum()))
    parts = np.array(parts)
    m = parts.max()
    return float(m + np.log(np.exp(parts - m).sum()))


def exact_heldout_loglik(W, b, c, test):
    """The exact mean log-likelihood of the rows of `test` (nats), its standard error and ln Z."""
    log_z = exact_log_z(W, b, c)
    F = free_energy(test, W, b, c)
    return float(-F.mean() - log_z), float(F.std(ddof=1) / np.sqrt(len(F))), log_z


def sklearn_params(sk):
    """W (visible x hidden), b, c of a fitted sklearn.neural_network.BernoulliRBM."""
    return sk.components_.T.copy(), sk.intercept_visible_.copy(), sk.intercept_hidden_.copy()


def write_params(path, W, b, c, base):
    with h5py.File(path, "w") as f:
        g = f.create_group("model/rbm")
        g.attrs["kind"] = "bernoulli"
        g["W"], g["b"], g["c"], g["base_bias"] = W, b, c, base


def read_params(path):
    with h5py.File(path, "r") as f:
        g = f["model/rbm"]
        return g["W"][()], g["b"][()], g["c"][()]


def resolved_keys(path, section):
    """The keys of one [section] of the resolved INI a zeta output holds (its `config` attribute)."""
    with h5py.File(path, "r") as f:
        text = f.attrs["config"]
    text = text.decode() if isinstance(text, bytes) else str(text)
    keys, current = {}, None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            current = line.strip("[]")
        elif current == section and "=" in line:
            k, v = line.split("=", 1)
            keys[k.strip()] = v.strip()
    return keys


def mpirun(args, ranks):
    """Runs `mpirun -np ranks args...` (zeta and its arguments) and returns its JSON line."""
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OPENBLAS_NUM_THREADS="1")
    cmd = ["mpirun", "-np", str(ranks), "--oversubscribe"] + args
    out = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return json.loads(out.stdout)
