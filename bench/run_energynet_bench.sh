#!/usr/bin/env bash
# The PyTorch EBM tutorial's EnergyNet (issue 27): Zeta's commands against PyTorch,
# float, one rank, one core.
#
#   bench/run_energynet_bench.sh                      # build (if needed) + run + table
#   REPEATS=3 PCD_STEPS=3 bench/run_energynet_bench.sh
#
# Uses the float Release build in /work/main/build-float (or $BUILD), as the other
# PyTorch benches do. The model is the tutorial's EnergyNet (1 738 433 parameters):
#   conv(64,4,2,1) lrelu(0.2) conv(128,4,2,1) lrelu(0.2) flatten linear(256) lrelu(0.2) linear(1)
# with the tutorial's SGLD x <- clamp(x - (eps/2) clip(grad E, +-0.03) + eta sqrt(eps) z, 0, 1),
# eps = 10, eta sqrt(eps) = 0.005.
#   sgld  64 chains x SGLD_STEPS (60) moves from U(0,1):
#           `zeta sample --model.type=net` (its JSON chain_steps_per_s; a random
#           initialisation, model.init_seed)            target: Zeta >= 1.3x PyTorch
#   pcd   full training steps of the tutorial's recipe: batch 128, 60 SGLD moves of
#         negatives from a replay buffer of 10 000 (5% restarts), energy regulariser
#         0.001, Adam lr 1e-4, clip_grad_norm 1, on the first 10 000 Fashion-MNIST
#         images: `zeta train` (JSON updates_per_s)   target: Zeta >= 1.2x PyTorch
# PyTorch: bench/torch_energynet.py (nn.Conv2d, autograd), OMP/BLAS threads 1. Best
# of REPEATS each, alternating. % of sgemm peak: the FLOPs of torch_energynet.py's
# count (its docstring) times the rate, against the best 2048^3 sgemm through
# PyTorch's OpenBLAS in the same run (torch_energynet.py --peak, once per repeat).
# Raw JSON lines go to $BUILD/bench-results/energynet-<date>.jsonl.
set -euo pipefail

REPEATS=${REPEATS:-2}
SGLD_STEPS=${SGLD_STEPS:-60}
PCD_STEPS=${PCD_STEPS:-2}

BENCH=energynet
# shellcheck source=bench/bench_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"
TORCH=$SRC/bench/torch_energynet.py

NET='conv(64,4,2,1) lrelu(0.2) conv(128,4,2,1) lrelu(0.2) flatten linear(256) lrelu(0.2) linear(1)'
SGLD=(--sampler.type=langevin --sampler.step_size=10 --sampler.clip_grad=0.03 --sampler.clamp=0,1)
tag() { sed "s/^{/{\"workload\": \"$1\", \"repeat\": $2, \"impl\": \"$3\", /"; }

for ((r = 1; r <= REPEATS; ++r)); do
  echo "== repeat $r/$REPEATS: sgld (64 chains x $SGLD_STEPS)" >&2
  "$ZETA" sample --model.type=net "--model.net=$NET" --model.input=1,28,28 "${SGLD[@]}" --sampler.chains=64 \
    --run.steps="$SGLD_STEPS" --run.burn_in=0 --run.save_every=0 --run.progress_every=0 \
    --output.file="$OUT/energynet_sample.h5" | tag sgld "$r" zeta >>"$RESULTS"
  "$PYTHON" "$TORCH" --what sgld --chains 64 --steps "$SGLD_STEPS" | sed 's/"impl": "pytorch", //' |
    tag sgld "$r" pytorch >>"$RESULTS"
  echo "== repeat $r/$REPEATS: pcd ($PCD_STEPS steps of batch 128, k 60)" >&2
  rm -f "$OUT/energynet_train.h5" "$OUT/energynet_train.ckpt"
  "$ZETA" train --model.type=net "--model.net=$NET" --model.input=1,28,28 "${SGLD[@]}" --sampler.noise_scale=0.0016 \
    --data.type=idx --data.path=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz --data.limit=10000 \
    --data.partitions=1 --train.objective=pcd --train.k=60 --train.batch=128 --train.buffer_size=10000 \
    --train.reinit_prob=0.05 --train.energy_reg=0.001 --train.clip_norm=1 --train.optimizer=adam --train.lr=1e-4 \
    --run.steps="$PCD_STEPS" --run.progress_every=0 --output.file="$OUT/energynet_train.h5" \
    --checkpoint.file="$OUT/energynet_train.ckpt" | tag pcd "$r" zeta >>"$RESULTS"
  "$PYTHON" "$TORCH" --what pcd --steps "$PCD_STEPS" | sed 's/"impl": "pytorch", //' | tag pcd "$r" pytorch >>"$RESULTS"
  "$PYTHON" "$TORCH" --peak | tag peak "$r" pytorch >>"$RESULTS"
done

"$PYTHON" - "$RESULTS" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
peak = max(r["sgemm_gflops"] for r in rows if r["workload"] == "peak")
flops = {r["workload"]: r.get("flops_per_chain_step", r.get("flops_per_update")) for r in rows
         if r["impl"] == "pytorch" and r["workload"] != "peak"}
rate_key = {"sgld": "chain_steps_per_s", "pcd": "updates_per_s"}
targets = {"sgld": 1.3, "pcd": 1.2}
print(f"\nresults: {sys.argv[1]}")
print(f"float32, 1 thread; best of {max(r['repeat'] for r in rows)}; sgemm 2048^3 peak {peak:.1f} GFLOP/s\n")
fmt = "{:<10} {:<8} {:>14} {:>9} {:>7} {:>8} {:>7}  {}"
print(fmt.format("workload", "impl", "rate", "/PyTorch", "target", "GFLOP/s", "% peak", "verdict"))
ok_all = True
for w in ["sgld", "pcd"]:
    best = {}
    for r in rows:
        if r["workload"] == w and (r["impl"] not in best or r[rate_key[w]] > best[r["impl"]][rate_key[w]]):
            best[r["impl"]] = r
    pt = best["pytorch"][rate_key[w]]
    for impl in ["zeta", "pytorch"]:
        v = best[impl][rate_key[w]]
        gf = v * flops[w] * 1e-9
        verdict = ""
        if impl == "zeta":
            ok = v / pt >= targets[w]
            ok_all &= ok
            verdict = "PASS" if ok else "MISS"
        print(fmt.format(w if impl == "zeta" else "", impl, f"{v:.4g}", f"{v / pt:.2f}x",
                         f">={targets[w]}x" if impl == "zeta" else "", f"{gf:.1f}", f"{100 * gf / peak:.1f}%", verdict))
print("\nall Zeta targets met" if ok_all else "\nZeta misses at least one target")
EOF
