#!/usr/bin/env bash
# Runs every input/*.ini, shortened, with two zeta executables and checks that
# they give the same results bit for bit: the JSON line on stdout (less its
# timings and paths), every dataset and attribute of every HDF5 file written
# (outputs, checkpoints, the files a restart keeps; less the attributes that
# describe datasets and /summary, see plain() below), the other files (.xmf),
# and the exit status. Inputs with a checkpoint file also restart from it and
# run on; temper outputs also go through `zeta free-energy` (with and without
# bootstrap). Each executable runs in its own WORKDIR/old, WORKDIR/new, one
# subdirectory per input, with relative file names. Prints one line per input,
# `same  input/x.ini  (N datasets, M JSON figures)` or `DIFF  input/x.ini ...`
# with the differences below it, then `N passed, M failed`; exits 1 on any
# difference or failed run, 2 on bad usage.
# Usage: scripts/same-results.sh OLD_ZETA NEW_ZETA [WORKDIR]
#   WORKDIR: default a temporary directory, removed at exit unless
#   SAME_RESULTS_KEEP=1; a given WORKDIR is kept (its old/ and new/ are emptied first).
# Environment: MPIEXEC (mpirun), SAME_RESULTS_NP (2 ranks),
#   SAME_RESULTS_CHANGED (tests/cli/same_results.changed: the stages whose
#   results change by design, one "INPUT STAGE reason" a line; such a stage is
#   not compared, but the new executable must still run it to exit status 0;
#   "INPUT new-files reason" lets the new executable write files the old one did
#   not, which are then not compared; "INPUT files reason": the HDF5 and other
#   files the stages wrote change by design, and none is compared),
#   SAME_RESULTS_TIMEOUT (300 s per run), SAME_RESULTS_ONLY (a regex: only the
#   inputs whose file name matches it).
set -u
usage() { echo "usage: $0 OLD_ZETA NEW_ZETA [WORKDIR]" >&2; exit 2; }
if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
abs_exe() {
  local p
  p=$(command -v -- "$1") || { echo "same-results: no executable '$1'" >&2; exit 2; }
  [ -x "$p" ] || { echo "same-results: '$1' is not executable" >&2; exit 2; }
  echo "$(cd "$(dirname "$p")" && pwd)/$(basename "$p")"
}
case $1 in */*) old_zeta=$(abs_exe "$1") ;; *) old_zeta=$(abs_exe "./$1") ;; esac
case $2 in */*) new_zeta=$(abs_exe "$2") ;; *) new_zeta=$(abs_exe "./$2") ;; esac
mpiexec=${MPIEXEC:-mpirun}
np=${SAME_RESULTS_NP:-2}
run_timeout=${SAME_RESULTS_TIMEOUT:-300}
only=${SAME_RESULTS_ONLY:-}
changed_list=${SAME_RESULTS_CHANGED:-$root/tests/cli/same_results.changed}
# changed NAME STAGE: whether that stage of input NAME changes by design.
changed() {
  [ -f "$changed_list" ] && grep -qE "^$1[[:space:]]+$2([[:space:]]|\$)" "$changed_list"
}
for tool in "$mpiexec" h5diff h5dump h5ls timeout; do
  command -v "$tool" > /dev/null || { echo "same-results: '$tool' not found" >&2; exit 2; }
