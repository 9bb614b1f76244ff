# Sourced by jobs/sample.slurm, jobs/temper.slurm and jobs/train.slurm: the
# parts they share (locations, the launcher, running zeta with the early-warning
# signal forwarded, and the chain of jobs by `scontrol requeue`). docs/jobs.md
# explains the conventions. Bash 4.2 safe: no namerefs, no ${var@Q}, and every
# array that may be empty is expanded as ${a[@]+"${a[@]}"} (set -u).
#
# The sourcing script sets `tool` (sample | temper | train) and
# `default_config` before calling zeta_job_init "$@".
# shellcheck disable=SC2154  # tool, default_config: set by the sourcing script
# shellcheck disable=SC2034  # python, restart_arg, ...: used by the sourcing script

zeta_die() { echo "$tool.slurm: error: $*" >&2; exit 1; }
zeta_say() { echo "$tool.slurm: $*"; }

# --- Locations and arguments --------------------------------------------------
# Sets root, zeta, python, config, overrides (without --checkpoint.restart),
# restart_arg (true when given), name, jobid, job_index, max_jobs, run_dir,
# out, ckpt, ntasks.
zeta_job_init() {
  zeta="${ZETA_BUILD:-$root/build}/zeta"
  python="${PYTHON:-/usr/bin/python3}"
  config="${1:-$default_config}"
  if (($# > 0)); then shift; fi
  overrides=()
  restart_arg=false
  local arg
  for arg in "$@"; do
    case "$arg" in
      --checkpoint.restart=true) restart_arg=true ;;
      --checkpoint.restart=*) ;;
      *) overrides+=("$arg") ;;
    esac
  done
  [[ -x "$zeta" ]] || zeta_die "no zeta executable at '$zeta' (build it first, or set ZETA_BUILD)"
  [[ -f "$config" ]] || zeta_die "no config file '$config' (paths are relative to $root)"
  name="$(basename "$config" .ini)"
  jobid="${SLURM_JOB_ID:-local-$(date +%Y%m%d-%H%M%S)}"
  # A requeued job keeps its id, so the run directory is the same for every
  # job of a chain; SLURM_RESTART_COUNT counts the requeues.
  run_dir="${ZETA_RUN_DIR:-${RESULTS_DIR:-$root/results}/$name-$jobid}"
  job_index=$((${SLURM_RESTART_COUNT:-0} + 1))
  max_jobs="${ZETA_MAX_JOBS:-20}"
  out="$run_dir/$name.h5"
  ckpt="$run_dir/$name.ckpt"
  ntasks="${SLURM_NTASKS:-${ZETA_NTASKS:-1}}"
  mkdir -p "$run_dir"
}

# --- Launcher -----------------------------------------------------------------
# One convention: inside a Slurm job, srun --mpi=pmix (Debian's Open MPI 4.1
# starts under srun only through Slurm's PMIx plugin; set ZETA_SRUN_MPI=pmi2
# or another `srun --mpi=list` entry where the site's MPI needs it). Outside
# Slurm (a test on a workstation) mpirun -np $ZETA_NTASKS. ZETA_LAUNCHER=mpirun
# forces mpirun inside a job too, for a Slurm built without PMIx; none runs
# zeta as one process. Sets the array `launch`.
zeta_launcher() {
  local launcher="${ZETA_LAUNCHER:-}"
  if [[ -z "$launcher" ]]; then
    if [[ -n "${SLURM_JOB_ID:-}" ]]; then launcher=srun
    elif command -v mpirun >/dev/null 2>&1; then launcher=mpirun
    else launcher=none; fi
  fi
  case "$launcher" in
    srun)
      launch=(srun --ntasks="$ntasks" --cpus-per-task="${SLURM_CPUS_PER_TASK:-1}"
        --mpi="${ZETA_SRUN_MPI:-pmix}" --kill-on-bad-exit=1)
      ;;
    mpirun)
      launch=(mpirun -np "$ntasks")
      if [[ "$(id -u)" == "0" ]]; then  # Open MPI refuses root unless told
        export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
      fi
      if [[ -z "${SLURM_JOB_ID:-}" ]] && ((ntasks > $(nproc))); then
        launch+=(--oversubscribe)  # outside Slurm (testing): allow more ranks than cores
      fi
      ;;
    none) launch=() ;;
    *) zeta_die "ZETA_LAUNCHER must be srun, mpirun or none, got '$launcher'" ;;
  esac
}

