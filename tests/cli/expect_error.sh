# Sourced by the bad-input tests (bad_input.sh, error_cases.sh); needs $zeta,
# $mpiexec and fail=0, and runs in the test's work directory.
# expect_error NAME PATTERN ARGS...: runs `zeta ARGS...` on 2 ranks, each rank
# recording its own exit status, with an existing out.h5 in place; passes when
# every rank exits non-zero within 120 s (no hang), stderr holds exactly one
# "zeta: error:" line, it matches PATTERN (the key or file named), there is no
# MPI_ABORT, and out.h5 is untouched with no partial or backup file beside it.
# $wrap, when set, is a shell prefix each rank runs zeta under (e.g. a ulimit).
wrap=
expect_error() {
  local name=$1 pattern=$2 bad=0
  shift 2
  rm -f rc.* out.h5.* && echo precious > out.h5
  timeout 120 "$mpiexec" -np 2 --oversubscribe sh -c \
    "$wrap"' "$0" "$@" > /dev/null 2> err.$OMPI_COMM_WORLD_RANK; echo $? > rc.$OMPI_COMM_WORLD_RANK' "$zeta" "$@"
  local rc=$?
  if [ $rc -eq 124 ]; then echo "FAIL $name: hang (killed by timeout)"; fail=1; return; fi
  for r in 0 1; do
    if [ ! -f rc.$r ] || [ "$(cat rc.$r)" = 0 ]; then echo "FAIL $name: rank $r exit status $(cat rc.$r 2>/dev/null)"; bad=1; fi
  done
  local errs
  errs=$(cat err.0 err.1 | grep -c '^zeta: error')
  if [ "$errs" != 1 ]; then echo "FAIL $name: expected one error line, got $errs:"; cat err.0 err.1; bad=1; fi
  if grep -q 'MPI_ABORT' err.0 err.1; then echo "FAIL $name: MPI_ABORT"; bad=1; fi
  if ! grep -q -- "$pattern" err.0 err.1; then echo "FAIL $name: error does not name '$pattern':"; cat err.0 err.1; bad=1; fi
  if [ "$(cat out.h5)" != precious ] || ls out.h5.* > /dev/null 2>&1; then
    echo "FAIL $name: existing output touched or partial output left"; ls -l; bad=1
  fi
  [ $bad = 0 ] && echo "ok   $name: $(grep -h '^zeta: error' err.0 err.1)"
  [ $bad = 0 ] || fail=1
}
