#!/usr/bin/env bash
# Serial against OpenMP through the `zeta` command (issue 26): four workloads, each
# rate taken from the command's JSON line, for a Serial build (Debian's Kokkos, the
# default build) and an OpenMP build (a Kokkos with OpenMP, -DKokkos_ROOT=...):
#
#   serial-1r   Serial build, 1 rank
#   serial-2r   Serial build, 2 ranks x 1 thread        (the issue's reference)
#   omp-1t      OpenMP build, 1 rank x 1 thread
#   omp-2t      OpenMP build, 1 rank x 2 threads, OpenBLAS single-threaded (host GEMMs split
#               into row blocks over the 2 OpenMP threads: linalg::host_gemm)
#   omp-2t-b2   OpenMP build, 1 rank x 2 threads, OPENBLAS_NUM_THREADS=2 (OpenBLAS' own
#               threads as well, inside each block)
#
# Workloads (one core per rank or thread; the machine needs 2 idle cores):
#   sample_mala_d50   zeta sample, MALA, Gaussian d = 50 (input/gaussian_mala.ini), 4096 chains
#   sample_ising_L64  zeta sample, Metropolis sweeps of the Ising model, L = 64, 64 chains
#   train_rbm_cd1     zeta train, RBM 784 x 500 CD-1, batch 100 (bench/rbm_train.ini)
#   train_dsm         zeta train, MLP 784-512-512-1 DSM, batch 128 (bench/ebm_train.ini)
# Configurations alternate run by run (ROUNDS rounds, so a slow spell of the machine
# hits all of them); the table gives the median rate of each and the ratios
# omp-1t / serial-1r and best omp-2t / serial-2r (the issue's target: >= 0.8).
#
#   bench/run_backend_bench.sh SERIAL_ZETA OMP_ZETA     # e.g. build/zeta /work/build-omp/zeta
#   ROUNDS=5 ONLY=train bench/run_backend_bench.sh build/zeta /work/build-omp/zeta
#   SHORT=1 ...    # a few steps each: checks that every case runs, the rates mean nothing
#
# OpenMP runs get OMP_PROC_BIND=close OMP_PLACES=cores unless set, and mpirun
# --bind-to none (Open MPI binds a rank to one core by default, which would put both
# threads on it). Raw lines go to $OUT (default ./backend-bench-<date>.txt).
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERIAL=$(realpath "${1:?usage: run_backend_bench.sh SERIAL_ZETA OMP_ZETA}")
OMP=$(realpath "${2:?usage: run_backend_bench.sh SERIAL_ZETA OMP_ZETA}")
ROUNDS=${ROUNDS:-3}
ONLY=${ONLY:-}
SHORT=${SHORT:-0}
OUT=$(realpath -m "${OUT:-backend-bench-$(date +%Y%m%d-%H%M%S).txt}")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_PROC_BIND=${OMP_PROC_BIND:-close} OMP_PLACES=${OMP_PLACES:-cores}
for z in "$SERIAL" "$OMP"; do [[ -x $z ]] || { echo "no zeta at $z" >&2; exit 1; }; done
"$SERIAL" --version | grep -qi openmp && { echo "$SERIAL is an OpenMP build" >&2; exit 1; }
"$OMP" --version | grep -qi openmp || { echo "$OMP is not an OpenMP build ($("$OMP" --version | head -n 1))" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# Steps: bench settings, or SHORT ones that only check the cases run.
if [[ $SHORT == 1 ]]; then S=(40 20 5 3); else S=(400 1000 300 100); fi
# name | rate key | command and arguments (run in $work)
WORKLOADS=(
  "sample_mala_d50|chain_steps_per_s|sample $SRC/input/gaussian_mala.ini --sampler.chains=4096 --run.steps=${S[0]} --run.burn_in=1 --run.save_every=0 --output.file="
  "sample_ising_L64|chain_steps_per_s|sample --model.type=ising --model.L=64 --sampler.type=metropolis --sampler.chains=64 --run.steps=${S[1]} --run.burn_in=1 --output.file="
  "train_rbm_cd1|updates_per_s|train $SRC/bench/rbm_train.ini --run.steps=${S[2]} --train.objective=cd --train.batch=100 --train.deterministic=false --data.partitions=2 --output.file="
  "train_dsm|updates_per_s|train $SRC/bench/ebm_train.ini --run.steps=${S[3]} --train.objective=dsm --train.sigma=0.1 --data.partitions=2"
)
# config | zeta | ranks | OMP_NUM_THREADS | OPENBLAS_NUM_THREADS
CONFIGS=(
  "serial-1r|$SERIAL|1|1|1"
  "serial-2r|$SERIAL|2|1|1"
  "omp-1t|$OMP|1|1|1"
  "omp-2t|$OMP|1|2|1"
  "omp-2t-b2|$OMP|1|2|2"
)

rate() {  # rate KEY: the value of "KEY": in the JSON line on stdin
  grep -m1 '^{' | sed -nE "s/.*\"$1\": ([0-9.eE+-]+).*/\1/p"
}
: > "$OUT"
for ((r = 1; r <= ROUNDS; ++r)); do
  for w in "${WORKLOADS[@]}"; do
    IFS='|' read -r name key cmd <<< "$w"
    [[ -n $ONLY && ! $name =~ $ONLY ]] && continue
    for c in "${CONFIGS[@]}"; do
      IFS='|' read -r config z np threads blas <<< "$c"
      # shellcheck disable=SC2086
      v=$(OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$blas mpirun -np "$np" --bind-to none \
            -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS -x OMP_PROC_BIND -x OMP_PLACES \
            "$z" $cmd --run.progress_every=0 2> "$work/err" | rate "$key") || true
      [[ -n $v ]] || { echo "$name ($config) failed:" >&2; tail -n 5 "$work/err" >&2; exit 1; }
      echo "$name $config $r $v" | tee -a "$OUT"
    done
  done
done
echo
echo "Serial: $("$SERIAL" --version | paste -sd" ")"
echo "OpenMP: $("$OMP" --version | paste -sd" ")"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$OUT" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, config, _, v = line.split()
    runs.setdefault(name, {}).setdefault(config, []).append(float(v))
configs = ["serial-1r", "serial-2r", "omp-1t", "omp-2t", "omp-2t-b2"]
print(f"{'workload (median rate)':22s}" + "".join(f"{c:>11s}" for c in configs)
      + f"{'omp1/ser1':>10s}{'omp2/ser2':>10s}  spread")
for name, s in runs.items():
    m = {c: statistics.median(s[c]) for c in configs}
    spread = max(max(v) / min(v) - 1 for v in s.values())
    best2 = max(m["omp-2t"], m["omp-2t-b2"])
    print(f"{name:22s}" + "".join(f"{m[c]:11.4g}" for c in configs)
          + f"{m['omp-1t'] / m['serial-1r']:10.3f}{best2 / m['serial-2r']:10.3f}  {100 * spread:.0f}%")
PY
echo "(spread: the largest max/min - 1 over a workload's configurations, across rounds)"
