#!/usr/bin/python3
"""Reference MBAR from Debian's python3-pymbar (3.1) for the tests.

pymbar_reference.py U.txt
    reads K, N_k and the K x N reduced potentials from a text file, prints
    f_k - f_0 and their standard errors (one line each) with full precision.
pymbar_reference.py --h5 IN.h5 OUT.h5
    reads a zeta free-energy input (/u_kn or /energy with /beta, /N_k,
    /observables/NAME and /couplings/NAME) and writes pymbar's analyses to OUT.h5 under the names
    zeta free-energy uses: Delta_f, dDelta_f (getFreeEnergyDifferences), overlap,
    overlap_eigenvalues (computeOverlap), effective_samples
    (computeEffectiveSampleNumber) and expectations/NAME/{mu,sigma}
    (computeExpectations), all float64, and for /energy inputs heat_capacity/{C,dC}
    (beta_k^2 times computeExpectations of (H_k - <H_k>_k)^2, state_dependent=True, H_k = E + sum_c p_kc A_c); with NAME BINS STATE also pmf/f and
    pmf/df (computePMF of observable NAME in BINS equal-width bins at STATE);
    with --equilibrate each state's samples are first cut and subsampled by
    pymbar.timeseries (detectEquilibration, subsampleCorrelatedData on u_kk).
pymbar_reference.py --timeseries SERIES.txt
    prints pymbar.timeseries' statisticalInefficiency (fast=False, then fast=True),
    detectEquilibration's t0, g and Neff_max, and subsampleCorrelatedData's
    indices at the first g, one line each.
"""
import sys

import numpy as np
import pymbar


def from_text(path):
    with open(path) as fh:
        K = int(fh.readline())
        N_k = np.array([int(v) for v in fh.readline().split()])
        u_kn = np.loadtxt(fh).reshape(K, -1)
    mbar = pymbar.MBAR(u_kn, N_k, relative_tolerance=1e-13, verbose=False)
    res = mbar.getFreeEnergyDifferences(compute_uncertainty=True, return_dict=False)
    Delta_f, dDelta_f = res[0], res[1]
    print(" ".join(f"{v:.17g}" for v in Delta_f[0]))
    print(" ".join(f"{v:.17g}" for v in dDelta_f[0]))


def equilibrate(u_kn, N_k, observables):
    """pymbar's recipe: per state, detectEquilibration of u_kk over its samples, then subsampleCorrelatedData."""
    from pymbar import timeseries as ts
    keep, start, counts = [], 0, []
    for k, n in enumerate(N_k):
        A = u_kn[k, start:start + n]
        t0, g, _ = ts.detectEquilibration(A)
        idx = ts.subsampleCorrelatedData(A[t0:], g=g)
        keep.extend(start + t0 + i for i in idx)
        counts.append(len(idx))
        start += n
    keep = np.array(keep, dtype=np.int64)
    return u_kn[:, keep], np.array(counts, dtype=np.int64), {k: v[keep] for k, v in observables.items()}


def from_h5(path, out, pmf=None, equil=False):
    import h5py
    with h5py.File(path, "r") as f:
        N_k = np.asarray(f["N_k"][...], dtype=np.int64)
        observables, beta, couplings = {}, None, {}
        if "u_kn" in f:
            u_kn = np.asarray(f["u_kn"][...], dtype=np.float64)
        else:
            energy = np.asarray(f["energy"][...], dtype=np.float64)
            beta = np.asarray(f["beta"][...], dtype=np.float64)
            u_kn = np.outer(beta, energy)
            observables["energy"] = energy
        if "observables" in f:
            for name in sorted(f["observables"]):
                observables[name] = np.asarray(f["observables"][name][...], dtype=np.float64)
        if "couplings" in f:  # extended ensembles: u_kn = beta_k (E_n + sum_j p_kj A_jn)
            for name in sorted(f["couplings"]):
                p = np.asarray(f["couplings"][name][...], dtype=np.float64)
                u_kn = u_kn + np.outer(beta * p, observables[name])
                couplings[name] = p
    if equil:
        u_kn, N_k, observables = equilibrate(u_kn, N_k, observables)
    mbar = pymbar.MBAR(u_kn, N_k, relative_tolerance=1e-13, verbose=False)
    Delta_f, dDelta_f = mbar.getFreeEnergyDifferences(compute_uncertainty=True, return_dict=False)[:2]
    overlap = mbar.computeOverlap(return_dict=True)
    with h5py.File(out, "w") as f:
        f["Delta_f"] = np.asarray(Delta_f, dtype=np.float64)
        f["dDelta_f"] = np.asarray(dDelta_f, dtype=np.float64)
        f["overlap"] = np.asarray(overlap["matrix"], dtype=np.float64)
        f["overlap_eigenvalues"] = np.real(np.asarray(overlap["eigenvalues"])).astype(np.float64)
        f["effective_samples"] = np.asarray(mbar.computeEffectiveSampleNumber(), dtype=np.float64)
        if pmf:
            name, bins, state = pmf[0], int(pmf[1]), int(pmf[2])
            A = observables[name]
            lo, hi = A.min(), A.max()
            bin_n = np.minimum(bins - 1, ((A - lo) / (hi - lo) * bins).astype(np.int64))
            f_i, df_i = mbar.computePMF(u_kn[state], bin_n, bins, uncertainties="from-lowest")
            f["pmf/f"] = np.asarray(f_i, dtype=np.float64)
            f["pmf/df"] = np.asarray(df_i, dtype=np.float64)
        for name, A_n in observables.items():
            mu, sigma = mbar.computeExpectations(A_n, return_dict=False)[:2]
            f[f"expectations/{name}/mu"] = np.asarray(mu, dtype=np.float64)
            f[f"expectations/{name}/sigma"] = np.asarray(sigma, dtype=np.float64)
        if beta is not None:
            # heat capacity: the state-dependent observable (H_k - <H_k>_k)^2 at state k, times beta_k^2,
            # with H_kn = E_n + sum_c p_kc A_cn the energy that u_kn = beta_k H_kn weighs
            H_kn = np.tile(observables["energy"], (len(beta), 1))
            for name, p in couplings.items():
                H_kn = H_kn + np.outer(p, observables[name])
            mu_H = mbar.computeExpectations(H_kn, state_dependent=True, return_dict=False)[0]
            A_kn = (H_kn - np.asarray(mu_H)[:, None]) ** 2
            mu, sigma = mbar.computeExpectations(A_kn, state_dependent=True, return_dict=False)[:2]
            f["heat_capacity/C"] = beta * beta * np.asarray(mu, dtype=np.float64)
            f["heat_capacity/dC"] = beta * beta * np.asarray(sigma, dtype=np.float64)


def timeseries(path):
    from pymbar import timeseries as ts
    A = np.loadtxt(path)
    g_slow = ts.statisticalInefficiency(A, fast=False)
    print(f"{g_slow:.17g} {ts.statisticalInefficiency(A, fast=True):.17g}")
    t0, g, neff = ts.detectEquilibration(A)
    print(f"{int(t0)} {float(g):.17g} {float(neff):.17g}")
    print(" ".join(str(i) for i in ts.subsampleCorrelatedData(A, g=g_slow)))


if __name__ == "__main__":
    if sys.argv[1] == "--timeseries":
        timeseries(sys.argv[2])
    elif sys.argv[1] == "--h5":
        rest = sys.argv[4:]
        equil = "--equilibrate" in rest
        rest = [a for a in rest if a != "--equilibrate"]
        from_h5(sys.argv[2], sys.argv[3], rest[:3] if rest else None, equil)
    else:
        from_text(sys.argv[1])
