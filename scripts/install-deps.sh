#!/usr/bin/env bash
# Installs Zeta's build, test and analysis dependencies from Debian 12 packages.
# Usage (as root): scripts/install-deps.sh [--bench]
#   --bench  also installs python3-torch for the PyTorch peer benchmarks.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(
  build-essential cmake pkg-config
  openmpi-bin libopenmpi-dev
  libtrilinos-kokkos-dev libtrilinos-kokkos-kernels-dev
  libhdf5-openmpi-dev hdf5-tools
  libgtest-dev googletest
  librandom123-dev
  libopenblas-dev
  zlib1g-dev
  python3-h5py python3-numpy python3-matplotlib python3-pymbar python3-sklearn
  dataset-fashion-mnist
  slurm-wlm munge  # ctest slurm_jobs: a one-node Slurm for jobs/*.slurm
)
if [[ "${1:-}" == "--bench" ]]; then
  pkgs+=(python3-torch)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
