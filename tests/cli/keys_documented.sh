#!/usr/bin/env bash
# Every key that `zeta COMMAND --help` shows is documented in docs/keys.md, with
# the same default and meaning (issue 24). Two checks: (1) each key of each
# command's --help has a row in that command's section of docs/keys.md, found
# independently of the generator; (2) scripts/keys-doc.sh run on this binary
# reproduces docs/keys.md byte for byte, so a changed default or meaning fails too.
# Usage: keys_documented.sh ZETA SOURCE_DIR
set -u
zeta=${1:?usage: keys_documented.sh ZETA SOURCE_DIR}
src=${2:?usage: keys_documented.sh ZETA SOURCE_DIR}
doc=$src/docs/keys.md
fail=0
[ -f "$doc" ] || { echo "FAIL: $doc missing"; exit 1; }

commands=$("$zeta" --help | awk '/^commands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && !/^  / {on = 0}')
[ -n "$commands" ] || { echo "FAIL: no commands in '$zeta --help'"; exit 1; }
total=0
for cmd in $commands; do
  keys=$("$zeta" "$cmd" --help 2>&1 | sed -nE 's/^  ([a-z_]+\.[A-Za-z0-9_]+) =( .*)?$/\1/p')
  [ -n "$keys" ] || continue
  # The rows of this command's section: from "## zeta CMD" to the next "## ".
  section=$(awk -v h="## zeta $cmd" '$0 == h {on = 1; next} on && /^## / {on = 0} on' "$doc")
  [ -n "$section" ] || { echo "FAIL: docs/keys.md has no section '## zeta $cmd'"; fail=1; continue; }
  n=0
  for key in $keys; do
    n=$((n + 1))
    grep -qF "| \`$key\` |" <<<"$section" || { echo "FAIL: zeta $cmd --help shows $key, docs/keys.md does not"; fail=1; }
  done
  echo "zeta $cmd: $n keys checked"
  total=$((total + n))
done
[ "$total" -gt 0 ] || { echo "FAIL: no key found in any --help"; fail=1; }

tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT
if ! "$src/scripts/keys-doc.sh" "$zeta" > "$tmp"; then
  echo "FAIL: scripts/keys-doc.sh failed"; fail=1
elif ! diff -u "$doc" "$tmp"; then
  echo "FAIL: docs/keys.md differs from the binary's --help (the diff above: - docs, + binary);"
  echo "      regenerate it: scripts/keys-doc.sh build/zeta > docs/keys.md"
  fail=1
fi
[ $fail -eq 0 ] && echo "docs/keys.md documents all $total keys, text as in --help"
exit $fail
