#!/usr/bin/python3
"""Unadjusted Langevin on an MLP energy in PyTorch, float32, one thread: the
reference workload for bench_langevin_mlp (same layers, SiLU, chains, steps).

    torch_langevin.py --layers 784,512,512,1 --chains 256 --steps 60

Each step: x <- x - (eps/2) grad E(x) + sqrt(eps) z, z ~ N(0, I), then E and
grad_x E at the new x, with grad_x E from torch.autograd.grad (no weight
gradients: parameters do not require grad, the most favourable setting for
PyTorch; --param-grad keeps requires_grad on them as nn.Linear does by default).
Prints one JSON line with chain_steps_per_s and gflops (same FLOP count as the
C++ benchmark: 4 * sum_l d_l d_{l+1} per chain-step).
"""
import argparse
import json
import math
import os
import time

# One BLAS / OpenMP thread before torch loads its libraries.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import torch  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", default="784,512,512,1")
    ap.add_argument("--chains", type=int, default=256)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--step-size", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--param-grad", action="store_true", help="leave requires_grad=True on the parameters")
    args = ap.parse_args()

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(args.seed)
    layers = [int(v) for v in args.layers.split(",")]
    assert len(layers) >= 2 and layers[-1] == 1, "layers must end in 1"

    mods = []
    for i in range(len(layers) - 1):
        mods.append(torch.nn.Linear(layers[i], layers[i + 1]))
        if i + 2 < len(layers):
            mods.append(torch.nn.SiLU())
    f = torch.nn.Sequential(*mods).float()
    if not args.param_grad:
        for p in f.parameters():
            p.requires_grad_(False)

    eps = args.step_size
    half_eps, sqrt_eps = 0.5 * eps, math.sqrt(eps)
    x = torch.randn(args.chains, layers[0], dtype=torch.float32)

    def energy_grad(x):
        x = x.detach().requires_grad_(True)
        E = f(x).sum()
        (g,) = torch.autograd.grad(E, x)
        return x.detach(), E.detach(), g

    def step(x, g):
        with torch.no_grad():
            x = x - half_eps * g + sqrt_eps * torch.randn_like(x)
        return energy_grad(x)

    x, E, g = energy_grad(x)
    for _ in range(args.warmup):
        x, E, g = step(x, g)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        x, E, g = step(x, g)
    secs = time.perf_counter() - t0

    wsum = sum(layers[i] * layers[i + 1] for i in range(len(layers) - 1))
    flops = 4.0 * wsum
    cs = args.chains * args.steps / secs
    print(json.dumps({
        "bench": "langevin_mlp", "impl": "pytorch", "torch": torch.__version__, "precision": "float",
        "activation": "silu", "layers": layers, "chains": args.chains, "steps": args.steps,
        "warmup": args.warmup, "step_size": eps, "threads": torch.get_num_threads(),
        "param_grad": args.param_grad, "seconds": secs, "chain_steps_per_s": cs,
        "flops_per_chain_step": flops, "gflops": flops * cs * 1e-9,
        "mean_energy": float(E) / args.chains,
    }))


if __name__ == "__main__":
    main()
