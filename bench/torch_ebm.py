#!/usr/bin/python3
"""Training an MLP energy in PyTorch, float32, one thread: the peer of
`zeta train bench/ebm_train.ini` in bench/run_ebm_bench.sh (same MLP, batch, data, optimizer).

    torch_ebm.py --objective dsm --steps 200
    torch_ebm.py --objective pcd --k 20 --steps 50
    torch_ebm.py --objective nce --nce-ratio 4 --steps 100
    torch_ebm.py --objective ssm_vr --steps 200
    torch_ebm.py --peak

Model: E(x) = nn.Sequential(Linear, SiLU, Linear, SiLU, Linear), 784-512-512-1 by
default, PyTorch's default initialisation; Adam, lr 1e-4. Data: the first --limit
Fashion-MNIST training images, pixels / 255 in [0, 1], not binarized; each epoch
takes the mini-batches from a fresh random permutation.

  dsm  denoising score matching (Song & Ermon's sigma^2 weighting), as `zeta train`
       does it: x~ = x + sigma z, g = grad_x E(x~) (create_graph), and the loss
       mean over the batch of (1/2) sigma^2 |g - (x~ - x)/sigma^2|^2 (the model's
       score -grad E matches the noise score -(x~ - x)/sigma^2), loss.backward(),
       Adam step.
  pcd  persistent contrastive divergence (IGEBM / JEM recipe): a replay buffer of
       --buffer-size U(0,1) states; per step 128 indices drawn with replacement,
       each state replaced by U(0,1) noise with probability --reinit-prob, then k
       Langevin steps x <- clamp(x - (eps/2) clip(grad_x E, +-c) + sqrt(eps) z, 0, 1)
       (grad_x E by torch.autograd.grad on the detached states; the parameters keep
       requires_grad, as nn.Linear leaves them), the states written back; then one
       forward of E on cat(x+, x-) and the loss
       mean E(x+) - mean E(x-) + alpha mean(E(x+)^2 + E(x-)^2), backward, Adam step.
  nce  noise-contrastive estimation (Gutmann & Hyvarinen), as `zeta train
       --train.objective=nce --train.nce_noise=uniform --train.nce_box=0,1` does it:
       a learnt c = ln Z (an nn.Parameter, 0 at the start, in the same Adam), nu
       (--nce-ratio) * B noise points from U([0, 1]^784) (ln q = 0), one forward of E
       on cat(data, noise), log-odds u = -E - c - ln q - ln nu and the loss
       (sum softplus(-u_data) + sum softplus(u_noise)) / B, backward, Adam step.
  ssm, ssm_vr  sliced score matching (Song et al. 2019) the way their code writes it
       (double backward): v ~ N(0, I) per row (--projection rademacher: +-1),
       g = grad_x E(x) (create_graph), gv = sum(g * v), h = grad_x gv (create_graph),
       loss mean over the batch of -(h . v) + (1/2)(g . v)^2 (ssm) or
       -(h . v) + (1/2)|g|^2 (ssm_vr): the score is -grad E, so v^T grad_x(v^T s) =
       -v^T H v; backward, Adam step.

FLOP count ("flops_per_update", "gflops"): the GEMM work the update needs, in flops
(2 per multiply-add), with S = sum_l d_l d_{l+1} over the layers, d0 d1 the first
layer's share, and B the batch:
  a forward pass of n rows is 2 n S; the gradient with respect to the input (back
  through every layer) 2 n S; the weight gradients 2 n S.
  ssm, ssm_vr: counted as dsm (the same GEMM units: Zeta's forward mode along v is
       DSM's tangent pass along the residual; PyTorch's double backward does more).
  nce: forward, weight gradients and the gradient back to the hidden activations on
       the (1 + nu) B rows of cat(data, noise): flops = (1 + nu) B (6 S - 2 d0 d1).
  dsm: forward 2BS + grad_x 2BS + the backward of the loss through both, which
       takes 4 GEMM-units: the weight gradients of the backward pass's GEMMs (2BS)
       and of the forward pass's GEMMs (2BS), the gradient back through the
       backward pass (2BS) and back through the forward pass to the hidden
       activations (2B(S - d0 d1); the input's own gradient is not needed):
       flops = 12 B S - 2 B d0 d1.
  pcd: k Langevin steps of forward + grad_x on B rows (4 k B S), then on the 2B
       rows of cat(x+, x-): forward 2(2B)S, weight gradients 2(2B)S, and the
       gradient back to the hidden activations 2(2B)(S - d0 d1):
       flops = (4k + 12) B S - 4 B d0 d1.
Bias, activation, RNG, clamp and optimizer work are not counted. PyTorch does more
than this in dsm: x~ is a leaf that requires grad, so loss.backward() also fills
x~.grad (another 2 B d0 d1); that extra work is not counted.

Prints one JSON line: updates_per_s over --steps timed steps after --warmup untimed
ones, gflops = flops_per_update * updates_per_s, and the last loss as a sanity
figure. --peak prints only the best of 3 2048^3 sgemm GFLOP/s through torch.mm
(torch_rbm.sgemm_peak).
"""
import argparse
import json
import math
import os
import sys
import time

