#!/usr/bin/env bash
# Builds the zeta executable of a baseline commit, the OLD of
# scripts/same-results.sh: the commit checked out detached in a git worktree at
# DIR, built in <repo>/build-baseline/build (Release, no tests, no benchmarks,
# target zeta_exe only; with ccache when there is one). Re-running reuses the
# worktree and the build. The build's output goes to stderr; the executable's
# path is printed on stdout.
# Usage: scripts/build-baseline.sh [REF] [DIR]
#   REF  the commit (default $ZETA_BASELINE_REF: the commit before the
#        refactoring into library layers began)
#   DIR  the worktree (default <repo>/build-baseline/src)
set -euo pipefail
ZETA_BASELINE_REF=${ZETA_BASELINE_REF:-e04b5eb}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ref=${1:-$ZETA_BASELINE_REF}
dir=${2:-$root/build-baseline/src}
build=$root/build-baseline/build
die() { echo "build-baseline: $*" >&2; exit 1; }

git -C "$root" rev-parse --git-dir > /dev/null 2>&1 || die "$root is not a git checkout"
resolve() { git -C "$root" rev-parse --verify --quiet "$ref^{commit}"; }
if ! commit=$(resolve); then
  # A shallow clone (CI) lacks the history: fetch it.
  if [ "$(git -C "$root" rev-parse --is-shallow-repository)" = true ]; then
    git -C "$root" fetch --quiet --unshallow > /dev/null 2>&1 ||
      die "commit '$ref' is not in $root, a shallow clone, and 'git fetch --unshallow' failed; fetch the history (or the commit) and run again"
  fi
  shallow=
  [ "$(git -C "$root" rev-parse --is-shallow-repository)" = true ] && shallow=", a shallow clone (git fetch --unshallow)"
  commit=$(resolve) || die "commit '$ref' is not in $root$shallow; fetch it (e.g. git fetch origin) or name another REF"
fi

# The worktree, detached at the commit.
if [ -e "$dir" ]; then
  [ "$(git -C "$dir" rev-parse --path-format=absolute --git-common-dir 2> /dev/null)" = \
    "$(git -C "$root" rev-parse --path-format=absolute --git-common-dir)" ] &&
    [ "$(git -C "$dir" rev-parse --show-toplevel)" = "$(cd "$dir" && pwd -P)" ] ||
    die "$dir exists and is not a worktree of $root; remove it or name another DIR"
  if [ "$(git -C "$dir" rev-parse HEAD)" != "$commit" ]; then
    echo "build-baseline: moving $dir to $commit" >&2
    git -C "$dir" checkout --quiet --detach "$commit" >&2
  fi
else
  git -C "$root" worktree prune
  mkdir -p "$(dirname "$dir")"
  git -C "$root" worktree add --quiet --detach "$dir" "$commit" >&2
fi
dir=$(cd "$dir" && pwd)

# A build of another source directory (another DIR) is configured afresh.
if [ -f "$build/CMakeCache.txt" ] &&
  ! grep -qxF "CMAKE_HOME_DIRECTORY:INTERNAL=$dir" "$build/CMakeCache.txt"; then
  rm -rf "$build"
fi
launcher=()
if command -v ccache > /dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S "$dir" -B "$build" -DCMAKE_BUILD_TYPE=Release -DZETA_ENABLE_TESTS=OFF -DZETA_ENABLE_BENCH=OFF \
  "${launcher[@]}" >&2
cmake --build "$build" --target zeta_exe -j "$(nproc)" >&2

exe=$build/zeta
[ -x "$exe" ] || exe=$(find "$build" -maxdepth 3 -type f -name zeta -perm -u+x | head -n 1)
[ -n "$exe" ] && [ -x "$exe" ] || die "no zeta executable in $build after the build"
echo "$exe"