done
if [ "$(id -u)" = 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
if [ $# -ge 3 ]; then
  mkdir -p "$3" && work=$(cd "$3" && pwd) || exit 2
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/same-results.XXXXXX") || exit 2
  if [ "${SAME_RESULTS_KEEP:-0}" = 1 ]; then
    echo "same-results: keeping $work" >&2
  else
    trap 'rm -rf "$work"' EXIT
  fi
fi
rm -rf "$work/old" "$work/new"
mkdir -p "$work/old" "$work/new"

# JSON keys that depend on timing or name a path (everything else, a pure
# function of the seed and the inputs, is compared).
volatile='wall_s|[a-z0-9_]*_per_s|exchange_fraction|sync_wait_fraction|allreduce_fraction|allreduce_fraction_min|output|checkpoint|file|git_commit|zeta_version'
# Root attributes of the output files that name the build, and the canonical
# paths of a checkpoint's files (they name the work directory).
build_attrs='git_commit|zeta_version|paths'
# The root attributes holding the resolved INI (config) and a checkpoint's
# signature: compared line by line, where the new side may add lines (keys that
# the baseline did not have, at their defaults) but must keep every old line.
ini_attrs='config|signature'

# ini_get FILE SECTION KEY: the value (fails when the key is absent).
ini_get() {
  awk -v sec="$2" -v key="$3" '
    /^[ \t]*[#;]/ { next }
    /^[ \t]*\[/ { s = $0; gsub(/[][ \t]/, "", s); next }
    s == sec && index($0, "=") {
      i = index($0, "="); k = substr($0, 1, i - 1); v = substr($0, i + 1)
      gsub(/^[ \t]+|[ \t]+$/, "", k); gsub(/^[ \t]+|[ \t]+$/, "", v)
      if (k == key) { val = v; found = 1 }
    }
    END { if (found) print val; exit !found }' "$1"
}
ini_has_section() { grep -Eq "^[[:space:]]*\[$2\]" "$1"; }

# The command an input is for, from its sections.
command_of() {
  if ini_has_section "$1" ais; then echo ais
  elif ini_has_section "$1" temper; then echo temper
  elif ini_has_section "$1" eval; then echo eval
  elif ini_has_section "$1" train || ini_has_section "$1" data; then echo train
  else echo sample
  fi
}

# plan INI: sets cmd, args (the shortening), restart_steps (a second run from
# the checkpoint, on until that many steps; empty: none) and fe_file (the
# temper output that zeta free-energy reads; empty: none).
plan() {
  local ini=$1 name ckpt every
  name=$(basename "$ini" .ini)
  cmd=$(command_of "$ini")
  restart_steps=
  fe_file=
  ckpt=$(ini_get "$ini" checkpoint file) || ckpt=
  case $name in
    ais_ising) args=(--ais.steps=200 --ais.chains=64) ;;
    demo | double_well | gmm_1d | gmm_2d) args=(--run.steps=1000 --run.burn_in=200) ;;
    gaussian_hmc) args=(--run.steps=200 --run.burn_in=50) ;;
    gaussian_langevin | gaussian_mala | mlp_langevin) args=(--run.steps=500 --run.burn_in=100) ;;
    sample_rbm_fashion) args=(--run.steps=500 --run.burn_in=200) ;;
    temper_ising) args=(--run.steps=3000 --run.burn_in=1000 --checkpoint.every_steps=1000); restart_steps=4000 ;;
    temper_mixture) args=(--run.steps=4000 --run.burn_in=1000) ;;
    train_dsm_ring8)
      args=(--run.steps=300 --train.eval_every=100 --checkpoint.every_steps=100
            --data.examples=4000 --data.heldout_examples=1000)
      restart_steps=400 ;;
    train_pcd_fashion)
      args=(--run.steps=20 --train.eval_every=5 --checkpoint.every_steps=10 --data.limit=1000
            --train.buffer_size=1024)
      restart_steps=30 ;;
    train_pcd_energynet_fashion)
      args=(--run.steps=10 --train.eval_every=5 --checkpoint.every_steps=5 --data.limit=1000
            --train.buffer_size=1024 --train.k=5)
      restart_steps=15 ;;
    train_rbm_csv) args=(--run.steps=200 --train.eval_every=20) ;;
    eval_energynet_fashion) args=(--data.limit=256) ;;
    train_rbm_fashion)
      args=(--run.steps=100 --train.eval_every=20 --checkpoint.every_steps=25 --data.limit=1000
            --train.ais_every=50 --train.ais_steps=100 --train.ais_chains=20)
      restart_steps=150 ;;
    *) # an input this script does not know: a generic shortening
      local steps=
      case $cmd in
        sample) steps=1000; args=(--run.steps=1000 --run.burn_in=200) ;;
        temper) steps=2000; args=(--run.steps=2000 --run.burn_in=500) ;;
        ais) args=(--ais.steps=200 --ais.chains=64) ;;
        train)
          steps=100; args=(--run.steps=100)
          every=$(ini_get "$ini" train eval_every) || every=10
          [ "${every:-0}" -gt 20 ] 2> /dev/null && args+=(--train.eval_every=20)
          every=$(ini_get "$ini" train ais_every) || every=0
          [ "${every:-0}" -gt 0 ] 2> /dev/null && args+=(--train.ais_every=50 --train.ais_steps=100)
          case $(ini_get "$ini" data type || echo idx) in
            synthetic) ;;
            *) args+=(--data.limit=1000) ;;
          esac ;;
      esac
      if [ -n "$ckpt" ] && [ -n "$steps" ]; then
        every=$(ini_get "$ini" checkpoint every_steps) || every=0
        [ "${every:-0}" -gt 0 ] 2> /dev/null && args+=(--checkpoint.every_steps=$((steps / 4)))
        restart_steps=$((steps * 3 / 2))
      fi ;;
  esac
  [ -n "$ckpt" ] || restart_steps=
  if [ "$cmd" = temper ]; then
    fe_file=$(ini_get "$ini" output file) || fe_file=zeta_temper.h5
  fi
}

