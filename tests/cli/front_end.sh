#!/usr/bin/env bash
# The command line and its files (issue 24): `zeta --version`; integer keys in
# floating notation; INI errors that name FILE:LINE; model.params errors that name
# the key; the resolved configuration echoed on stderr (rank 0, quiet with
# run.progress_every = 0); output.backups (all, N, 0) for sample, temper and ais.
# Usage: front_end.sh ZETA MPIEXEC
set -u
zeta=$1
mpiexec=${2:-mpirun}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail=0
py=/usr/bin/python3

# --- zeta --version and zeta version: version, git commit, precision, Kokkos backend.
for v in --version version; do
  out=$("$zeta" $v 2> err) || { echo "FAIL zeta $v: exit status $?"; cat err; fail=1; }
  if echo "$out" | grep -Eq '^zeta [0-9]+\.[0-9]+\.[0-9]+ \(git [0-9a-f]+|unknown\)$' &&
     echo "$out" | grep -Eq '^precision: (double|float)$' && echo "$out" | grep -Eq '^kokkos backend: [A-Za-z]+ '; then
    echo "ok   zeta $v: $(echo "$out" | tr '\n' ' ')"
  else
    echo "FAIL zeta $v printed:"; echo "$out"; fail=1
  fi
done

# The commit named is the one built (read at build time, not when CMake configured).
root=$(cd "$here/../.." && pwd)
if head=$(git -C "$root" rev-parse --short=12 HEAD 2> /dev/null); then
  "$zeta" --version | grep -qx "zeta .* (git $head)" && echo "ok   --version names HEAD, $head" ||
    { echo "FAIL --version does not name HEAD $head:"; "$zeta" --version; fail=1; }
fi

cat > good.ini <<'INI'
[run]
steps = 2e2
burn_in = 5e1
save_every = 5
progress_every = 0
[model]
type = gaussian
dim = 2
[sampler]
type = mala
chains = 8
step_size = 0.1
[output]
file = out.h5
INI

# --- Integers in floating notation: accepted when exact, in the file and on the command line.
"$zeta" sample good.ini --output.file= --sampler.chains=1.6e1 > sci.json 2> sci.err
if grep -q '"steps": 200,' sci.json && grep -q '"chains": 16,' sci.json; then
  echo "ok   steps = 2e2, --sampler.chains=1.6e1: 200 steps of 16 chains"
else
  echo "FAIL integers in floating notation:"; cat sci.json sci.err; fail=1
fi

# --- Errors: one line on 2 ranks, naming the key, or FILE:LINE for the INI.
source "$here/expect_error.sh"
expect_error steps_fraction   "run.steps: expected an integer, got '1.5' (not a whole number)" \
  sample good.ini --run.steps=1.5
expect_error steps_range      "run.steps: integer '1e30' is out of range" sample good.ini --run.steps=1e30
expect_error steps_text       "run.steps: expected an integer, got 'abc'" sample good.ini --run.steps=abc
expect_error params_missing   "model.params: .*'nofile.h5' does not exist" \
  sample good.ini --model.type=rbm --sampler.type=gibbs --model.params=nofile.h5
expect_error params_mlp       "model.params: .*'nofile.h5' does not exist" \
  sample good.ini --model.type=mlp --model.layers=2,4,1 --model.params=nofile.h5
expect_error params_temper    "model.params: .*'nofile.h5' does not exist" \
  temper good.ini --model.type=rbm --sampler.type=gibbs --model.params=nofile.h5 --output.file=t.h5
printf '[run]\nsteps = 20\n\nburn_in 5\n' > no_eq.ini
expect_error ini_no_equals    "no_eq.ini:4: expected 'key = value', got 'burn_in 5' (no '=')" sample no_eq.ini
printf '# x\n[run\nsteps = 20\n' > header.ini
expect_error ini_bad_header   "header.ini:2: bad section header '\[run'" sample header.ini
printf '[run]\nsteps = 20\n[sampler]\nchains = 8\n[run]\nsteps = 30\n' > twice.ini
expect_error ini_duplicate    "twice.ini:6: configuration key 'run.steps' is given twice (first on line 2)" \
  sample twice.ini
