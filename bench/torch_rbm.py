#!/usr/bin/python3
"""CD-k training of a Bernoulli RBM in PyTorch, float32, one thread: the peer of
`zeta train` in bench/run_rbm_bench.sh (same sizes, batch, data, optimizer).

    torch_rbm.py --visible 784 --hidden 500 --batch 100 --steps 300 --variant autograd

Data: binarized (threshold 0.5) Fashion-MNIST training images from Debian's
dataset-fashion-mnist, mini-batches taken in order. Two forms of the update:
  autograd  the usual PyTorch RBM: loss = mean F(v0) - mean F(vk), loss.backward(),
            torch.optim.SGD (6 GEMMs per CD-1 step: 2 for the Gibbs sweep, 2 free
            energies, 2 weight gradients)
  manual    the hand-written CD rule: dW = v0' p(h|v0) - vk' p(h|vk), p(h|v0) reused
            from the first hidden draw (5 GEMMs), SGD with momentum by hand
Both use SGD with momentum 0.9 and lr 0.01, as the Zeta run. Prints one JSON line:
updates_per_s (timed steps after warm-up), the final mean reconstruction error as a
sanity figure, and the variant.
"""
import argparse
import gzip
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

IMAGES = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"


def load_images(limit):
    """The first `limit` training images as a float32 tensor [limit, 784], pixels / 255 in [0, 1]."""
    with gzip.open(IMAGES, "rb") as f:
        raw = f.read()
    n, rows, cols = (int.from_bytes(raw[4 * k:4 * k + 4], "big") for k in (1, 2, 3))
    x = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, rows * cols)[:limit]
    return torch.from_numpy(x.astype(np.float32) / 255.0)


def load_binarized(limit):
    return (load_images(limit) > 0.5).float()


def sgemm_peak(n=2048, tries=5):
    """Best GFLOP/s of `tries` n x n x n float32 torch.mm calls (after one untimed call), on the
    threads torch is set to use."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = 0.0
    for _ in range(tries):
        t0 = time.perf_counter()
        a @ b
        best = max(best, 2 * n ** 3 / (time.perf_counter() - t0) / 1e9)
    return best


class RBM(torch.nn.Module):
    def __init__(self, nv, nh, seed):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.W = torch.nn.Parameter(0.01 * torch.randn(nv, nh, generator=g))
        self.b = torch.nn.Parameter(torch.zeros(nv))
        self.c = torch.nn.Parameter(torch.zeros(nh))

    def sample_h(self, v):
        p = torch.sigmoid(v @ self.W + self.c)
        return p, torch.bernoulli(p)

    def sample_v(self, h):
        p = torch.sigmoid(h @ self.W.t() + self.b)
        return p, torch.bernoulli(p)

    def free_energy(self, v):
        return -(v @ self.b) - torch.nn.functional.softplus(v @ self.W + self.c).sum(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--visible", type=int, default=784)
    ap.add_argument("--hidden", type=int, default=500)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--k", type=int, default=1)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--limit", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--variant", choices=["autograd", "manual"], default="autograd")
    ap.add_argument("--peak", action="store_true", help="only print the best 2048^3 sgemm GFLOP/s of 5 tries")
    args = ap.parse_args()
    assert args.visible == 784, "the data are 28x28 images"

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    if args.peak:
        print(json.dumps({"sgemm_n": 2048, "sgemm_gflops": sgemm_peak(2048, 5)}))
        return
    torch.manual_seed(args.seed)
    data = load_binarized(args.limit)
    nb = data.shape[0] // args.batch
    rbm = RBM(args.visible, args.hidden, args.seed)

    if args.variant == "autograd":
        opt = torch.optim.SGD(rbm.parameters(), lr=args.lr, momentum=args.momentum)

        def step(v0):
            vk = v0
            with torch.no_grad():
                for _ in range(args.k):
                    _, h = rbm.sample_h(vk)
                    _, vk = rbm.sample_v(h)
            loss = rbm.free_energy(v0).mean() - rbm.free_energy(vk).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    else:
        for p in rbm.parameters():
            p.requires_grad_(False)
        mom = [torch.zeros_like(p) for p in (rbm.W, rbm.b, rbm.c)]

        def step(v0):
            ph0, h = rbm.sample_h(v0)
            vk = v0
            for s in range(args.k):
                if s > 0:
                    _, h = rbm.sample_h(vk)
                _, vk = rbm.sample_v(h)
            phk = torch.sigmoid(vk @ rbm.W + rbm.c)
            n = v0.shape[0]
            grads = ((vk.t() @ phk - v0.t() @ ph0) / n, (vk - v0).mean(0), (phk - ph0).mean(0))
            for p, m, g in zip((rbm.W, rbm.b, rbm.c), mom, grads):
                m.mul_(args.momentum).add_(g)
                p.sub_(args.lr * m)

    for s in range(args.warmup):
        step(data[(s % nb) * args.batch:(s % nb + 1) * args.batch])
    t0 = time.perf_counter()
    for s in range(args.steps):
        q = (args.warmup + s) % nb
        step(data[q * args.batch:(q + 1) * args.batch])
    dt = time.perf_counter() - t0
    with torch.no_grad():
        v = data[:1000]
        recon = ((torch.sigmoid(torch.sigmoid(v @ rbm.W + rbm.c) @ rbm.W.t() + rbm.b) - v) ** 2).mean().item()
    print(json.dumps({"variant": args.variant, "visible": args.visible, "hidden": args.hidden, "batch": args.batch,
                      "k": args.k, "steps": args.steps, "seconds": dt, "updates_per_s": args.steps / dt,
                      "recon_error": recon, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
