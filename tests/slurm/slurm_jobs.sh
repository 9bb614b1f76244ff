#!/usr/bin/env bash
# jobs/temper.slurm and jobs/train.slurm under a real Slurm: starts munged,
# slurmctld and slurmd (Debian's slurm-wlm, scripts/install-deps.sh) as a
# one-node cluster on this machine with its real CPU count, all state in a
# temporary directory; submits each script with
#   --ntasks-per-node=2 --mem=1G --time=1 --signal=B:USR1@10
# and interrupts each chain twice the way that signal does (USR1 to the batch
# shell: scancel --batch --signal=USR1) once zeta reports progress. (Slurm
# sends --signal's USR1 up to 30 s early, at a time of its choosing: with
# @10 and 1 minute, 20 to 50 s into a job, after these few-second jobs, or
# one more link in a slow chain.) Each job
# must checkpoint, requeue itself with its own options and resume, so every
# chain is >= 3 jobs of 2 tasks and 1G; the last ends with "status": "ok" and
# its output (HDF5 datasets, JSON figures) equals a straight run's, bit for bit.
# Stops the daemons at the end (trap). Exit 77 (ctest SKIP) when Slurm is not
# installed or its daemons cannot start here.
# Usage: slurm_jobs.sh ZETA SOURCE_DIR [MPIEXEC]
set -u
zeta=$1
src=$2
mpiexec=${3:-mpirun}
skip() { echo "SKIP: $*"; exit 77; }
for c in munged slurmctld slurmd sbatch scontrol squeue scancel sinfo; do
  command -v "$c" >/dev/null 2>&1 || skip "'$c' not found (scripts/install-deps.sh installs slurm-wlm and munge)"
done
[[ "$(id -u)" == 0 ]] || skip "the test cluster runs as root (SlurmUser=root); run the suite as root"

work=$(mktemp -d /tmp/zeta-slurm.XXXXXX)
chmod 755 "$work"
stop_daemons() {
  local f pid
  if [[ -n "${SLURM_CONF:-}" ]]; then scancel --full -u root >/dev/null 2>&1 || true; fi
  for f in slurmd slurmctld munged; do
    pid=$(cat "$work/run/$f.pid" 2>/dev/null) || continue
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}
cleanup() { stop_daemons; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 1' INT TERM
cd "$work" || exit 1
mkdir -p run state spool log munge results jobs
chmod 700 munge

# --- The cluster --------------------------------------------------------------
host=$(hostname -s)
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) / 2 ))
# Ports from this process id, so that two suites on one machine do not meet.
port=$((20000 + ($$ % 5000) * 2))
dd if=/dev/urandom of=munge/key bs=128 count=1 2>/dev/null
chmod 600 munge/key
munged --force --key-file="$work/munge/key" --socket="$work/munge/sock" --pid-file="$work/run/munged.pid" \
  --log-file="$work/log/munged.log" --seed-file="$work/munge/seed" ||
  skip "munged does not start here: $(tail -n 3 log/munged.log 2>/dev/null)"
cat > slurm.conf <<EOF
ClusterName=zetatest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
# cred_expire is also the wait before a requeued job may start (default 120 s).
AuthInfo=socket=$work/munge/sock,cred_expire=10
# Job ids of their own: Slurm's PMIx plugin names its files after them.
FirstJobId=$(( ($$ % 5000) * 1000 + 1 ))
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/run/slurmctld.pid
SlurmdPidFile=$work/run/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
MpiDefault=none
ReturnToService=2
SchedulerParameters=sched_interval=2
MinJobAge=600
KillWait=5
InactiveLimit=0
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$work/slurm.conf
slurmctld -f "$SLURM_CONF" || skip "slurmctld does not start here: $(tail -n 3 log/slurmctld.log 2>/dev/null)"
slurmd -f "$SLURM_CONF" || skip "slurmd does not start here: $(tail -n 3 log/slurmd.log 2>/dev/null)"
up=0
for _ in $(seq 100); do
  [[ "$(sinfo -h -n "$host" -o %t 2>/dev/null)" == idle ]] && { up=1; break; }
  sleep 0.2
