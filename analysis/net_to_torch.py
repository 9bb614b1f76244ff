#!/usr/bin/python3
"""A zeta layer-stack energy (model.type = net) in Python: its layers from the
file's /model/net attributes and its parameters from /model/net/layer_i.

  net_to_torch.py FILE.h5 [--check]

As a module:
  load(path)          -> (layers, input_shape, params): the parsed model.net, the
                         input (C, H, W) or (N,), params[i] = {"weight", "bias"
                         (and "weight_u", "weight_v" for sn_ layers)} as numpy arrays
  energy(path, x)     -> E(x) for rows x [n, C*H*W] (NCHW, as zeta's data), by numpy
                         alone: a direct convolution, written apart from zeta's C++
  torch_module(path)  -> torch.nn.Sequential with the weights loaded (needs torch;
                         sn_ layers as torch.nn.utils.spectral_norm with u and v;
                         a net with res( ... ) blocks: a module whose .layers[i] is
                         layer i, 'res(' and ')' as nn.Identity, the skip in forward)

--check computes the numpy energies of /eval/samples (the model samples of the
check after training) and compares them with /eval/energy_model (zeta's
energies of the same samples): exit status 1 when they differ by more than 1e-4
relative.
"""
import argparse
import re
import sys

import numpy as np

LAYER = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\(([^)]*)\))?")
RES_OPEN = re.compile(r"\s*(res|residual)\s*\(")
RES_CLOSE = re.compile(r"\s*\)")


def parse(text):
    """model.net as a list of (kind, args, sn)."""
    out, pos = [], 0
    while pos < len(text.rstrip()):
        m = RES_OPEN.match(text, pos) or RES_CLOSE.match(text, pos)
        if m:  # a residual block's 'res(' and ')': layers of their own, no parameters
            out.append(("res(" if "(" in m.group(0) else ")", [], False))
            pos = m.end()
            continue
        m = LAYER.match(text, pos)
        if not m:
            raise ValueError(f"cannot parse model.net at '{text[pos:]}'")
        name, args = m.group(1), m.group(2)
        sn = name.startswith("sn_")
        name = name[3:] if sn else name
        vals = [float(a) for a in args.split(",")] if args and args.strip() else []
        out.append((name, vals, sn))
        pos = m.end()
    return out


def load(path):
    import h5py
    with h5py.File(path, "r") as f:
        g = f["model/net"]
        text = g.attrs["net"]
        text = text.decode() if isinstance(text, bytes) else str(text)
        shape = g.attrs["input"]
        shape = shape.decode() if isinstance(shape, bytes) else str(shape)
        layers = parse(text)
        params = {}
        for i, (name, _, _) in enumerate(layers):
            key = f"layer_{i}"
            if key in g:
                params[i] = {k: g[key][k][()] for k in g[key]}
    return layers, tuple(int(s) for s in shape.split(",")), params


def _act(name, args, z):
    if name in ("lrelu", "leaky_relu"):
        a = args[0] if args else 0.01
        return np.where(z > 0, z, a * z)
    if name == "relu":
        return np.maximum(z, 0)
    if name in ("silu", "swish"):
        return z / (1 + np.exp(-z))
    if name == "softplus":
        return np.logaddexp(0, z)
    raise ValueError(f"unknown layer {name}")


def _weight(p, sn):
    w = p["weight"]
    if not sn:
        return w
    u, v = p["weight_u"], p["weight_v"]
    sigma = u @ (w.reshape(w.shape[0], -1) @ v)
    return w / sigma


