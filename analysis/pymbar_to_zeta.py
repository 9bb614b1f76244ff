#!/usr/bin/python3
"""Turn pymbar-style NumPy arrays into the HDF5 input of `zeta free-energy`.

    pymbar_to_zeta.py OUT.h5 --u-kn U.npy --n-k N.npy [--observable NAME=A.npy ...] [--float32]
    pymbar_to_zeta.py OUT.h5 --npz DATA.npz [--observable NAME=A.npy ...] [--float32]
    pymbar_to_zeta.py OUT.h5 --energy E.npy --beta B.npy --n-k N.npy [--observable NAME=A.npy ...]
                      [--coupling NAME=P.npy ...]

u_kn [K, N] holds the reduced potential of every sample n in every state k, the
samples grouped by the state that drew them, N_k [K] of them from state k (pymbar's
convention); a .npz holds arrays named u_kn (or u_kln) and N_k (and optionally any other
[N] array, taken as an observable). The compact form gives the energy of each
sample [N] and the states' beta [K] instead: zeta builds u_kn = beta_k E_n itself;
with --coupling NAME=P.npy (P [K], NAME also an observable) the states form an
extended ensemble, u_kn = beta_k (E_n + sum_NAME P_k A_NAME,n): a field h conjugate
to the magnetisation M is --coupling M=minus_h.npy, a pressure p conjugate to the
volume V is --coupling V=p.npy.
Observables are state-independent values A(x_n) [N] whose expectations <A>_k zeta
estimates at every state. u_kn of pymbar's older [K, K, N_max] form (u_kln[k, l, n]:
state l's potential of sample n < N_k[k] of state k) is stored as /u_kln, which zeta
reads as the u_kn it stands for (observables then hold sum(N_k) values, grouped by
state). OUT.h5 is never overwritten.
"""
import argparse
import os
import sys

import h5py
import numpy as np


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("--u-kn", help=".npy of u_kn [K, N] (or u_kln [K, K, N_max])")
    p.add_argument("--n-k", help=".npy of N_k [K]")
    p.add_argument("--npz", help=".npz with u_kn and N_k (other [N] arrays become observables)")
    p.add_argument("--energy", help=".npy of the energy of each sample [N] (compact form)")
    p.add_argument("--beta", help=".npy of the states' beta [K] (compact form)")
    p.add_argument("--observable", action="append", default=[], metavar="NAME=FILE.npy")
    p.add_argument("--coupling", action="append", default=[], metavar="NAME=FILE.npy",
                   help="compact form: the states' coupling P [K] to observable NAME (u = beta (E + P A))")
    p.add_argument("--float32", action="store_true", help="store u_kn as float32 (half the size)")
    a = p.parse_args(argv)
    if os.path.exists(a.out):
        sys.exit(f"pymbar_to_zeta.py: {a.out} exists; not overwritten")
    observables = {}
    u_kn = energy = beta = None
    if a.npz:
        z = np.load(a.npz)
        key = "u_kln" if "u_kln" in z else "u_kn"
        if key not in z or "N_k" not in z:
            sys.exit(f"pymbar_to_zeta.py: {a.npz} needs arrays u_kn (or u_kln) and N_k (has {', '.join(z.files)})")
        u_kn, N_k = z[key], z["N_k"]
        observables.update({k: z[k] for k in z.files if k not in (key, "N_k")})
    elif a.u_kn and a.n_k:
        u_kn, N_k = np.load(a.u_kn), np.load(a.n_k)
    elif a.energy and a.beta and a.n_k:
        energy, beta, N_k = np.load(a.energy), np.load(a.beta), np.load(a.n_k)
    else:
        p.error("give --u-kn and --n-k, --npz, or --energy, --beta and --n-k")
    N_k = np.asarray(N_k)
    if np.any(N_k != np.round(N_k)) or np.any(N_k < 0):
        sys.exit("pymbar_to_zeta.py: N_k must hold whole numbers >= 0")
    N_k = N_k.astype(np.int64)
    if u_kn is not None and u_kn.ndim == 3:
        if u_kn.shape[0] != u_kn.shape[1] or np.any(N_k > u_kn.shape[2]):
            sys.exit(f"pymbar_to_zeta.py: u_kln has shape {u_kn.shape}; expected [K, K, N_max] with N_k <= N_max")
        # Zero the padding past N_k: zeta never reads it, but a NaN there would look like a fault.
        u_kn = np.array(u_kn, dtype=np.float32 if a.float32 else np.float64)
        for k in range(len(N_k)):
            u_kn[k, :, N_k[k]:] = 0
    couplings = {}
    for spec in a.coupling:
        name, _, path = spec.partition("=")
        if not name or not path:
            p.error(f"--coupling {spec}: expected NAME=FILE.npy")
        couplings[name] = np.load(path)
    for spec in a.observable:
        name, _, path = spec.partition("=")
        if not name or not path:
            p.error(f"--observable {spec}: expected NAME=FILE.npy")
        observables[name] = np.load(path)
    N = (int(N_k.sum()) if u_kn.ndim == 3 else u_kn.shape[1]) if u_kn is not None else energy.shape[0]
    if couplings and energy is None:
        sys.exit("pymbar_to_zeta.py: --coupling needs the compact form (--energy, --beta)")
    for name, v in couplings.items():
        if name not in observables:
            sys.exit(f"pymbar_to_zeta.py: --coupling {name} needs --observable {name}=FILE.npy")
        if np.shape(v) != (len(N_k),):
            sys.exit(f"pymbar_to_zeta.py: coupling {name} has shape {np.shape(v)}; expected ({len(N_k)},)")
    if N_k.sum() != N:
        sys.exit(f"pymbar_to_zeta.py: N_k sums to {N_k.sum()}, but there are {N} samples")
    for name, v in observables.items():
        if np.shape(v) != (N,):
            sys.exit(f"pymbar_to_zeta.py: observable {name} has shape {np.shape(v)}; expected ({N},)")
    tmp = a.out + ".partial"
    with h5py.File(tmp, "w") as f:
        f["N_k"] = N_k
        if u_kn is not None:
            f["u_kln" if u_kn.ndim == 3 else "u_kn"] = np.asarray(u_kn, dtype=np.float32 if a.float32 else np.float64)
        else:
            f["energy"] = np.asarray(energy, dtype=np.float64)
            f["beta"] = np.asarray(beta, dtype=np.float64)
        for name, v in observables.items():
            f[f"observables/{name}"] = np.asarray(v, dtype=np.float64)
        for name, v in couplings.items():
            f[f"couplings/{name}"] = np.asarray(v, dtype=np.float64)
    os.link(tmp, a.out)  # fails rather than overwrite a file that appeared meanwhile
    os.unlink(tmp)
    print(f"{a.out}: K = {len(N_k)} states, N = {N} samples, observables: {', '.join(observables) or 'none'}")


if __name__ == "__main__":
    main()
