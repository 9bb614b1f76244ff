#!/usr/bin/env bash
# MLP energy training speed: Zeta's `zeta train` against PyTorch, float, one rank, one core.
#
#   bench/run_ebm_bench.sh                          # build (if needed) + run + table
#   REPEATS=5 bench/run_ebm_bench.sh                # more alternating repetitions (default 3)
#   DSM_STEPS=800 PCD_STEPS=200 bench/run_ebm_bench.sh
#
# Uses the float Release build in /work/main/build-float (or $BUILD), as
# run_rbm_bench.sh does. MLP 784-512-512-1 (SiLU), batch 128, Adam lr 1e-4,
# Fashion-MNIST (first 10 000 images, pixels / 255, not binarized):
#   dsm  denoising score matching, sigma = 0.1                 target: Zeta >= 1.5x PyTorch
#   pcd  PCD with a replay buffer of 10 000 U(0,1) states, k = 20 Langevin steps
#        (eps 0.01, gradient clip 0.01, clamp [0, 1]), restart probability 0.05,
#        energy regulariser alpha = 1                           target: Zeta >= 1.2x PyTorch
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

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$SRC/build-float}
REPEATS=${REPEATS:-3}
PYTHON=${PYTHON:-/usr/bin/python3}
JOBS=${JOBS:-2}
DSM_STEPS=${DSM_STEPS:-400}
PCD_STEPS=${PCD_STEPS:-100}

# One core for everybody: OpenBLAS, OpenMP (Kokkos, PyTorch), MKL.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

cached() { sed -n "s/^$1:[A-Z]*=//p" "$BUILD/CMakeCache.txt" 2>/dev/null; }
if [[ ! -f $BUILD/CMakeCache.txt || $(cached ZETA_PRECISION) != float || $(cached CMAKE_BUILD_TYPE) != Release ]]; then
  echo "== configuring $BUILD (Release, float, no tests)" >&2
  cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DZETA_PRECISION=float -DZETA_ENABLE_TESTS=OFF \
    -DZETA_ENABLE_BENCH=ON >"$BUILD.configure.log" 2>&1 || { cat "$BUILD.configure.log" >&2; exit 1; }
fi
echo "== building zeta (float)" >&2
cmake --build "$BUILD" --target zeta_exe -j "$JOBS" >&2

ZETA=$BUILD/zeta
TORCH=$SRC/bench/torch_ebm.py
INI=$SRC/bench/ebm_train.ini
mkdir -p "$BUILD/bench-results"
RESULTS=$BUILD/bench-results/ebm-$(date +%Y%m%d-%H%M%S).jsonl
ZLOG=${RESULTS%.jsonl}.zeta.log
: >"$RESULTS"
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

for ((r = 1; r <= REPEATS; ++r)); do
  echo "== dsm, sigma 0.1, 784-512-512-1 batch 128, repeat $r/$REPEATS" >&2
  zeta_run dsm "$DSM_STEPS" "${ZETA_DSM[@]}"
  torch_run dsm "${TORCH_DSM[@]}" --steps "$DSM_STEPS"
  echo "== pcd, k 20, 784-512-512-1 batch 128, repeat $r/$REPEATS" >&2
  zeta_run pcd "$PCD_STEPS" "${ZETA_PCD[@]}"
  torch_run pcd "${TORCH_PCD[@]}" --steps "$PCD_STEPS"
  "$PYTHON" "$TORCH" --peak | sed "s/^{/{\"workload\": \"peak\", \"impl\": \"sgemm\", /" >>"$RESULTS"
done

"$PYTHON" - "$RESULTS" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
peaks = [r["sgemm_gflops"] for r in rows if r["workload"] == "peak"]
peak = max(peaks)
print(f"\nresults: {sys.argv[1]}  (best of {len(peaks)} each)")
t0 = next(r for r in rows if r["impl"] == "pytorch")
print(f"torch {t0['torch_version']}, float32, 1 thread, OPENBLAS_CORETYPE={t0['openblas_coretype'] or 'unset'}; "
      f"sgemm 2048^3: min {min(peaks):.1f}, max {max(peaks):.1f} GFLOP/s (% peak uses the max)\n")
targets = {"dsm": 1.5, "pcd": 1.2}
fmt = "{:<16} {:>9} {:>9} {:>8} {:>7} {:>9} {:>10} {:>9} {:>8} {:>8}  {}"
print(fmt.format("workload", "Zeta u/s", "PyTorch", "ratio", "target", "verdict", "PT+malloc", "ratio", "Zeta %pk",
                 "PT %pk", "PT+malloc verdict"))
ok_all = True
gflops = {}
for w in ("dsm", "pcd"):
    sel = [r for r in rows if r["workload"] == w]
    best = {}
    for r in sel:
        if r["impl"] not in best or r["updates_per_s"] > best[r["impl"]]["updates_per_s"]:
            best[r["impl"]] = r
    pt, ptm = best["pytorch"], best["pytorch+malloc"]
    flops = gflops[w] = pt["flops_per_update"] / 1e9  # the same sizes on both sides
    label = f"{w} " + (f"sigma {pt['sigma']}" if w == "dsm" else f"k {pt['k']}")
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
print("\nall Zeta targets met" if ok_all else "\nZeta misses at least one target")
EOF