def energy(path, x):
    layers, shape, params = load(path)
    a = np.asarray(x, dtype=np.float64).reshape((len(x),) + shape)
    inputs = []  # the open res( blocks' inputs
    for i, (name, args, sn) in enumerate(layers):
        if name == "res(":
            inputs.append(a)
        elif name == ")":
            a = inputs.pop() + a
        elif name == "groupnorm":
            g, n = int(args[0]), a.shape[0]
            grouped = a.reshape(n, g, -1)
            mu = grouped.mean(axis=2, keepdims=True)
            var = grouped.var(axis=2, keepdims=True)
            a = ((grouped - mu) / np.sqrt(var + 1e-5)).reshape(a.shape)
            bshape = (1, -1) + (1,) * (a.ndim - 2)
            a = a * params[i]["weight"].reshape(bshape) + params[i]["bias"].reshape(bshape)
        elif name in ("conv", "conv2d"):
            w, b = _weight(params[i], sn), params[i]["bias"]
            k = w.shape[2]
            stride = int(args[2]) if len(args) > 2 else 1
            pad = int(args[3]) if len(args) > 3 else 0
            ap = np.pad(a, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
            ho = (ap.shape[2] - k) // stride + 1
            wo = (ap.shape[3] - k) // stride + 1
            out = np.zeros((a.shape[0], w.shape[0], ho, wo))
            for i_k in range(k):
                for j_k in range(k):
                    patch = ap[:, :, i_k:i_k + stride * ho:stride, j_k:j_k + stride * wo:stride]
                    out += np.einsum("nchw,oc->nohw", patch, w[:, :, i_k, j_k])
            a = out + b[None, :, None, None]
        elif name == "linear":
            w, b = _weight(params[i], sn), params[i]["bias"]
            a = a @ w.T + b
        elif name == "flatten":
            a = a.reshape(a.shape[0], -1)
        elif name == "avgpool":
            k = int(args[0])
            n, c, h, wd = a.shape
            a = a[:, :, :h // k * k, :wd // k * k].reshape(n, c, h // k, k, wd // k, k).mean(axis=(3, 5))
        else:
            a = _act(name, args, a)
    return a.reshape(-1)


def torch_module(path):
    import torch
    from torch import nn
    layers, shape, params = load(path)
    mods, c = [], shape[0]
    for i, (name, args, sn) in enumerate(layers):
        if name in ("res(", ")"):
            mods.append(nn.Identity())
            continue
        if name == "groupnorm":
            mods.append(nn.GroupNorm(int(args[0]), params[i]["weight"].shape[0], eps=1e-5))
            continue
        if name in ("conv", "conv2d"):
            out, k = int(args[0]), int(args[1])
            m = nn.Conv2d(c, out, k, int(args[2]) if len(args) > 2 else 1, int(args[3]) if len(args) > 3 else 0)
            c = out
        elif name == "linear":
            m = nn.Linear(params[i]["weight"].shape[1], int(args[0]))
        elif name == "flatten":
            m = nn.Flatten()
        elif name == "avgpool":
            m = nn.AvgPool2d(int(args[0]))
        elif name in ("lrelu", "leaky_relu"):
            m = nn.LeakyReLU(args[0] if args else 0.01)
        else:
            m = {"relu": nn.ReLU, "silu": nn.SiLU, "swish": nn.SiLU, "softplus": nn.Softplus}[name]()
        if sn:
            m = nn.utils.spectral_norm(m)
        mods.append(m)
    residual = any(name == "res(" for name, _, _ in layers)
    if residual:
        kinds = [name for name, _, _ in layers]

        class ResidualStack(nn.Module):
            """layers[i] is zeta's layer i; forward adds each res( block's input at its ')'."""

            def __init__(self):
                super().__init__()
                self.layers = nn.ModuleList(mods)

            def forward(self, x):
                inputs = []
                for kind, m in zip(kinds, self.layers):
                    if kind == "res(":
                        inputs.append(x)
                    elif kind == ")":
                        x = inputs.pop() + x
                    else:
                        x = m(x)
                return x

        model, prefix = ResidualStack(), "layers."
    else:
        model, prefix = nn.Sequential(*mods), ""
    sd = {}
    for i, p in params.items():
        for k, v in p.items():
            key = "weight_orig" if (k == "weight" and "weight_u" in p) else k
            sd[f"{prefix}{i}.{key}"] = torch.tensor(v, dtype=torch.float32)
    model.load_state_dict(sd)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("--check", action="store_true", help="numpy energies of /eval/samples against zeta's")
    a = ap.parse_args()
    layers, shape, params = load(a.file)
    print(f"{a.file}: input {shape}, {len(layers)} layers, "
          f"{sum(v.size for p in params.values() for k, v in p.items() if k in ('weight', 'bias'))} parameters")
    if a.check:
        import h5py
        with h5py.File(a.file, "r") as f:
            x, e = f["eval/samples"][()], f["eval/energy_model"][()]
        mine = energy(a.file, x)
        d = np.max(np.abs(mine - e)) / max(1.0, np.max(np.abs(e)))
        print(f"max |E_numpy - E_zeta| / max(1, |E|) over {len(e)} samples: {d:.3g}")
        sys.exit(0 if d < 1e-4 else 1)


if __name__ == "__main__":
    main()
