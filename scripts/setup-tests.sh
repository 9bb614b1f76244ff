#!/usr/bin/env bash
# Fresh Debian 12, as root: install dependencies, build, run the whole test
# suite (MPI tests at 1, 2 and 4 ranks). Extra arguments go to ctest.
# Then a float build (the benchmarks' precision) of the training tests:
# test_linalg, test_rbm, test_optim, test_train, test_trainer, test_synthetic,
# test_mlp_objectives, test_train_mlp, test_train_objectives, and cli_train_signal (SIGTERM, then a restart on another rank count).
# Then the whole double suite again on the generic kernels (-DZETA_HOST_KERNELS=OFF, without
# the benchmarks: the Kokkos kernels a GPU runs, GEMMs by KokkosBlas, on the host), but for
# cli_same_results, which compares bit for bit with a host-kernel baseline (the generic
# kernels agree with it to rounding), and the two builds bit for bit on the inputs without GEMMs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" "$root/build"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --test-dir "$root/build" --output-on-failure -j "$(nproc)" "$@"
float_tests=(test_linalg test_rbm test_optim test_train test_trainer test_synthetic test_mlp_objectives test_train_mlp
  test_train_objectives test_net test_train_net)
cmake -S "$root" -B "$root/build-float-tests" -DCMAKE_BUILD_TYPE=Release -DZETA_PRECISION=float >/dev/null
cmake --build "$root/build-float-tests" -j "$(nproc)" --target "${float_tests[@]}" zeta_exe
# The 48 s PCD training on the ring runs in the double suite only.
GTEST_FILTER=-TrainMlpPcd.Ring8HeldOutNllNearTrueNll \
  ctest --test-dir "$root/build-float-tests" --output-on-failure -j "$(nproc)" \
  -R "^(($(IFS='|'; echo "${float_tests[*]}"))_np[0-9]+|cli_train_signal)$" "$@"
cmake -S "$root" -B "$root/build-portable" -DCMAKE_BUILD_TYPE=Release -DZETA_HOST_KERNELS=OFF -DZETA_ENABLE_BENCH=OFF >/dev/null
cmake --build "$root/build-portable" -j "$(nproc)"
ctest --test-dir "$root/build-portable" --output-on-failure -j "$(nproc)" -E '^cli_same_results$' "$@"
# Where the host kernels promise the generic kernels' bits (per-chain samplers, the Ising
# sweeps and Philox lanes: every input without a GEMM), the two builds agree bit for bit.
SAME_RESULTS_CHANGED=/dev/null \
  SAME_RESULTS_ONLY='^(ais_ising|demo|double_well|gaussian_hmc|gaussian_langevin|gaussian_mala|gmm_1d|gmm_2d|temper_ising|temper_mixture)\.ini$' \
  "$root/scripts/same-results.sh" "$root/build/zeta" "$root/build-portable/zeta"
