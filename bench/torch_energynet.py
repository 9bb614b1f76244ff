#!/usr/bin/python3
"""The PyTorch EBM tutorial's EnergyNet on Fashion-MNIST, float32, one thread: the
peer of `zeta sample` / `zeta train` with model.type = net in bench/run_energynet_bench.sh.

    torch_energynet.py --what sgld --chains 64 --steps 60
    torch_energynet.py --what pcd --batch 128 --k 60 --steps 2
    torch_energynet.py --peak

Model (the tutorial's, PyTorch's default initialisation):
    Conv2d(1, 64, 4, 2, 1) -> LeakyReLU(0.2) -> Conv2d(64, 128, 4, 2, 1) -> LeakyReLU(0.2)
    -> Flatten -> Linear(128*7*7, 256) -> LeakyReLU(0.2) -> Linear(256, 1)
  sgld  --chains states from U(0, 1), --steps moves
        x <- clamp(x - (eps/2) clip(grad_x E, +-c) + eta sqrt(eps) z, 0, 1)
        (grad_x E by torch.autograd.grad on the detached states; the parameters keep
        requires_grad, as nn.Conv2d leaves them, which is what the tutorial runs).
  pcd   one training step of the tutorial's recipe: --batch data images (the first
        --limit Fashion-MNIST training images, pixels / 255, a random permutation per
        epoch), as many negatives drawn from a replay buffer of --buffer-size U(0,1)
        images with replacement, each restarted from U(0,1) with probability
        --reinit-prob, --k SGLD moves as above, written back; then E on cat(x+, x-),
        loss = mean E+ - mean E- + alpha mean(E+^2 + E-^2), backward,
        clip_grad_norm_(1), Adam (lr 1e-4).

FLOP count (2 per multiply-add of the convolutions and linear layers; bias,
activation, RNG, clamp and optimizer work not counted), with S the multiply-adds of
one image's forward pass and S1 those of the first convolution:
  a forward pass of n images is 2 n S; grad_x back through every layer 2 n S; the
  weight gradients 2 n S.
  sgld: flops per chain-step = 4 S.
  pcd:  k moves on B images (4 k B S), then on the 2B images of cat(x+, x-): forward
        2(2B)S, weight gradients 2(2B)S, the gradient back to the first convolution's
        output 2(2B)(S - S1): flops = (4k + 12) B S - 4 B S1.

Prints one JSON line (chain_steps_per_s for sgld, updates_per_s for pcd, gflops).
--peak prints only the best of 3 2048^3 sgemm GFLOP/s through torch.mm.
"""
import argparse
import json
import math
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_rbm import load_images, sgemm_peak  # noqa: E402

# The tutorial's layers: (kind, in, out, kernel, stride, padding).
CONV1 = (1, 64, 4, 2, 1)
CONV2 = (64, 128, 4, 2, 1)
HIDDEN = 256


def energy_net():
    return torch.nn.Sequential(
        torch.nn.Conv2d(*CONV1), torch.nn.LeakyReLU(0.2),
        torch.nn.Conv2d(*CONV2), torch.nn.LeakyReLU(0.2),
        torch.nn.Flatten(), torch.nn.Linear(128 * 7 * 7, HIDDEN), torch.nn.LeakyReLU(0.2),
        torch.nn.Linear(HIDDEN, 1)).float()


def macs():
    """(S, S1): multiply-adds of one image's forward pass, and of the first conv."""
    s1 = 64 * 14 * 14 * (1 * 4 * 4)
    s2 = 128 * 7 * 7 * (64 * 4 * 4)
    return s1 + s2 + 128 * 7 * 7 * HIDDEN + HIDDEN, s1


