#!/usr/bin/env bash
# MLP energy training speed: Zeta's `zeta train` against PyTorch, float, one rank, one core.
#
#   bench/run_ebm_bench.sh                          # build (if needed) + run + table
#   REPEATS=5 bench/run_ebm_bench.sh                # more alternating repetitions (default 3)
#   DSM_STEPS=800 PCD_STEPS=200 bench/run_ebm_bench.sh
#   WORKLOADS="nce ssm_vr pt" bench/run_ebm_bench.sh  # a subset (default: dsm pcd nce ssm_vr pt)
#   NO_BUILD=1 bench/run_ebm_bench.sh               # run $BUILD/zeta as it is (no cmake --build)
#
# Uses the float Release build in /work/main/build-float (or $BUILD), as
# run_rbm_bench.sh does. MLP 784-512-512-1 (SiLU), batch 128, Adam lr 1e-4,
# Fashion-MNIST (first 10 000 images, pixels / 255, not binarized):
#   dsm  denoising score matching, sigma = 0.1                 target: Zeta >= 1.5x PyTorch
#   pcd  PCD with a replay buffer of 10 000 U(0,1) states, k = 20 Langevin steps
#        (eps 0.01, gradient clip 0.01, clamp [0, 1]), restart probability 0.05,
#        energy regulariser alpha = 1                           target: Zeta >= 1.2x PyTorch
#   nce  noise-contrastive estimation, nu = 4 noise points per data point from
#        U([0, 1]^784), learnt ln Z                             target: Zeta >= 1.3x PyTorch
#   ssm_vr  sliced score matching, variance-reduced form, one Gaussian v per row
#                                                               target: Zeta >= 1.3x PyTorch
#   pt   Zeta alone: PT-PCD (train.objective = pt_pcd, 4 replicas per chain on a
#        geometric beta ladder from 0.3, k = 5 Langevin moves each, DEO swaps) against
#        PCD with k = 20: both make 128 x 20 Langevin chain updates per parameter update
#        (PT-PCD on 4 x 128 rows at a time); the overhead is PCD's updates/s over
#        PT-PCD's, minus 1                                       target: < 5%
# For each repeat and workload: `zeta train bench/ebm_train.ini` (one rank, no
# mpirun; its JSON updates_per_s), then bench/torch_ebm.py as installed
# ("pytorch") and with glibc malloc told to keep freed memory ("pytorch+malloc":
# GLIBC_TUNABLES mmap/trim thresholds). The targets refer to PyTorch as installed
# (the seed's code, as bench/run_langevin_bench.sh's do); the ratio against the
# malloc-tuned run is printed beside it, with whether it too reaches the target.
# Best of REPEATS each. % of sgemm peak: flops per update as torch_ebm.py counts
# them (its docstring) times updates/s, against the best 2048^3 sgemm of the run
# (torch_ebm.py --peak, through PyTorch's OpenBLAS, once per repeat).
# OPENBLAS_CORETYPE passes through to both sides. Raw JSON lines go to
# $BUILD/bench-results/ebm-<date>.jsonl.
set -euo pipefail

REPEATS=${REPEATS:-3}
DSM_STEPS=${DSM_STEPS:-400}
PCD_STEPS=${PCD_STEPS:-100}
NCE_STEPS=${NCE_STEPS:-200}
SSM_STEPS=${SSM_STEPS:-200}
PT_STEPS=${PT_STEPS:-100}
WORKLOADS=${WORKLOADS:-dsm pcd nce ssm_vr pt}
wants() { [[ " $WORKLOADS " == *" $1 "* ]]; }

BENCH=ebm
# shellcheck source=bench/bench_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"
TORCH=$SRC/bench/torch_ebm.py
INI=$SRC/bench/ebm_train.ini
ZLOG=${RESULTS%.jsonl}.zeta.log
: >"$ZLOG"
MALLOC="glibc.malloc.mmap_threshold=4294967295:glibc.malloc.trim_threshold=4294967295"

# Runs `zeta train` on one rank and appends its JSON summary (joined into one line)
# with a workload tag; stderr goes to $ZLOG. A failed run is reported and skipped
# (the table then says "no Zeta result" for that workload).
zeta_run() {
  local tag=$1 steps=$2
  shift 2
  "$ZETA" train "$INI" --run.steps="$steps" --output.file= "$@" 2>>"$ZLOG" |
    tr -d '\n' | sed -e "s/^{/{\"workload\": \"$tag\", \"impl\": \"zeta\", /" -e 's/$/\n/' >>"$RESULTS" ||
    echo "== zeta train ($tag) failed; see $ZLOG" >&2
}

