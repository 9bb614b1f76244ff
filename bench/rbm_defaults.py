#!/usr/bin/python3
"""`zeta train`'s RBM defaults against scikit-learn's BernoulliRBM defaults, scored by the
EXACT held-out log-likelihood (issue 24).

    bench/rbm_defaults.py --zeta build/zeta            # prints the figures, exits 1 if Zeta loses

Both train a 784 x 20 Bernoulli RBM on the 60 000 Fashion-MNIST training images,
binarized as data.binarize = threshold does (x / 255 > 0.5), for --epochs epochs at
batch --batch: scikit-learn 1.2's BernoulliRBM(n_components=20, n_iter=epochs,
batch_size=batch, random_state=--seed) with every other argument at its default
(learning_rate 0.1, PCD with batch_size persistent chains), and `zeta train` with
only model.type = rbm, model.hidden, the data keys, train.batch and run.steps =
epochs * 60000 / batch given, everything else at its default. Each model's held-out
log-likelihood on the 10 000 t10k images is -mean F(v) - ln Z with ln Z exact: the
2^20 hidden states enumerated, by numpy in float64 (--log-z numpy), by `zeta ais
--ais.exact=true` on the parameter file (--log-z zeta; scikit-learn's parameters
are written in Zeta's model.params layout), or by both, which must agree (--log-z
both). Prints a table and one JSON line; exits 1 when Zeta's log-likelihood is
below scikit-learn's (ctest rbm_defaults_vs_sklearn); with --seeds N, when the mean over N
seeds is (two epochs of PCD end within about +-13 nats over seeds).
"""
import argparse
import json
import os
import sys
import time

try:
    import numpy as np
    import h5py  # noqa: F401 (rbm_common reads and writes the parameter files with it)
    from sklearn import __version__ as sk_version
    from sklearn.neural_network import BernoulliRBM
except ImportError as e:  # a machine without the Python stack: ctest counts the test as skipped
    print("rbm_defaults: skipped, %s" % e)
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import rbm_common as rc  # noqa: E402

TRAIN, TEST = "train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"


def log_z(args, path, W, b, c):
    """Exact ln Z of the parameters in `path` (W, b, c read from it) and the seconds it took."""
    t0 = time.perf_counter()
    values = {}
    if args.log_z in ("zeta", "both"):
        j = rc.mpirun([args.zeta, "ais", "--model.type=rbm", "--model.params=" + path, "--ais.exact=true",
                       "--ais.steps=1", "--ais.chains=2", "--output.file=", "--run.progress_every=0"], args.ranks)
        values["zeta"] = j["log_z_exact"]
    if args.log_z in ("numpy", "both"):
        values["numpy"] = rc.exact_log_z(W, b, c)
    if len(values) == 2 and abs(values["zeta"] - values["numpy"]) > 1e-6 * max(1.0, abs(values["numpy"])):
        raise SystemExit("exact ln Z of %s: zeta %.10f, numpy %.10f disagree" % (path, values["zeta"], values["numpy"]))
    return values.get("numpy", values.get("zeta")), time.perf_counter() - t0