# The files an input reads that earlier inputs (or the data recipe) make:
# model.params, data.path, data.heldout_path when relative.
needed_files() {
  local key sec k v
  for key in model.params data.path data.heldout_path; do
    sec=${key%%.*}; k=${key#*.}
    v=$(ini_get "$1" "$sec" "$k") || continue
    case $v in '' | /*) ;; *) echo "$v" ;; esac
  done
}

# rbm_data.csv as input/train_rbm_csv.ini's header makes it (seeded, so the same every time).
make_rbm_data() {
  [ -s "$work/rbm_data.csv" ] && return 0
  python3 -c "import random; random.seed(1); [print(','.join(f'{(1 if (i<4)==(r%2==0) else -1)+random.gauss(0,0.3):.4f}' for i in range(8))) for r in range(512)]" > "$work/rbm_data.csv.tmp" &&
    mv "$work/rbm_data.csv.tmp" "$work/rbm_data.csv"
}

# stage_inputs SIDE NAME INI: copies the files the input reads into its run
# directory and lists them in SIDE/NAME.staged; prints what is missing.
stage_inputs() {
  local side=$1 name=$2 ini=$3 f src dir
  dir=$work/$side/$name
  : > "$work/$side/$name.staged"
  while IFS= read -r f; do
    src=
    if [ "$(basename "$f")" = rbm_data.csv ]; then
      make_rbm_data && src=$work/rbm_data.csv
    else
      for cand in "$work/$side"/*/"$f" "$root/$f"; do
        case $cand in "$dir"/*) continue ;; esac
        [ -f "$cand" ] && { src=$cand; break; }
      done
    fi
    if [ -z "$src" ]; then echo "needs $f, which no input makes"; continue; fi
    mkdir -p "$dir/$(dirname "$f")" && cp "$src" "$dir/$f" && echo "$f" >> "$work/$side/$name.staged"
  done < <(needed_files "$ini")
}

# run_all SIDE ZETA NAME INI: the input's runs in SIDE/NAME; their stdout, stderr
# and exit status go to SIDE/NAME.STAGE.{json,err,rc}; the stages to SIDE/NAME.stages.
run_all() {
  local side=$1 zeta=$2 name=$3 ini=$4 rc missing
  local dir=$work/$side/$name
  mkdir -p "$dir"
  : > "$work/$side/$name.stages"
  missing=$(stage_inputs "$side" "$name" "$ini")
  if [ -n "$missing" ]; then echo "$missing" > "$work/$side/$name.missing"; return; fi
  one() {
    local stage=$1; shift
    echo "$stage" >> "$work/$side/$name.stages"
    local try rc
    # Once more when Open MPI's launcher itself failed (seen under load: "Returned
    # value Error (-1) instead of ORTE_SUCCESS"); zeta never ran then.
    for try in 1 2; do
      (cd "$dir" && timeout "$run_timeout" "$mpiexec" -np "$np" --oversubscribe "$zeta" "$@" \
        > "$work/$side/$name.$stage.json" 2> "$work/$side/$name.$stage.err")
      rc=$?
      [ $rc = 0 ] || ! grep -q 'instead of ORTE_SUCCESS' "$work/$side/$name.$stage.err" && break
      echo "same-results: $side $name $stage: the MPI launcher failed, once more" >&2
    done
    echo $rc > "$work/$side/$name.$stage.rc"
  }
  one run "$cmd" "$ini" "${args[@]}" --run.progress_every=0
  if [ -n "$restart_steps" ]; then
    one restart "$cmd" "$ini" "${args[@]}" --run.progress_every=0 \
      --checkpoint.restart=true --run.steps="$restart_steps"
  fi
  if [ -n "$fe_file" ]; then
    one free-energy free-energy "$fe_file"
    one free-energy-bootstrap free-energy "$fe_file" --free_energy.bootstrap=20
  fi
}

# figures FILE: the JSON line's kept figures, one "key": value per line.
figures() {
  grep -m1 '^{' "$1" |
    sed -E "s/(, )?\"($volatile)\": (\"[^\"]*\"|\[[^]]*\]|[^,}]*)//g; s/^\{, /{/" |
    sed -E 's/^\{//; s/\}$//; s/, "/\n"/g'
}

# header FILE: h5dump's header and attribute values (17 digits), less the
# root attributes that name the build, the checkpoints' CRC-32 attributes
# (zeta_crc32 on the root and on each dataset, which the baseline may lack; a
# function of the values h5diff compares anyway), the first line (the file name) and the
# maximum dimensions (storage, not results: sampled datasets became extendible).
header() {
  h5dump -A -m %.17g "$1" 2>&1 | sed 1d |
    sed -E 's|^( *DATASPACE  SIMPLE \{ \( [0-9, ]+ \)) / \( [^)]* \)|\1|' |
    awk -v re="^   ATTRIBUTE \"($build_attrs|$ini_attrs)\" \\\\{$" '
      $0 ~ re { skip = "   }"; next }
      /^ *ATTRIBUTE "zeta_crc32" \{$/ { match($0, /^ */); skip = substr($0, 1, RLENGTH) "}"; next }
      skip != "" && $0 == skip { skip = ""; next }
      skip == ""'
}