# Runs torch_ebm.py as installed and with the malloc setting, tagged.
torch_run() {
  local tag=$1
  shift
  "$PYTHON" "$TORCH" "$@" | sed "s/^{/{\"workload\": \"$tag\", /" >>"$RESULTS"
  GLIBC_TUNABLES=$MALLOC "$PYTHON" "$TORCH" "$@" |
    sed -e "s/^{/{\"workload\": \"$tag\", /" -e 's/"impl": "pytorch"/"impl": "pytorch+malloc"/' >>"$RESULTS"
}

# Each objective's own keys, given on the command line only for that objective
# (`zeta train` refuses e.g. train.sigma with pcd); the same values on both sides.
ZETA_DSM=(--train.objective=dsm --train.sigma=0.1)
TORCH_DSM=(--objective dsm --sigma 0.1)
ZETA_PCD=(--train.objective=pcd --train.k=20 --train.buffer_size=10000 --train.reinit_prob=0.05
  --train.energy_reg=1.0 --sampler.type=langevin --sampler.step_size=0.01 --sampler.clip_grad=0.01
  "--sampler.clamp=0,1")
TORCH_PCD=(--objective pcd --k 20 --buffer-size 10000 --reinit-prob 0.05 --energy-reg 1.0 --step-size 0.01
  --clip-grad 0.01)
ZETA_NCE=(--train.objective=nce --train.nce_ratio=4 --train.nce_noise=uniform --train.nce_box=0,1)
TORCH_NCE=(--objective nce --nce-ratio 4)
ZETA_SSM=(--train.objective=ssm_vr --train.projection=gaussian)
TORCH_SSM=(--objective ssm_vr --projection gaussian)
# PT-PCD and its PCD peer: the same Langevin moves, chain updates and regulariser.
ZETA_PT=(--train.objective=pt_pcd --train.k=5 --train.temper_count=4 --train.temper_beta_min=0.3
  --train.energy_reg=1.0 --sampler.type=langevin --sampler.step_size=0.01 --sampler.clip_grad=0.01
  "--sampler.clamp=0,1")

for ((r = 1; r <= REPEATS; ++r)); do
  if wants dsm; then
    echo "== dsm, sigma 0.1, 784-512-512-1 batch 128, repeat $r/$REPEATS" >&2
    zeta_run dsm "$DSM_STEPS" "${ZETA_DSM[@]}"
    torch_run dsm "${TORCH_DSM[@]}" --steps "$DSM_STEPS"
  fi
  if wants pcd; then
    echo "== pcd, k 20, 784-512-512-1 batch 128, repeat $r/$REPEATS" >&2
    zeta_run pcd "$PCD_STEPS" "${ZETA_PCD[@]}"
    torch_run pcd "${TORCH_PCD[@]}" --steps "$PCD_STEPS"
  fi
  if wants nce; then
    echo "== nce, nu 4, uniform noise, 784-512-512-1 batch 128, repeat $r/$REPEATS" >&2
    zeta_run nce "$NCE_STEPS" "${ZETA_NCE[@]}"
    torch_run nce "${TORCH_NCE[@]}" --steps "$NCE_STEPS"
  fi
  if wants ssm_vr; then
    echo "== ssm_vr, gaussian v, 784-512-512-1 batch 128, repeat $r/$REPEATS" >&2
    zeta_run ssm_vr "$SSM_STEPS" "${ZETA_SSM[@]}"
    torch_run ssm_vr "${TORCH_SSM[@]}" --steps "$SSM_STEPS"
  fi
  if wants pt; then
    echo "== pt_pcd (4 replicas x k 5) against pcd (k 20), 784-512-512-1 batch 128, repeat $r/$REPEATS" >&2
    zeta_run pt_pcd "$PT_STEPS" "${ZETA_PT[@]}"
    zeta_run pt_pcd_peer "$PT_STEPS" "${ZETA_PCD[@]}"
  fi
  "$PYTHON" "$TORCH" --peak | sed "s/^{/{\"workload\": \"peak\", \"impl\": \"sgemm\", /" >>"$RESULTS"