# --- Run, forwarding the early-warning signal ---------------------------------
# zeta_run JSON CMD...: runs CMD with stdout to JSON, sets rc. The launcher runs
# in the background so that this shell reacts to USR1 from --signal=B:USR1@T
# (bash runs traps only between commands, and `wait` returns when one fires);
# the shell passes it on to the launcher, which passes it to every rank; zeta
# then stops at the next step it can, writes its checkpoint and output, and
# prints "status": "interrupted".
# zeta catches USR1 only once its run has begun (after MPI start-up and
# loading its data): before that the signal would kill it. Slurm may deliver
# --signal's USR1 at the very start of a requeued job, so a USR1 that comes
# within ZETA_SIGNAL_GRACE seconds (default 30) of the launch is passed on
# when that time is up (or not at all if zeta is done by then).
zeta_launcher_pid=""
zeta_launched_at=0
zeta_trapped=0
zeta_forward() {
  zeta_trapped=1
  echo "$tool.slurm: got SIG$1 at $(date -Is), asking zeta to stop cleanly" >&2
  [[ -n "$zeta_launcher_pid" ]] || return 0
  local until=$((zeta_launched_at + ${ZETA_SIGNAL_GRACE:-30}))
  if [[ "$1" == USR1 ]] && ((SECONDS < until)); then
    echo "$tool.slurm: zeta started $((SECONDS - zeta_launched_at)) s ago: passing SIGUSR1 on in $((until - SECONDS)) s" >&2
    while ((SECONDS < until)) && kill -0 "$zeta_launcher_pid" 2>/dev/null; do sleep 1; done
  fi
  kill -USR1 "$zeta_launcher_pid" 2>/dev/null || true
}
zeta_run() {
  local json=$1
  shift
  trap 'zeta_forward USR1' USR1
  trap 'zeta_forward TERM' TERM
  zeta_launched_at=$SECONDS
  "$@" > "$json" &
  zeta_launcher_pid=$!
  # A trapped signal interrupts `wait` (status > 128) while zeta is still
  # writing: wait again until the launcher's own exit status comes back.
  while :; do
    zeta_trapped=0
    rc=0
    wait "$zeta_launcher_pid" || rc=$?
    if ((zeta_trapped && rc > 128)); then continue; fi
    break
  done
  # zeta is done: a late USR1 must not kill this shell while it plots or
  # requeues; TERM is Slurm's real end.
  trap 'echo "$tool.slurm: got SIGUSR1 after zeta ended, ignored" >&2' USR1
  trap - TERM
}

zeta_steps_of() { sed -n 's/.*"steps": *\([0-9]*\).*/\1/p' "$1" | tail -n 1; }
zeta_status_of() { sed -n 's/.*"status": *"\([a-z_]*\)".*/\1/p' "$1" | tail -n 1; }

