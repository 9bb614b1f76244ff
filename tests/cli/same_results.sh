#!/usr/bin/env bash
# ZETA gives the same results, bit for bit, as the baseline commit's zeta
# (ZETA_BASELINE_REF in scripts/build-baseline.sh, which builds it in
# build-baseline/ of the repository) on every input/*.ini, shortened:
# scripts/same-results.sh with the baseline as OLD and ZETA as NEW.
# Exits 77 (skipped) outside a git checkout.
# Usage: same_results.sh ZETA MPIEXEC
set -u
zeta=$1
mpiexec=${2:-mpirun}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
git -C "$root" rev-parse --git-dir > /dev/null 2>&1 || { echo "SKIP: $root is not a git checkout"; exit 77; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! "$root/scripts/build-baseline.sh" > "$log" 2>&1; then
  echo "FAIL: building the baseline:"; cat "$log"; exit 1
fi
base=$(tail -n 1 "$log")
echo "baseline: $base"
MPIEXEC=$mpiexec "$root/scripts/same-results.sh" "$base" "$zeta"