printf 'steps = 20\n' > nosection.ini
expect_error ini_no_section   "nosection.ini:1: key 'steps' comes before any \[section\]" sample nosection.ini
printf '[run]\nsteps = 20\n[sampler]\nstep_sise = 0.1\n' > unknown.ini
expect_error ini_unknown_key  "unknown.ini:4: unknown configuration key 'sampler.step_sise'" sample unknown.ini
expect_error backups_bad      "output.backups: expected all or an integer >= 0, got 'some'" \
  sample good.ini --output.backups=some

# --- The resolved configuration on stderr: once (rank 0), the INI the output records.
timeout 120 "$mpiexec" -np 2 --oversubscribe "$zeta" sample good.ini --run.progress_every=5 \
  --output.file=echo.h5 > echo.json 2> echo.err || { echo "FAIL echo run"; cat echo.err; fail=1; }
sed -n '/^# zeta sample: resolved configuration/,/^# end of configuration$/p' echo.err | sed '1d;$d' > echo.ini
"$py" -c 'import h5py, sys; sys.stdout.write(h5py.File(sys.argv[1], "r").attrs["config"])' echo.h5 > attr.ini
if [ "$(grep -c '^# zeta sample: resolved configuration (zeta .*, 2 ranks)$' echo.err)" = 1 ] &&
   grep -qx 'steps = 2e2' echo.ini && [ -s echo.ini ] && cmp -s echo.ini attr.ini && [ "$(wc -l < echo.json)" = 1 ]; then
  echo "ok   configuration echoed once on stderr ($(wc -l < echo.ini) lines, the output's config attribute)"
else
  echo "FAIL configuration echo:"; cat echo.err; diff echo.ini attr.ini; fail=1
fi
"$zeta" sample good.ini --output.file= > quiet.json 2> quiet.err
if [ -s quiet.err ]; then echo "FAIL run.progress_every = 0 wrote on stderr:"; cat quiet.err; fail=1; fi
# The echoed block runs as it is, to the same results.
"$zeta" sample good.ini --output.file= --run.progress_every=5 > a.json 2> a.err
sed -n '/^# zeta sample: resolved/,/^# end of configuration$/p' a.err > again.ini
"$zeta" sample again.ini --output.file= > b.json 2> /dev/null
figures() { sed -E 's/"(wall_s|chain_steps_per_s)": [^,}]*//g' "$1"; }
if cmp -s <(figures a.json) <(figures b.json); then echo "ok   the echoed configuration reruns to the same JSON"
else echo "FAIL the echoed configuration gives other results:"; cat a.json b.json; fail=1; fi