def score(args, tag, path, test, train_s, extra):
    W, b, c = rc.read_params(path)
    lz, lz_s = log_z(args, path, W, b, c)
    F = rc.free_energy(test, W, b, c)
    return dict(model=tag, heldout_loglik=float(-F.mean() - lz), mean_F_stderr=float(F.std(ddof=1) / np.sqrt(len(F))),
                log_z=lz, train_seconds=train_s, log_z_seconds=lz_s, **extra)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zeta", default=os.path.join(HERE, "..", "build", "zeta"))
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=20)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1,
                    help="scikit-learn's random_state and Zeta's run.seed and model.init_seed (default 1: theirs)")
    ap.add_argument("--seeds", type=int, default=1,
                    help="train both with seeds --seed .. --seed + N - 1 and compare the means")
    ap.add_argument("--ranks", type=int, default=1, help="MPI ranks of `zeta train` and `zeta ais`")
    ap.add_argument("--log-z", choices=("numpy", "zeta", "both"), default="both")
    ap.add_argument("--workdir", default="rbm_defaults")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    if not all(os.path.exists(os.path.join(rc.DATA, f)) for f in (TRAIN, TEST)):
        print("rbm_defaults: skipped, no Fashion-MNIST in %s" % rc.DATA)
        return 77

    train = rc.load(TRAIN)
    test = rc.load(TEST)
    steps = args.epochs * len(train) // args.batch

    rows = []
    for seed in range(args.seed, args.seed + args.seeds):
        rows += fit_and_score(args, seed, train, test, steps)
    print(f"784 x {args.hidden} Bernoulli RBM, binarized Fashion-MNIST ({len(train)} images, {args.epochs} epochs, "
          f"batch {args.batch}), exact held-out log-likelihood of the {len(test)} t10k images (ln Z: {args.log_z})")
    print(f"{'model':<8} {'seed':>4} {'train s':>8} {'ln Z s':>7} {'ln Z':>10} {'held-out LL (nats)':>20}  defaults")
    for r in rows:
        print(f"{r['model']:<8} {r['seed']:>4} {r['train_seconds']:>8.1f} {r['log_z_seconds']:>7.1f} "
              f"{r['log_z']:>10.3f} {r['heldout_loglik']:>12.2f} +- {r['mean_F_stderr']:.2f}  {r['defaults']}")
    mean = {m: float(np.mean([r["heldout_loglik"] for r in rows if r["model"] == m])) for m in ("zeta", "sklearn")}
    d = mean["zeta"] - mean["sklearn"]
    ok = d >= 0
    what = "" if args.seeds == 1 else f" (means over {args.seeds} seeds)"
    print(f"Zeta - scikit-learn = {d:+.2f} nats{what}; the same test images: the +- above is each mean's spread "
          f"over images, not the paired difference's: {'PASS' if ok else 'FAIL'}")
    print(json.dumps({"rows": rows, "mean": mean, "difference": d, "pass": ok}))
    return 0 if ok else 1


def fit_and_score(args, seed, train, test, steps):
    """Both models trained with `seed` (scikit-learn's random_state; Zeta's run.seed and
    model.init_seed, left at their default when 1), scored: two rows."""
    t0 = time.perf_counter()
    sk = BernoulliRBM(n_components=args.hidden, n_iter=args.epochs, batch_size=args.batch, random_state=seed)
    sk.fit(train)
    sk_s = time.perf_counter() - t0
    sk_file = os.path.join(args.workdir, "sklearn_rbm_%d.h5" % seed)
    W, b, c = rc.sklearn_params(sk)
    rc.write_params(sk_file, W, b, c, rc.base_bias(train))

    z_file = os.path.join(args.workdir, "zeta_rbm_%d.h5" % seed)
    if os.path.exists(z_file):
        os.remove(z_file)
    seeds = [] if seed == 1 else ["--run.seed=%d" % seed, "--model.init_seed=%d" % seed]
    t0 = time.perf_counter()
    rc.mpirun([args.zeta, "train", "--model.type=rbm", "--model.hidden=%d" % args.hidden, "--data.type=idx",
               "--data.path=" + os.path.join(rc.DATA, TRAIN), "--data.binarize=threshold",
               "--train.batch=%d" % args.batch, "--run.steps=%d" % steps, "--run.progress_every=0",
               "--output.file=" + z_file] + seeds, args.ranks)
    z_s = time.perf_counter() - t0

    train_keys = rc.resolved_keys(z_file, "train")
    config = "zeta train: optimizer %s, lr %s, momentum %s, objective %s, chains %s" % tuple(
        train_keys.get(k, "?") for k in ("optimizer", "lr", "momentum", "objective", "chains"))
    sk_config = "sklearn %s, learning_rate %g, batch_size %d" % (sk_version, sk.learning_rate, sk.batch_size)
    return [score(args, "zeta", z_file, test, z_s, dict(seed=seed, steps=steps, defaults=config)),
            score(args, "sklearn", sk_file, test, sk_s,
                  dict(seed=seed, steps=args.epochs * -(-len(train) // args.batch), defaults=sk_config))]

if __name__ == "__main__":
    sys.exit(main())
