#!/usr/bin/env bash
# `cmake --install` into a temporary prefix: PREFIX/bin/zeta answers --version and
# every analysis script (analysis/*.py starting with #!) is on PREFIX/bin and runs
# from there, importing its modules (the other analysis/*.py) installed beside it.
# Usage: install.sh CMAKE BUILD_DIR SOURCE_DIR
set -u
cmake=$1
build=$2
src=$3
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
fail=0
"$cmake" --install "$build" --prefix "$prefix" > "$prefix/install.log" 2>&1 ||
  { echo "FAIL cmake --install:"; cat "$prefix/install.log"; exit 1; }
# From another directory, with only PREFIX/bin added to PATH: nothing found in the tree.
cd "$prefix"
export PATH="$prefix/bin:$PATH"
if out=$(zeta --version 2>&1) && [ "$(command -v zeta)" = "$prefix/bin/zeta" ] && echo "$out" | grep -q '^zeta [0-9]'; then
  echo "ok   zeta --version: $(echo "$out" | head -n 1)"
else
  echo "FAIL $prefix/bin/zeta --version:"; echo "$out"; fail=1
fi
n=0
for py in "$src"/analysis/*.py; do
  name=$(basename "$py")
  if head -n 1 "$py" | grep -q '^#!'; then
    n=$((n + 1))
    [ "$(command -v "$name")" = "$prefix/bin/$name" ] || { echo "FAIL $name is not on PATH"; fail=1; continue; }
    "$name" --help > help.txt 2>&1 && grep -q "usage: $name" help.txt ||
      { echo "FAIL $name --help from PATH:"; cat help.txt; fail=1; continue; }
    echo "ok   $name --help"
  else
    [ -f "$prefix/share/zeta/analysis/$name" ] || { echo "FAIL module $name not installed beside the scripts"; fail=1; }
  fi
done
[ $n -gt 0 ] || { echo "FAIL no analysis scripts found in $src/analysis"; fail=1; }
[ $fail = 0 ] && echo "PASS" || echo "FAILED"
exit $fail