# ini_lines FILE: "ATTRIBUTE: line" for each line of the root attributes config
# and signature, sorted.
ini_lines() {
  /usr/bin/python3 - "$1" << 'PY' | LC_ALL=C sort
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    for name in ("config", "signature"):
        if name in f.attrs:
            v = f.attrs[name]
            v = v.decode() if isinstance(v, bytes) else str(v)
            for line in v.splitlines():
                print(f"{name}: {line}")
PY
}

# plain FILE COPY: COPY is FILE less what describes its results rather than being
# them: the `units`, `description` and `axes` attributes of its datasets and the
# /summary group (the JSON line's figures, compared above less their timings; both
# issue 24's), so that files with and without them compare.
plain() {
  /usr/bin/python3 - "$1" "$2" << 'PY'
import shutil, sys, h5py
shutil.copyfile(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], "r+") as f:
    if "summary" in f:
        del f["summary"]
    def strip(name, obj):
        for a in ("units", "description", "axes"):
            if a in obj.attrs:
                del obj.attrs[a]
    f.visititems(strip)
PY
}

# crc_datasets FILE: the datasets that carry a zeta_crc32 attribute (checkpoints).
crc_datasets() {
  /usr/bin/python3 - "$1" << 'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    f.visititems(lambda n, o: print("/" + n) if isinstance(o, h5py.Dataset) and "zeta_crc32" in o.attrs else None)
PY
}

