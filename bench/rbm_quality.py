#!/usr/bin/python3
"""Held-out log-likelihood of a 784 x 500 Bernoulli RBM trained by Zeta (PCD) and by
scikit-learn's BernoulliRBM (also PCD) with the same hidden units and epochs on
binarized Fashion-MNIST, both scored by the same Zeta AIS.

    bench/rbm_quality.py --zeta build/zeta --epochs 10

Steps: (1) binarize (threshold 0.5) the training images (first --limit) and the
10 000 t10k images; (2) fit sklearn.neural_network.BernoulliRBM(n_components=500,
n_iter=epochs, its default batch_size 10 and learning_rate 0.1 unless given) and
write its parameters as a Zeta model.params file (W = components_.T, b =
intercept_visible_, c = intercept_hidden_, base_bias = the data's clamped logit
means as `zeta train` writes them); (3) `zeta train` bench/rbm_quality.ini for the
same number of epochs (steps = epochs * examples / batch); (4) `zeta ais` on each
parameter file (the base-rate path, --ais-steps intermediate distributions,
--ais-chains chains, over --ranks MPI ranks): ln Z +- SE; (5) the mean free
energy of the t10k images from the parameters (numpy, double): held-out
log-likelihood = -mean F - ln Z, SE = sqrt(SE_F^2 + SE_lnZ^2). Prints a table and
one JSON line. Files go to --workdir.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from rbm_common import base_bias, free_energy, load, mpirun, read_params, sklearn_params, write_params  # noqa: E402


def score(zeta, params, test, args, tag):
    t0 = time.perf_counter()
    j = mpirun([zeta, "ais", "--model.type=rbm", "--model.params=" + params, "--ais.steps=%d" % args.ais_steps,
                "--ais.chains=%d" % args.ais_chains, "--run.seed=%d" % args.seed, "--output.file=",
                "--run.progress_every=0"], args.ranks)
    W, b, c = read_params(params)
    F = free_energy(test, W, b, c)
    se_f = F.std(ddof=1) / np.sqrt(len(F))
    ll = -F.mean() - j["log_z"]
    return {"model": tag, "log_z": j["log_z"], "log_z_stderr": j["log_z_stderr"], "mean_F": F.mean(),
            "heldout_loglik": ll, "heldout_loglik_stderr": float(np.hypot(se_f, j["log_z_stderr"])),
            "ais_seconds": time.perf_counter() - t0}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zeta", default=os.path.join(HERE, "..", "build", "zeta"))
    ap.add_argument("--ini", default=os.path.join(HERE, "rbm_quality.ini"))
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--limit", type=int, default=60000)
    ap.add_argument("--hidden", type=int, default=500)
    ap.add_argument("--batch", type=int, default=100, help="Zeta's batch (and PCD chains)")
    ap.add_argument("--sk-batch", type=int, default=10, help="scikit-learn's batch_size (its default 10)")
    ap.add_argument("--sk-lr", type=float, default=0.1, help="scikit-learn's learning_rate (its default 0.1)")
    ap.add_argument("--ais-steps", type=int, default=20000)
    ap.add_argument("--ais-chains", type=int, default=100)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", default="rbm_quality")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)

    train = load("train-images-idx3-ubyte.gz", args.limit)
    test = load("t10k-images-idx3-ubyte.gz")
    rows = []

    from sklearn.neural_network import BernoulliRBM
    t0 = time.perf_counter()
    sk = BernoulliRBM(n_components=args.hidden, n_iter=args.epochs, batch_size=args.sk_batch,
                      learning_rate=args.sk_lr, random_state=args.seed)
    sk.fit(train)
    sk_s = time.perf_counter() - t0
    sk_file = os.path.join(args.workdir, "sklearn_rbm.h5")
    write_params(sk_file, *sklearn_params(sk), base_bias(train))

    steps = args.epochs * (len(train) // args.batch)
    z_file = os.path.join(args.workdir, "zeta_rbm.h5")
    t0 = time.perf_counter()
    zj = mpirun([args.zeta, "train", args.ini, "--model.hidden=%d" % args.hidden, "--data.limit=%d" % args.limit,
                 "--train.batch=%d" % args.batch, "--train.chains=%d" % args.batch, "--run.steps=%d" % steps,
                 "--run.seed=%d" % args.seed, "--output.file=" + z_file, "--run.progress_every=0"], 1)
    z_s = time.perf_counter() - t0

    rows.append(dict(score(args.zeta, z_file, test, args, "zeta"), train_seconds=z_s, steps=steps,
                     updates_per_s=zj["updates_per_s"]))
    rows.append(dict(score(args.zeta, sk_file, test, args, "sklearn"), train_seconds=sk_s,
                     steps=args.epochs * (len(train) // args.sk_batch)))
    print(f"\n784 x {args.hidden} Bernoulli RBM, binarized Fashion-MNIST ({len(train)} training images, "
          f"{args.epochs} epochs), held-out t10k; AIS {args.ais_steps} steps x {args.ais_chains} chains")
    print(f"{'model':<8} {'train s':>8} {'updates':>8} {'ln Z':>12} {'held-out LL (nats)':>22}")
    for r in rows:
        print(f"{r['model']:<8} {r['train_seconds']:>8.1f} {r['steps']:>8d} {r['log_z']:>8.2f}+-{r['log_z_stderr']:.2f} "
              f"{r['heldout_loglik']:>12.2f} +- {r['heldout_loglik_stderr']:.2f}")
    d = rows[0]["heldout_loglik"] - rows[1]["heldout_loglik"]
    se = np.hypot(rows[0]["heldout_loglik_stderr"], rows[1]["heldout_loglik_stderr"])
    print(f"Zeta - scikit-learn = {d:.2f} +- {se:.2f} nats (target: > 0): {'PASS' if d > 3 * se else 'MISS'}")
    print(json.dumps({"rows": rows, "difference": d, "difference_stderr": se}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