# --- output.backups for every command's one publication path.
seed_of() { "$py" -c 'import h5py, re, sys; print(re.search(r"^seed = (\d+)", h5py.File(sys.argv[1], "r").attrs["config"], re.M).group(1))' "$1"; }
files() { ls -1 "$1"* 2> /dev/null | tr '\n' ' '; }
check_backups() {  # NAME PREFIX EXPECTED_FILES EXPECTED_SEEDS(file:seed ...)
  local name=$1 f=$2 want=$3 bad=0 fs
  [ "$(files "$f")" = "$want" ] || { echo "FAIL $name: files '$(files "$f")', expected '$want'"; bad=1; }
  for fs in $4; do
    [ "$(seed_of "${fs%:*}")" = "${fs#*:}" ] || { echo "FAIL $name: ${fs%:*} is not the run of seed ${fs#*:}"; bad=1; }
  done
  [ $bad = 0 ] && echo "ok   $name: $want" || fail=1
}
for s in 1 2 3 4; do "$zeta" sample good.ini --output.file=b.h5 --run.seed=$s > /dev/null 2>> b.err; done
check_backups "sample, backups = all" b.h5 "b.h5 b.h5.~1~ b.h5.~2~ b.h5.~3~ " "b.h5:4 b.h5.~1~:1 b.h5.~3~:3"
rm b.h5.~2~  # a gap is not refilled: the highest N stays the newest
for s in 5 6; do "$zeta" sample good.ini --output.file=b.h5 --output.backups=2 --run.seed=$s > /dev/null 2>> b.err; done
check_backups "sample, backups = 2" b.h5 "b.h5 b.h5.~4~ b.h5.~5~ " "b.h5:6 b.h5.~4~:4 b.h5.~5~:5"
"$zeta" sample good.ini --output.file=b.h5 --output.backups=0 --run.seed=7 > b7.json 2>> b.err
check_backups "sample, backups = 0" b.h5 "b.h5 " "b.h5:7"
grep -q '"output": "b.h5"' b7.json || { echo "FAIL backups = 0: JSON output is not b.h5"; cat b7.json; fail=1; }
# backups = 0 with another run publishing meanwhile: only the file this run started
# with may go; the other run's output stays, and this one's takes b.h5.~N~.
"$zeta" sample good.ini --output.file=b.h5 --output.backups=0 --run.seed=8 --run.steps=1e6 --run.save_every=0 \
  > b8.json 2>> b.err &
slow=$!
for _ in $(seq 300); do ls b.h5.partial.* > /dev/null 2>&1 && break; sleep 0.1; done
"$zeta" sample good.ini --output.file=b.h5 --run.seed=9 > /dev/null 2>> b.err
wait $slow || { echo "FAIL backups = 0 beside another run: exit status $?"; fail=1; }
check_backups "sample, backups = 0, another run published meanwhile" b.h5 "b.h5 b.h5.~1~ b.h5.~2~ " \
  "b.h5:9 b.h5.~1~:7 b.h5.~2~:8"
grep -q '"output": "b.h5.~2~"' b8.json || { echo "FAIL backups = 0 beside another run: JSON output"; cat b8.json; fail=1; }

printf '[run]\nsteps = 40\nburn_in = 10\nsave_every = 5\nprogress_every = 0\n[model]\ntype = ising\nL = 4\n[sampler]\ntype = heatbath\n[temper]\ncount = 4\n' > t.ini
for s in 1 2 3; do
  timeout 120 "$mpiexec" -np 2 --oversubscribe "$zeta" temper t.ini --output.file=t.h5 --output.backups=1 \
    --run.seed=$s > /dev/null 2>> t.err
done
check_backups "temper on 2 ranks, backups = 1" t.h5 "t.h5 t.h5.~2~ " "t.h5:3 t.h5.~2~:2"
"$zeta" free-energy t.h5 --output.file=f.h5 > /dev/null 2>> f.err
"$zeta" free-energy t.h5 --output.file=f.h5 --output.backups=0 > f.json 2>> f.err
[ "$(files f.h5)" = "f.h5 " ] && grep -q '"output": "f.h5"' f.json && echo "ok   free-energy, backups = 0: f.h5" ||
  { echo "FAIL free-energy, backups = 0: $(files f.h5)"; cat f.json f.err; fail=1; }
printf '[run]\nseed = 1\nprogress_every = 0\n[model]\ntype = ising\nL = 4\n[sampler]\ntype = heatbath\n[ais]\nchains = 8\nsteps = 20\n' > a.ini
for s in 1 2; do "$zeta" ais a.ini --output.file=a.h5 --run.seed=$s > /dev/null 2>> a.err; done
"$zeta" ais a.ini --output.file=a.h5 --output.backups=0 --run.seed=3 > /dev/null 2>> a.err
check_backups "ais, backups = 0" a.h5 "a.h5 " "a.h5:3"

[ $fail = 0 ] && echo "PASS" || echo "FAILED"
exit $fail