# --- A run that goes on over several jobs -------------------------------------
# zeta_chain: runs `zeta $tool` with the run directory's output and checkpoint,
# resuming from the checkpoint when this job is a requeue of an earlier one
# (or --checkpoint.restart=true was given); calls zeta_after_run (plots) if the
# script defines it; then ends the chain on "ok" or an error, or requeues this
# same job on "interrupted". `scontrol requeue` keeps everything the job was
# submitted with (geometry, --mem, --gres, --constraint, --qos, --account,
# --signal, --time, the script's arguments) and its id: no sbatch line is
# rebuilt, so nothing is lost.
zeta_chain() {
  local restart=$restart_arg
  if ((job_index > 1)) && [[ -f "$ckpt" || -f "$ckpt.prev" ]]; then restart=true; fi
  if [[ "$restart" == true ]]; then
    [[ -f "$ckpt" || -f "$ckpt.prev" ]] ||
      zeta_die "--checkpoint.restart=true but there is no checkpoint '$ckpt' (is ZETA_RUN_DIR set?)"
    # zeta would keep the old output as $out.~N~, one more per job: keep just one.
    if [[ -f "$out" ]]; then mv -f "$out" "$run_dir/$name.prev.h5"; fi
  fi
  zeta_launcher
  local args=("$config" ${overrides[@]+"${overrides[@]}"} "--output.file=$out" "--checkpoint.file=$ckpt")
  if [[ "$restart" == true ]]; then args+=(--checkpoint.restart=true); fi
  local cmd=(${launch[@]+"${launch[@]}"} "$zeta" "$tool" "${args[@]}")
  local json="$run_dir/$name.json" steps_before=0
  if [[ "$restart" == true && -f "$json" ]]; then
    steps_before="$(zeta_steps_of "$json")"
    steps_before="${steps_before:-0}"
  fi
  zeta_say "job $jobid, $job_index of at most $max_jobs in this chain, on $(hostname), $ntasks task(s), $(date -Is)"
  zeta_say "run directory $run_dir"
  zeta_say "${cmd[*]}"

  zeta_run "$json" "${cmd[@]}"

  cat "$json"
  cat "$json" >> "$run_dir/$name.jsonl"
  local status steps_now
  status="$(zeta_status_of "$json")"
  steps_now="$(zeta_steps_of "$json")"
  zeta_say "job $jobid ($job_index): zeta exit status $rc, run status '${status:-none}', steps $steps_before -> ${steps_now:-?}"
  if ((rc == 0)) && declare -F zeta_after_run >/dev/null; then zeta_after_run; fi

  local hint="ZETA_RUN_DIR=$run_dir sbatch [the same options] jobs/$tool.slurm $config"
  hint+=" ${overrides[*]+${overrides[*]}} --checkpoint.restart=true"
  if ((rc != 0)); then
    if [[ -f "$ckpt" || -f "$ckpt.prev" ]]; then echo "$tool.slurm: to resume from the last checkpoint: $hint" >&2; fi
    zeta_die "zeta exited with status $rc"
  fi
  case "$status" in
    ok)
      zeta_say "run finished after $job_index job(s) at $(date -Is), results in $run_dir"
      return 0
      ;;
    interrupted) ;;
    *) zeta_die "no status in zeta's JSON line ('$json'), not requeueing" ;;
  esac
  [[ -f "$ckpt" ]] || zeta_die "run interrupted but there is no checkpoint '$ckpt', not requeueing"
  if ((${steps_now:-0} <= steps_before)); then
    zeta_die "no progress in this job (steps $steps_before -> ${steps_now:-?}), not requeueing; resume by hand: $hint"
  fi
  if ((job_index >= max_jobs)); then
    zeta_die "chain reached ZETA_MAX_JOBS = $max_jobs jobs, not requeueing; resume by hand: $hint"
  fi
  if [[ -z "${SLURM_JOB_ID:-}" ]]; then
    zeta_say "run interrupted; not in a Slurm job, so not requeueing. Resume with:"
    echo "  ZETA_RUN_DIR=$run_dir bash jobs/$tool.slurm $config ${overrides[*]+${overrides[*]}} --checkpoint.restart=true"
    return 0
  fi
  zeta_say "requeueing job $SLURM_JOB_ID (it restarts from the checkpoint as job $((job_index + 1)) of the chain)"
  # Slurm ends this job (state REQUEUED) and queues it again with the same id;
  # the job log is appended to (--open-mode=append).
  scontrol requeue "$SLURM_JOB_ID" ||
    zeta_die "scontrol requeue $SLURM_JOB_ID failed (submitted with --no-requeue?); resume by hand: $hint"
  # Slurm kills this shell shortly; do not let it end first as "completed".
  sleep 300
}