done

"$PYTHON" - "$RESULTS" "$WORKLOADS" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
peaks = [r["sgemm_gflops"] for r in rows if r["workload"] == "peak"]
peak = max(peaks)
print(f"\nresults: {sys.argv[1]}  (best of {len(peaks)} each)")
t0 = next((r for r in rows if r["impl"] == "pytorch"), None)
if t0:
    print(f"torch {t0['torch_version']}, float32, 1 thread, OPENBLAS_CORETYPE={t0['openblas_coretype'] or 'unset'}; "
          f"sgemm 2048^3: min {min(peaks):.1f}, max {max(peaks):.1f} GFLOP/s (% peak uses the max)\n")
targets = {"dsm": 1.5, "pcd": 1.2, "nce": 1.3, "ssm_vr": 1.3}
fmt = "{:<16} {:>9} {:>9} {:>8} {:>7} {:>9} {:>10} {:>9} {:>8} {:>8}  {}"
print(fmt.format("workload", "Zeta u/s", "PyTorch", "ratio", "target", "verdict", "PT+malloc", "ratio", "Zeta %pk",
                 "PT %pk", "PT+malloc verdict"))
ok_all = True
gflops = {}
labels = {"dsm": lambda r: f"dsm sigma {r['sigma']}", "pcd": lambda r: f"pcd k {r['k']}",
          "nce": lambda r: f"nce nu {r['nce_ratio']}", "ssm_vr": lambda r: f"ssm_vr {r['projection']}"}
for w in ("dsm", "pcd", "nce", "ssm_vr"):
    sel = [r for r in rows if r["workload"] == w]
    if not sel:
        continue
    best = {}
    for r in sel:
        if r["impl"] not in best or r["updates_per_s"] > best[r["impl"]]["updates_per_s"]:
            best[r["impl"]] = r
    pt, ptm = best["pytorch"], best["pytorch+malloc"]
    flops = gflops[w] = pt["flops_per_update"] / 1e9  # the same sizes on both sides
    label = labels[w](pt)
    pt_pk = 100 * pt["updates_per_s"] * flops / peak
    if "zeta" not in best:
        print(fmt.format(label, "-", f"{pt['updates_per_s']:.1f}", "-", f">={targets[w]}x", "no Zeta result",
                         f"{ptm['updates_per_s']:.1f}", "-", "-", f"{pt_pk:.0f}%", "-"))
        ok_all = False
        continue
    z = best["zeta"]["updates_per_s"]
    ratio, ratio_m = z / pt["updates_per_s"], z / ptm["updates_per_s"]
    ok = ratio >= targets[w]
    ok_all &= ok
    print(fmt.format(label, f"{z:.1f}", f"{pt['updates_per_s']:.1f}", f"{ratio:.2f}x", f">={targets[w]}x",
                     "PASS" if ok else "MISS", f"{ptm['updates_per_s']:.1f}", f"{ratio_m:.2f}x",
                     f"{100 * z * flops / peak:.0f}%", f"{pt_pk:.0f}%",
                     "reached" if ratio_m >= targets[w] else "not reached"))
print("GFLOP per update (as counted): " + ", ".join(f"{w} {v:.2f}" for w, v in gflops.items()) +
      "; targets against PyTorch as installed")
# PT-PCD against PCD with the same chain updates (Zeta alone): best of the repeats each.
pt = [r["updates_per_s"] for r in rows if r["workload"] == "pt_pcd" and r["impl"] == "zeta"]
peer = [r["updates_per_s"] for r in rows if r["workload"] == "pt_pcd_peer" and r["impl"] == "zeta"]
if pt and peer:
    over = max(peer) / max(pt) - 1
    ok = over < 0.05
    ok_all &= ok
    print(f"\npt_pcd 4 x k 5: {max(pt):.2f} u/s; pcd k 20: {max(peer):.2f} u/s (128 x 20 chain updates per update "
          f"each); PT-PCD overhead {100 * over:+.1f}% (target < 5%): {'PASS' if ok else 'MISS'}")
elif "pt" in sys.argv[2].split():
    print("\npt_pcd: no Zeta result")
    ok_all = False
print("\nall Zeta targets met" if ok_all else "\nZeta misses at least one target")
EOF
