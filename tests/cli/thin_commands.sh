#!/usr/bin/env bash
# The library owns the algorithms (DEVELOPERS.md, issue 21): the commands in
# src/apps hold no Kokkos kernel and are under 1,300 lines in all, and no function
# in src/ or include/ is over 120 lines (scripts/function-lengths.py).
# Usage: thin_commands.sh SOURCE_DIR
set -u
src=${1:?usage: thin_commands.sh SOURCE_DIR}
fail=0
kernels=$(grep -nE 'Kokkos::parallel_(for|reduce|scan)|KOKKOS_LAMBDA|KOKKOS_INLINE_FUNCTION' "$src"/src/apps/* || true)
if [ -n "$kernels" ]; then echo "FAIL: kernels in src/apps:"; echo "$kernels"; fail=1; fi
lines=$(cat "$src"/src/apps/* | wc -l)
if [ "$lines" -gt 1300 ]; then echo "FAIL: src/apps has $lines lines (limit 1300)"; fail=1; fi
[ -n "$kernels" ] || echo "src/apps: $lines lines, no kernels"
/usr/bin/python3 "$src/scripts/function-lengths.py" --max 120 --top 3 "$src/src" "$src/include" || fail=1
exit $fail
