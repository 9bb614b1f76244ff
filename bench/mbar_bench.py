#!/usr/bin/python3
"""MBAR benchmark data and the pymbar peer.

  mbar_bench.py generate DATA.h5 K N [SEED]   harmonic wells u_k(x) = beta_k x^2 / 2,
      beta_k geometric from 0.1 to 10, N/K samples x ~ N(0, 1/beta_k) from each state
  mbar_bench.py pymbar DATA.h5 OUT.txt          pymbar (Debian python3-pymbar) on the same
      reduced potentials: MBAR(u_kn, N_k) (its default solver and tolerance) plus
      getFreeEnergyDifferences(); prints one JSON line, writes f_k and dF_k to OUT.txt
"""
import json
import sys
import time

import h5py
import numpy as np


def generate(path, K, N, seed=1):
    rng = np.random.default_rng(seed)
    betas = np.geomspace(0.1, 10.0, K)
    N_k = np.full(K, N // K, dtype=np.int64)
    N_k[: N % K] += 1
    x = np.concatenate([rng.normal(0.0, 1.0 / np.sqrt(b), n) for b, n in zip(betas, N_k)])
    with h5py.File(path, "w") as f:
        f["betas"] = betas
        f["N_k"] = N_k
        f["x"] = x


def peer(path, out):
    import pymbar

    with h5py.File(path, "r") as f:
        betas, N_k, x = f["betas"][...], f["N_k"][...], f["x"][...]
    u_kn = 0.5 * betas[:, None] * (x * x)[None, :]
    t0 = time.perf_counter()
    mbar = pymbar.MBAR(u_kn, N_k, verbose=False)
    t1 = time.perf_counter()
    res = mbar.getFreeEnergyDifferences(compute_uncertainty=True, return_dict=False)
    t2 = time.perf_counter()
    f, df = res[0][0], res[1][0]
    np.savetxt(out, np.column_stack([f, df]), fmt="%.17g")
    exact = 0.5 * np.log(betas / betas[0])
    err = np.max(np.abs(f[1:] - exact[1:]) / df[1:])
    print(json.dumps({"bench": "pymbar", "K": len(betas), "N": int(len(x)), "seconds": t2 - t0,
                      "solve_s": t1 - t0, "covariance_s": t2 - t1, "max_error_in_stderr": float(err)}))


if __name__ == "__main__":
    if sys.argv[1] == "generate":
        generate(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]) if len(sys.argv) > 5 else 1)
    elif sys.argv[1] == "pymbar":
        peer(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