def sgld_move(f, x, half_eps, noise, clip):
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(f(x).sum(), x)
    with torch.no_grad():
        if clip > 0:
            g = g.clamp(-clip, clip)
        return (x - half_eps * g + noise * torch.randn_like(x)).clamp_(0.0, 1.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--what", choices=["sgld", "pcd"], default="sgld")
    ap.add_argument("--chains", type=int, default=64, help="sgld: chains")
    ap.add_argument("--steps", type=int, default=60, help="sgld: moves; pcd: timed training steps")
    ap.add_argument("--warmup", type=int, default=1, help="untimed moves (sgld) or steps (pcd) first")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--k", type=int, default=60, help="pcd: SGLD moves per step")
    ap.add_argument("--limit", type=int, default=10000)
    ap.add_argument("--buffer-size", type=int, default=10000)
    ap.add_argument("--reinit-prob", type=float, default=0.05)
    ap.add_argument("--step-size", type=float, default=10.0, help="eps")
    ap.add_argument("--noise-scale", type=float, default=0.005 / math.sqrt(10.0), help="eta (noise eta sqrt(eps))")
    ap.add_argument("--clip-grad", type=float, default=0.03)
    ap.add_argument("--energy-reg", type=float, default=0.001)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--peak", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    if args.peak:
        print(json.dumps({"sgemm_n": 2048, "sgemm_gflops": sgemm_peak(2048, 3), "torch_version": torch.__version__}))
        return

    torch.manual_seed(args.seed)
    f = energy_net()
    S, S1 = macs()
    half_eps, noise, clip = 0.5 * args.step_size, args.noise_scale * math.sqrt(args.step_size), args.clip_grad
    out = {"impl": "pytorch", "what": args.what, "torch_version": torch.__version__,
           "threads": torch.get_num_threads(), "params_count": sum(p.numel() for p in f.parameters())}

    if args.what == "sgld":
        x = torch.rand(args.chains, 1, 28, 28)
        for _ in range(args.warmup):
            x = sgld_move(f, x, half_eps, noise, clip)
        t0 = time.perf_counter()
        for _ in range(args.steps):
            x = sgld_move(f, x, half_eps, noise, clip)
        secs = time.perf_counter() - t0
        rate = args.chains * args.steps / secs
        out.update({"chains": args.chains, "steps": args.steps, "seconds": secs, "chain_steps_per_s": rate,
                    "flops_per_chain_step": 4.0 * S, "gflops": 4.0 * S * rate * 1e-9,
                    "mean_energy": float(f(x).mean())})
    else:
        data = load_images(args.limit).reshape(-1, 1, 28, 28)
        n, B = data.shape[0], args.batch
        buf = torch.rand(args.buffer_size, 1, 28, 28)
        opt = torch.optim.Adam(f.parameters(), lr=args.lr)
        state = {"perm": torch.randperm(n), "pos": 0}

        def step():
            if state["pos"] + B > n:
                state["perm"], state["pos"] = torch.randperm(n), 0
            xp = data[state["perm"][state["pos"]:state["pos"] + B]]
            state["pos"] += B
            idx = torch.randint(0, args.buffer_size, (B,))
            xn = buf[idx]
            reinit = torch.rand(B) < args.reinit_prob
            xn = torch.where(reinit[:, None, None, None], torch.rand_like(xn), xn)
            for _ in range(args.k):
                xn = sgld_move(f, xn, half_eps, noise, clip)
            xn = xn.detach()
            buf[idx] = xn
            e = f(torch.cat([xp, xn])).squeeze(1)
            ep, en = e[:B], e[B:]
            loss = ep.mean() - en.mean() + args.energy_reg * (ep ** 2 + en ** 2).mean()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(f.parameters(), 1.0)
            opt.step()
            return loss

        for _ in range(args.warmup):
            step()
        t0 = time.perf_counter()
        loss = None
        for _ in range(args.steps):
            loss = step()
        secs = time.perf_counter() - t0
        ups = args.steps / secs
        flops = (4.0 * args.k + 12.0) * B * S - 4.0 * B * S1
        out.update({"batch": B, "k": args.k, "steps": args.steps, "seconds": secs, "updates_per_s": ups,
                    "flops_per_update": flops, "gflops": flops * ups * 1e-9,
                    "loss": float(loss) if loss is not None else None})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