done
((up)) || { tail -n 5 log/*.log; skip "the one-node cluster did not come up (sinfo: $(sinfo -h 2>&1))"; }
echo "cluster up: $host, $cpus CPUs, ${mem} MB, port $port, $(sinfo -V)"
fail=0
((cpus >= 2)) || skip "needs 2 CPUs for --ntasks-per-node=2"

# --- The runs -----------------------------------------------------------------
# The job scripts find jobs/, the configs and results/ under the submit
# directory ($work), zeta in ZETA_BUILD.
ln -s "$src/jobs/common.sh" jobs/common.sh
# The test sends USR1 once zeta reports progress (its handler is in place), so
# the scripts need not hold back an early USR1 for long (jobs/common.sh).
export ZETA_BUILD=$(dirname "$zeta") RESULTS_DIR=$work/results ZETA_PLOTS=0 ZETA_SIGNAL_GRACE=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cat > temper.ini <<'INI'
[run]
steps = 600000
burn_in = 2000
save_every = 50
progress_every = 0.3
[model]
type = ising
L = 32
[sampler]
type = heatbath
[temper]
beta_min = 0.3
beta_max = 0.55
count = 6
copies = 2
adapt = barrier
INI
# 30,000 steps: about 7 s of training on an idle 2-core machine (4,200 steps/s), so that
# after two USR1 (each held back until zeta has run 1 s, jobs/common.sh) a third job
# is still needed; at 10,000 an idle machine finished in the second job.
train_args=(--data.limit=2000 --model.hidden=16 --run.steps=30000 --run.progress_every=0.3
  --train.ais_every=10000 --train.ais_steps=200 --train.ais_chains=20 --checkpoint.every_steps=2500)
cp "$src/input/train_rbm_fashion.ini" train.ini

# chain TOOL ARGS...: submits jobs/TOOL.slurm, sends USR1 twice, waits for the
# end; sets jobid.
chain() {
  local tool=$1 log i n0 t
  shift
  jobid=$(sbatch --parsable -J "zeta-test-$tool" --ntasks-per-node=2 --mem=1G --time=1 \
    --signal=B:USR1@10 "$src/jobs/$tool.slurm" "$@") || { echo "FAIL sbatch $tool"; fail=1; return; }
  log=zeta-$tool-$jobid.out
  echo "$tool: submitted job $jobid"
  for i in 1 2; do
    # Job i of the chain has started and zeta has reported progress: USR1.
    t=0
    until [[ $(grep -c "^$tool.slurm: job $jobid, $i of" "$log" 2>/dev/null) -ge 1 ]]; do
      sleep 0.2; t=$((t + 1)); ((t < 600)) || { echo "FAIL $tool job $i did not start"; fail=1; return; }
    done
    n0=$(awk -v i="$i" -v tool="$tool" '$0 ~ "^" tool ".slurm: job [0-9]+, " i " of" {f = 1} f && /^zeta [a-z]+: step/ {n++} END {print n + 0}' "$log")
    until (($(awk -v i="$i" -v tool="$tool" '$0 ~ "^" tool ".slurm: job [0-9]+, " i " of" {f = 1} f && /^zeta [a-z]+: step/ {n++} END {print n + 0}' "$log") > n0)); do
      sleep 0.1; t=$((t + 1)); ((t < 600)) || { echo "FAIL $tool job $i reported no progress"; cat "$log"; fail=1; return; }
    done
    scancel --batch --signal=USR1 "$jobid" || { echo "FAIL scancel USR1 $jobid"; fail=1; }
    echo "$tool: job $jobid ($i) sent USR1 at $(date +%T)"
  done
  t=0
  until grep -q "^$tool.slurm: run finished\|^$tool.slurm: error" "$log" 2>/dev/null &&
    [[ -z "$(squeue -h -j "$jobid" 2>/dev/null)" ]]; do
    sleep 0.5; t=$((t + 1)); ((t < 240)) || { echo "FAIL $tool chain did not end"; fail=1; break; }
  done
}

# check TOOL STRAIGHT_JSON TIMING_KEYS DATASETS: the chain's log, geometry and results.
check() {
  local tool=$1 straight=$2 timing=$3 sets=$4 log=zeta-$1-$jobid.out dir ds jobs
  figures() { sed -E "s/\"($timing|ranks|output|checkpoint)\": [^,}]*[,]? ?//g" "$1"; }
  dir=$(ls -d results/*-"$jobid" 2>/dev/null | head -n 1)
  jobs=$(grep -c "^$tool.slurm: job $jobid, [0-9]* of" "$log")
  echo "$tool chain, job $jobid:"
  grep -E "^$tool.slurm: (job $jobid \(|requeueing|run finished|error)|\"status\"" "$log" |
    sed -E 's/("status": "[a-z]+").*"steps": ([0-9]+).*/\1 steps \2/; s/^\{.*("status": "[a-z]+").*/\1/'
  ((jobs >= 3)) || { echo "FAIL $tool: chain of $jobs job(s), expected >= 3"; fail=1; }
  grep -q "^$tool.slurm: run finished after $jobs job(s)" "$log" || { echo "FAIL $tool: chain did not finish"; cat "$log"; fail=1; }
  [[ $(grep -c "^$tool.slurm: job $jobid, [0-9]* of .*, 2 task(s)" "$log") == "$jobs" ]] ||
    { echo "FAIL $tool: not every job ran 2 tasks"; fail=1; }
  scontrol show job "$jobid" | grep -q "MinMemoryNode=1G" || { echo "FAIL $tool: requeued job lost --mem=1G"; fail=1; }
  scontrol show job "$jobid" | grep -q "NtasksPerN:B:S:C=2:" || { echo "FAIL $tool: requeued job lost --ntasks-per-node=2"; fail=1; }
  scontrol show job "$jobid" | grep -q "Restarts=$((jobs - 1)) " || { echo "FAIL $tool: Restarts is not $((jobs - 1))"; fail=1; }
  grep -q '"status": "ok"' "$dir/$tool.json" 2>/dev/null || { echo "FAIL $tool: last status not ok"; fail=1; }
  # Each job resumed where the one before it stopped (a chain of fresh runs
  # would end with the same output): the steps in zeta's JSON line of each
  # job (<name>.jsonl) grow, and each job started at the last one's count.
  local a b prev=-1 k=0 done_steps
  done_steps=$(sed -n 's/.*"steps": *\([0-9]*\).*/\1/p' "$dir/$tool.jsonl" 2>/dev/null | tr '\n' ' ')
  for b in $done_steps; do
    ((b > prev)) || { echo "FAIL $tool: steps per job $done_steps do not grow"; fail=1; }
    prev=$b
  done
  [[ $(wc -w <<< "$done_steps") == "$jobs" ]] || { echo "FAIL $tool: $jobs jobs but JSON lines for steps '$done_steps'"; fail=1; }
  prev=0
  while read -r a b; do
    k=$((k + 1))
    ((a == prev && b > a)) || { echo "FAIL $tool: job $k ran steps $a -> $b after $prev"; fail=1; }
    ((k == 1)) || grep -q "^$tool.slurm: srun .* --checkpoint.restart=true$" "$log" ||
      { echo "FAIL $tool: no restart from the checkpoint"; fail=1; }
    prev=$b
  done < <(sed -n "s/^$tool.slurm: job $jobid ([0-9]*): .*steps \([0-9]*\) -> \([0-9]*\)$/\1 \2/p" "$log")
  ((k == jobs)) || { echo "FAIL $tool: $k of $jobs jobs reported their steps"; fail=1; }
  cmp -s <(figures "$straight") <(figures "$dir/$tool.json") ||
    { echo "FAIL $tool: JSON differs from the straight run:"; figures "$straight"; figures "$dir/$tool.json"; fail=1; }
  for ds in $sets; do
    h5diff "${straight%.json}.h5" "$dir/$tool.h5" "$ds" "$ds" >/dev/null ||
      { echo "FAIL $tool: $ds differs from the straight run"; fail=1; }
  done
}

t0=$SECONDS
"$mpiexec" -np 2 --oversubscribe "$zeta" temper temper.ini --output.file=straight-temper.h5 \
  --checkpoint.file=straight-temper.ckpt > straight-temper.json 2>/dev/null || { echo "FAIL straight temper"; fail=1; }
"$mpiexec" -np 2 --oversubscribe "$zeta" train train.ini "${train_args[@]}" --output.file=straight-train.h5 \
  --checkpoint.file=straight-train.ckpt > straight-train.json 2>/dev/null || { echo "FAIL straight train"; fail=1; }
echo "straight runs: $((SECONDS - t0)) s"

t0=$SECONDS
chain temper temper.ini
temper_job=$jobid
chain train train.ini "${train_args[@]}"
train_job=$jobid
echo "chains: $((SECONDS - t0)) s"
jobid=$temper_job
check temper straight-temper.json "wall_s|sweeps_per_s|exchange_fraction|sync_wait_fraction" \
  "/temper/energy /temper/replica /temper/magnetization /temper/betas /temper/round_trips /temper/flow"
jobid=$train_job
check train straight-train.json "wall_s|updates_per_s|examples_per_s|allreduce_fraction|allreduce_fraction_min" \
  "/model/rbm/W /model/rbm/b /model/rbm/c /train/step /train/recon_error /train/pseudo_loglik /train/grad_norm"
((fail)) && { tail -n 20 log/slurmctld.log log/slurmd.log; for f in zeta-*.out; do echo "== $f"; cat "$f"; done; }
exit $fail
