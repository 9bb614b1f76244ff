#!/usr/bin/python3
"""Reference MBAR from Debian's python3-pymbar for test_mbar: reads K, N_k and the
K x N reduced potentials from a text file, prints f_k - f_0 and their standard
errors (one line each, space separated) with full precision."""
import sys

import numpy as np
import pymbar

with open(sys.argv[1]) as fh:
    K = int(fh.readline())
    N_k = np.array([int(v) for v in fh.readline().split()])
    u_kn = np.loadtxt(fh).reshape(K, -1)
mbar = pymbar.MBAR(u_kn, N_k, relative_tolerance=1e-13, verbose=False)
res = mbar.getFreeEnergyDifferences(compute_uncertainty=True, return_dict=False)
Delta_f, dDelta_f = res[0], res[1]
print(" ".join(f"{v:.17g}" for v in Delta_f[0]))
print(" ".join(f"{v:.17g}" for v in dDelta_f[0]))