# One BLAS / OpenMP thread before torch loads its libraries.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_rbm import load_images, sgemm_peak  # noqa: E402


def flops_per_update(objective, layers, batch, k, nu=4):
    s = sum(layers[i] * layers[i + 1] for i in range(len(layers) - 1))
    first = layers[0] * layers[1]
    if objective in ("dsm", "ssm", "ssm_vr"):
        return 12.0 * batch * s - 2.0 * batch * first
    if objective == "nce":
        return (1.0 + nu) * batch * (6.0 * s - 2.0 * first)
    return (4.0 * k + 12.0) * batch * s - 4.0 * batch * first


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objective", choices=["dsm", "pcd", "nce", "ssm", "ssm_vr"], default="dsm")
    ap.add_argument("--layers", default="784,512,512,1")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--limit", type=int, default=10000)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps before the timed ones")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sigma", type=float, default=0.1, help="dsm: noise scale")
    ap.add_argument("--k", type=int, default=20, help="pcd: Langevin steps per update")
    ap.add_argument("--buffer-size", type=int, default=10000, help="pcd: replay buffer states")
    ap.add_argument("--reinit-prob", type=float, default=0.05, help="pcd: chance a drawn state restarts from U(0,1)")
    ap.add_argument("--step-size", type=float, default=0.01, help="pcd: Langevin step size eps")
    ap.add_argument("--clip-grad", type=float, default=0.01, help="pcd: clip grad_x E to +-this (0 = off)")
    ap.add_argument("--energy-reg", type=float, default=1.0, help="pcd: alpha of alpha mean(E+^2 + E-^2)")
    ap.add_argument("--nce-ratio", type=int, default=4, help="nce: noise points per data point nu")
    ap.add_argument("--projection", choices=["gaussian", "rademacher"], default="gaussian",
                    help="ssm, ssm_vr: the distribution of v")
    ap.add_argument("--peak", action="store_true", help="only print the best 2048^3 sgemm GFLOP/s of 3 tries")
    args = ap.parse_args()

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    if args.peak:
        print(json.dumps({"sgemm_n": 2048, "sgemm_gflops": sgemm_peak(2048, 3), "torch_version": torch.__version__,
                          "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "")}))
        return

    torch.manual_seed(args.seed)
    layers = [int(v) for v in args.layers.split(",")]
    assert len(layers) >= 2 and layers[-1] == 1, "layers must end in 1"
    assert layers[0] == 784, "the data are 28x28 images"
    data = load_images(args.limit)
    n, B = data.shape[0], args.batch
    assert n >= B, "fewer images than one batch"

    mods = []
    for i in range(len(layers) - 1):
        mods.append(torch.nn.Linear(layers[i], layers[i + 1]))
        if i + 2 < len(layers):
            mods.append(torch.nn.SiLU())
    f = torch.nn.Sequential(*mods).float()
    params = list(f.parameters())
    if args.objective == "nce":
        log_z = torch.nn.Parameter(torch.zeros(1))  # c, learnt with theta
        params.append(log_z)
    opt = torch.optim.Adam(params, lr=args.lr)

    # Mini-batches: a fresh random permutation per epoch, the last partial batch dropped.
    state = {"perm": torch.randperm(n), "pos": 0}

    def next_batch():
        if state["pos"] + B > n:
            state["perm"], state["pos"] = torch.randperm(n), 0
        idx = state["perm"][state["pos"]:state["pos"] + B]
        state["pos"] += B
        return data[idx]

    if args.objective == "dsm":
        sigma = args.sigma

        def step():
            x = next_batch()
            xt = (x + sigma * torch.randn_like(x)).requires_grad_()
            E = f(xt).sum()
            (g,) = torch.autograd.grad(E, xt, create_graph=True)
            loss = (0.5 * sigma ** 2 * ((g - (xt - x) / sigma ** 2) ** 2).sum(1)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss
    elif args.objective == "nce":
        nu = args.nce_ratio
        log_nu, log_q = math.log(nu), 0.0  # U([0, 1]^d): ln q = 0

        def step():
            x = next_batch()
            y = torch.rand(nu * B, layers[0])
            u = -f(torch.cat([x, y])).squeeze(1) - log_z - log_q - log_nu
            loss = (torch.nn.functional.softplus(-u[:B]).sum() + torch.nn.functional.softplus(u[B:]).sum()) / B
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss
    elif args.objective in ("ssm", "ssm_vr"):
        vr = args.objective == "ssm_vr"
        rademacher = args.projection == "rademacher"

        def step():
            x = next_batch().requires_grad_()
            v = torch.randn_like(x)
            if rademacher:
                v = v.sign()
            (g,) = torch.autograd.grad(f(x).sum(), x, create_graph=True)
            gv = (g * v).sum()
            (h,) = torch.autograd.grad(gv, x, create_graph=True)
            second = (h * v).sum(1)
            first = 0.5 * (g ** 2).sum(1) if vr else 0.5 * (g * v).sum(1) ** 2
            loss = (first - second).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss
    else:
        buf = torch.rand(args.buffer_size, layers[0])
        half_eps, sqrt_eps, clip, alpha = 0.5 * args.step_size, math.sqrt(args.step_size), args.clip_grad, args.energy_reg

        def step():
            xp = next_batch()
            idx = torch.randint(0, args.buffer_size, (B,))
            xn = buf[idx]
            reinit = torch.rand(B) < args.reinit_prob
            xn = torch.where(reinit[:, None], torch.rand_like(xn), xn)
            for _ in range(args.k):
                xn = xn.detach().requires_grad_(True)
                (g,) = torch.autograd.grad(f(xn).sum(), xn)
                with torch.no_grad():
                    if clip > 0:
                        g = g.clamp(-clip, clip)
                    xn = (xn - half_eps * g + sqrt_eps * torch.randn_like(xn)).clamp_(0.0, 1.0)
            xn = xn.detach()
            buf[idx] = xn
            e = f(torch.cat([xp, xn])).squeeze(1)
            ep, en = e[:B], e[B:]
            loss = ep.mean() - en.mean() + alpha * (ep ** 2 + en ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

    for _ in range(args.warmup):
        step()
    t0 = time.perf_counter()
    loss = None
    for _ in range(args.steps):
        loss = step()
    secs = time.perf_counter() - t0

    flops = flops_per_update(args.objective, layers, B, args.k, args.nce_ratio)
    ups = args.steps / secs
    print(json.dumps({
        "impl": "pytorch", "objective": args.objective, "layers": layers, "activation": "silu", "batch": B,
        "k": args.k if args.objective == "pcd" else 0, "sigma": args.sigma if args.objective == "dsm" else 0,
        "nce_ratio": args.nce_ratio if args.objective == "nce" else 0,
        "projection": args.projection if args.objective in ("ssm", "ssm_vr") else "",
        "lr": args.lr, "steps": args.steps, "warmup": args.warmup, "seconds": secs, "updates_per_s": ups,
        "flops_per_update": flops, "gflops": flops * ups * 1e-9,
        "loss": float(loss) if loss is not None else None, "torch_version": torch.__version__,
        "threads": torch.get_num_threads(), "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
    }))


if __name__ == "__main__":
    main()