# compare NAME: old vs new for one input; prints the differences (nothing if
# identical) and sets n_ds and n_fig.
compare() {
  local name=$1 o=$work/old n=$work/new stage f out rc
  n_ds=0; n_fig=0; n_changed=
  # A new input that reads what only the new executable makes (e.g. zeta eval of a
  # net that the baseline cannot train), its run changed by design: the old side
  # never ran; the new side's stages must succeed.
  if [ -f "$o/$name.missing" ] && [ ! -f "$n/$name.missing" ] && changed "$name" run; then
    while IFS= read -r stage; do
      [ "$(cat "$n/$name.$stage.rc" 2> /dev/null)" = 0 ] || echo "$stage: changed by design, but the new run failed"
      n_changed="$n_changed $stage"
    done < "$n/$name.stages"
    return
  fi
  for side in old new; do
    [ -f "$work/$side/$name.missing" ] && sed "s/^/$side: /" "$work/$side/$name.missing"
  done
  if ! cmp -s "$o/$name.stages" "$n/$name.stages"; then echo "different runs: $(paste -sd' ' "$o/$name.stages") vs $(paste -sd' ' "$n/$name.stages")"; fi
  while IFS= read -r stage; do
    local ro rn
    ro=$(cat "$o/$name.$stage.rc" 2> /dev/null || echo none)
    rn=$(cat "$n/$name.$stage.rc" 2> /dev/null || echo none)
    if changed "$name" "$stage"; then
      [ "$rn" = 0 ] || echo "$stage: changed by design, but the new run failed (exit $rn)"
      n_changed="$n_changed $stage"
      continue
    fi
    if [ "$ro" != 0 ] || [ "$rn" != 0 ]; then
      echo "$stage: exit status old $ro, new $rn"
      for side in old new; do
        [ "$(cat "$work/$side/$name.$stage.rc" 2> /dev/null)" = 0 ] ||
          tail -n 5 "$work/$side/$name.$stage.err" 2> /dev/null | sed "s/^/  $side stderr: /"
      done
    fi
    figures "$o/$name.$stage.json" > "$o/$name.$stage.fig" 2> /dev/null
    figures "$n/$name.$stage.json" > "$n/$name.$stage.fig" 2> /dev/null
    if [ ! -s "$o/$name.$stage.fig" ] && [ "$ro" = 0 ]; then echo "$stage: old printed no JSON line"; fi
    if ! cmp -s "$o/$name.$stage.fig" "$n/$name.$stage.fig"; then
      echo "$stage: JSON differs (< old, > new):"
      diff "$o/$name.$stage.fig" "$n/$name.$stage.fig" | grep '^[<>]' | head -n 20 | sed 's/^/  /'
    fi
    n_fig=$((n_fig + $(wc -l < "$o/$name.$stage.fig")))
  done < "$o/$name.stages"
  # "INPUT files reason": the files the stages wrote change by design and are not compared.
  if changed "$name" files; then n_changed="$n_changed files"; return; fi
  # The files the runs wrote (not the staged inputs).
  (cd "$o/$name" && find . -type f | sed 's|^\./||' | grep -vxF -f "$o/$name.staged" | LC_ALL=C sort) > "$o/$name.files"
  (cd "$n/$name" && find . -type f | sed 's|^\./||' | grep -vxF -f "$n/$name.staged" | LC_ALL=C sort) > "$n/$name.files"
  # Files that only the new executable writes, where allowed by design ("INPUT new-files reason").
  if changed "$name" new-files; then
    LC_ALL=C comm -12 "$o/$name.files" "$n/$name.files" > "$n/$name.files.common"
    LC_ALL=C comm -13 "$o/$name.files" "$n/$name.files" | sed 's/^/new file (by design): /' >&2
    mv "$n/$name.files.common" "$n/$name.files"
    n_changed="$n_changed new-files"
  fi
  if ! cmp -s "$o/$name.files" "$n/$name.files"; then
    echo "different files written (< old only, > new only):"
    diff "$o/$name.files" "$n/$name.files" | grep '^[<>]' | sed 's/^/  /'
  fi
  while IFS= read -r f; do
    if h5ls "$o/$name/$f" > /dev/null 2>&1; then
      plain "$o/$name/$f" "$o/$name.plain.h5"
      header "$o/$name.plain.h5" > "$o/$name.hdr"
      n_ds=$((n_ds + $(grep -c '^ *DATASET "' "$o/$name.hdr")))
      [ -f "$n/$name/$f" ] || continue
      plain "$n/$name/$f" "$n/$name.plain.h5"
      header "$n/$name.plain.h5" > "$n/$name.hdr"
      ini_lines "$o/$name/$f" > "$o/$name.ini"
      ini_lines "$n/$name/$f" > "$n/$name.ini"
      if [ -n "$(LC_ALL=C comm -23 "$o/$name.ini" "$n/$name.ini")" ]; then
        echo "$f: config or signature lost or changed lines (< old only, > new only):"
        diff "$o/$name.ini" "$n/$name.ini" | grep '^[<>]' | head -n 20 | sed 's/^/  /'
      fi
      if ! cmp -s "$o/$name.hdr" "$n/$name.hdr"; then
        echo "$f: structure or attributes differ (< old, > new):"
        diff "$o/$name.hdr" "$n/$name.hdr" | grep '^[<>]' | head -n 20 | sed 's/^/  /'
      fi
      # Every dataset (values, shape, type) and the attributes below the root, exactly
      # (less those of checkpoint datasets with a zeta_crc32, which header compared).
      local excl=(--exclude-attribute /) ds
      while IFS= read -r ds; do excl+=(--exclude-attribute "$ds"); done < <(crc_datasets "$n/$name/$f")
      out=$(h5diff -c "${excl[@]}" "$o/$name.plain.h5" "$n/$name.plain.h5" 2>&1)
      rc=$?
      out=$(grep -v 'is an empty dataset$' <<< "$out" | sed '/^$/d')
      if [ $rc != 0 ] || [ -n "$out" ]; then
        echo "$f: h5diff (exit $rc):"
        sed -E 'N; s/^(dataset|attribute): <([^>]*)> and <[^>]*>\n/\1 \2: /; P; D' <<< "$out" | head -n 20 | sed 's/^/  /'
      fi
    elif [ -f "$n/$name/$f" ] && ! cmp -s "$o/$name/$f" "$n/$name/$f"; then
      echo "$f: differs (< old, > new):"
      diff "$o/$name/$f" "$n/$name/$f" | grep '^[<>]' | head -n 10 | sed 's/^/  /'
    fi
  done < "$o/$name.files"
}

