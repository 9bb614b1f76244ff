#!/usr/bin/env bash
# Runs the Zeta demo: `zeta sample input/demo.ini` (a 2-D Gaussian mixture,
# 256 MALA chains, energy landscape on), then a small tempering study with
# `zeta temper`: input/temper_ising.ini (Ising 16x16 across beta_c, heat-bath,
# adaptive ladder, checkpointed) and input/temper_mixture.ini (a 4-mode 2-D
# mixture with unequal weights); then trains an RBM on Fashion-MNIST with
# `zeta train` (input/train_rbm_fashion.ini) and an MLP energy on the ring of 8
# Gaussians by denoising score matching (input/train_dsm_ring8.ini); then plots
# everything.
#
# Usage: scripts/demo.sh [BUILD_DIR] [RESULTS_DIR]
#   BUILD_DIR    directory holding the zeta executable (default: build)
#   RESULTS_DIR  where demo.h5, demo.xmf, demo.json and the PNGs go
#                (default: results)
# Relative paths are taken from the current directory; with no arguments the
# script can be run from anywhere and uses build/ and results/ of the repository.
#
# Environment:
#   NP=N        MPI ranks when mpirun is available (default 2)
#   NO_MPI=1    run zeta directly, without mpirun
#   PYTHON=...  interpreter for the plot (default /usr/bin/python3, which has
#               Debian's python3-h5py/numpy/matplotlib)
#
# Builds nothing: build zeta first (scripts/build.sh, or cmake -S . -B build && cmake --build build).
# Writes:
#   RESULTS_DIR/demo.h5            samples (+ landscape); an existing demo.h5 is
#                                  kept by zeta as demo.h5.~N~
#   RESULTS_DIR/demo.xmf           XDMF sidecar for the landscape (ParaView)
#   RESULTS_DIR/demo.json          the JSON summary line zeta prints
#   RESULTS_DIR/demo_samples.png   samples over the energy landscape
#   RESULTS_DIR/demo_energy.png    energy traces and histogram
#   RESULTS_DIR/temper_{ising,mixture}.{h5,json} and temper_*_*.png (acceptance,
#                                  flow, round trips, energy histograms per beta,
#                                  mean energy, target-beta samples)
#   RESULTS_DIR/train_rbm.{h5,json,ckpt} and train_rbm_{curves,filters,samples}.png
#                                  (RBM on binarized Fashion-MNIST, PCD, AIS held-out
#                                  log-likelihood)
#   RESULTS_DIR/train_dsm_ring8.{h5,xmf,json,ckpt} and train_dsm_ring8_{curves,density}.png
#                                  (MLP energy by DSM: held-out NLL on a grid against
#                                  the true density's, the learned density)
#   with ENERGYNET=1 (minutes more: about 2 minutes of CPU per rank on 2 ranks):
#   RESULTS_DIR/train_energynet.{h5,json,ckpt}, train_energynet_{curves,energies,samples}.png
#                                  (input/train_pcd_energynet_fashion.ini) and
#                                  eval_energynet.{h5,json}, eval_energynet_{energies,roc,samples}.png
#                                  (zeta eval: held-out Fashion-MNIST against uniform noise,
#                                  the AUROC; the replay buffer's first 100 states)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Resolve a directory argument: absolute as is, relative to the current
# directory when given, else the default inside the repository.
resolve() {
  local arg="$1" default="$2"
  if [[ -z "$arg" ]]; then
    printf '%s\n' "$repo/$default"
  elif [[ "$arg" = /* ]]; then
    printf '%s\n' "$arg"
  else
    printf '%s\n' "$PWD/$arg"
  fi
}

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,46p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 0
fi
if [[ $# -gt 2 ]]; then
  echo "usage: scripts/demo.sh [BUILD_DIR] [RESULTS_DIR]   (--help for more)" >&2
  exit 2
fi

build_dir="$(resolve "${1:-}" build)"
results_dir="$(resolve "${2:-}" results)"
zeta="$build_dir/zeta"
config="$repo/input/demo.ini"
python="${PYTHON:-/usr/bin/python3}"
np="${NP:-2}"

die() { echo "demo.sh: error: $*" >&2; exit 1; }

[[ -x "$zeta" ]] || die "no zeta executable at '$zeta' (build it first: scripts/build.sh $build_dir)"
[[ -f "$config" ]] || die "missing $config"
[[ -x "$python" ]] || die "python '$python' not found (set PYTHON=...)"
[[ "$np" =~ ^[1-9][0-9]*$ ]] || die "NP must be a positive integer, got '$np'"

mkdir -p "$results_dir"
out="$results_dir/demo.h5"

# Launcher: mpirun -np NP when available, else zeta alone.
launch=()
if [[ "${NO_MPI:-0}" != "1" ]] && command -v mpirun >/dev/null 2>&1; then
  launch=(mpirun -np "$np")
  if mpirun --version 2>/dev/null | grep -q "Open MPI"; then
    # Open MPI refuses to run as root unless told to, and refuses more ranks
    # than cores unless oversubscription is allowed.
    if [[ "$(id -u)" == "0" ]]; then
      export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    fi
    cores="$(nproc 2>/dev/null || echo 1)"
    if ((np > cores)); then
      launch+=(--oversubscribe)
    fi
  fi
fi

cmd=("${launch[@]}" "$zeta" sample "$config" "--output.file=$out")
echo "demo.sh: ${cmd[*]}" >&2
# zeta prints progress on stderr and one JSON summary line on stdout.
"${cmd[@]}" | tee "$results_dir/demo.json"

echo "demo.sh: plotting" >&2
"$python" "$repo/analysis/plot_samples.py" "$out" -o "$results_dir/demo"

for study in temper_ising temper_mixture; do
  cmd=("${launch[@]}" "$zeta" temper "$repo/input/$study.ini" "--output.file=$results_dir/$study.h5")
  [[ $study == temper_ising ]] && cmd+=("--checkpoint.file=$results_dir/$study.ckpt")
  echo "demo.sh: ${cmd[*]}" >&2
  "${cmd[@]}" | tee "$results_dir/$study.json"
  "$python" "$repo/analysis/plot_temper.py" "$results_dir/$study.h5" "$results_dir/$study"
done

# RBM training on binarized Fashion-MNIST (784 -> 64, PCD, AIS held-out log-likelihood).
fashion=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
if [[ -f $fashion ]]; then
  rm -f "$results_dir/train_rbm.ckpt" "$results_dir/train_rbm.ckpt.prev"
  cmd=("${launch[@]}" "$zeta" train "$repo/input/train_rbm_fashion.ini" "--output.file=$results_dir/train_rbm.h5"
       "--checkpoint.file=$results_dir/train_rbm.ckpt")
  echo "demo.sh: ${cmd[*]}" >&2
  "${cmd[@]}" | tee "$results_dir/train_rbm.json"
  "$python" "$repo/analysis/plot_train.py" "$results_dir/train_rbm.h5" --checkpoint "$results_dir/train_rbm.ckpt" \
    -o "$results_dir/train_rbm"
else
  echo "demo.sh: $fashion missing (install dataset-fashion-mnist): skipping the training demo" >&2
fi

# A neural energy (MLP 2-128-128-1) on the ring of 8 Gaussians by denoising score matching.
rm -f "$results_dir/train_dsm_ring8.ckpt" "$results_dir/train_dsm_ring8.ckpt.prev"
cmd=("${launch[@]}" "$zeta" train "$repo/input/train_dsm_ring8.ini" "--output.file=$results_dir/train_dsm_ring8.h5"
     "--checkpoint.file=$results_dir/train_dsm_ring8.ckpt")
echo "demo.sh: ${cmd[*]}" >&2
"${cmd[@]}" | tee "$results_dir/train_dsm_ring8.json"
"$python" "$repo/analysis/plot_train.py" "$results_dir/train_dsm_ring8.h5" -o "$results_dir/train_dsm_ring8"

# The EnergyNet of issue 27 by PCD, then `zeta eval` of held-out images against noise (ENERGYNET=1).
if [[ "${ENERGYNET:-0}" == 1 && -f "$fashion" ]]; then
  rm -f "$results_dir/train_energynet.ckpt" "$results_dir/train_energynet.ckpt.prev"
  cmd=("${launch[@]}" "$zeta" train "$repo/input/train_pcd_energynet_fashion.ini"
       "--output.file=$results_dir/train_energynet.h5" "--checkpoint.file=$results_dir/train_energynet.ckpt")
  echo "demo.sh: ${cmd[*]}" >&2
  "${cmd[@]}" | tee "$results_dir/train_energynet.json"
  "$python" "$repo/analysis/plot_train.py" "$results_dir/train_energynet.h5" -o "$results_dir/train_energynet"
  cmd=("${launch[@]}" "$zeta" eval "$repo/input/eval_energynet_fashion.ini"
       "--model.params=$results_dir/train_energynet.h5" "--output.file=$results_dir/eval_energynet.h5")
  echo "demo.sh: ${cmd[*]}" >&2
  "${cmd[@]}" | tee "$results_dir/eval_energynet.json"
  "$python" "$repo/analysis/plot_eval.py" "$results_dir/eval_energynet.h5" -o "$results_dir/eval_energynet" \
    --images "$results_dir/train_energynet.ckpt:/train/replay_buffer"
fi

echo "demo.sh: results in $results_dir" >&2