# Inputs that read another input's output run after it.
inputs=()
later=()
for ini in "$root"/input/*.ini; do
  [ -f "$ini" ] || continue
  [ -n "$only" ] && ! [[ $(basename "$ini") =~ $only ]] && continue
  v=$(ini_get "$ini" model params) || v=
  case $v in '' | /*) inputs+=("$ini") ;; *) later+=("$ini") ;; esac
done
inputs+=(${later[@]+"${later[@]}"})
[ ${#inputs[@]} -gt 0 ] || { echo "same-results: no inputs in $root/input" >&2; exit 2; }

echo "old: $old_zeta"
echo "new: $new_zeta"
passed=0
failed=0
start=$SECONDS
for ini in "${inputs[@]}"; do
  name=$(basename "$ini" .ini)
  plan "$ini"
  run_all old "$old_zeta" "$name" "$ini"
  run_all new "$new_zeta" "$name" "$ini"
  compare "$name" > "$work/$name.report"
  report=$(cat "$work/$name.report")
  what="$n_ds datasets, $n_fig JSON figures${n_changed:+; changed by design:$n_changed}"
  if [ -z "$report" ]; then
    echo "same  input/$name.ini  ($what)"
    passed=$((passed + 1))
  else
    echo "DIFF  input/$name.ini  ($what; $cmd ${args[*]}${restart_steps:+, restart to $restart_steps steps})"
    sed 's/^/    /' <<< "$report"
    failed=$((failed + 1))
  fi
done
echo "($((SECONDS - start)) s, $np ranks, work directory $work)"
echo "$passed passed, $failed failed"
[ $failed = 0 ]
