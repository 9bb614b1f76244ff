//! The gradient sum over ranks: zeta::SharedSum (node-shared memory) against
//! MPI_Allreduce on the same buffer, alternating within each repeat. Each call is
//! preceded by a barrier and by writing the buffer (as a trainer's gradient GEMM
//! does), so that both start from the same state; prints one JSON line from rank 0
//! with the milliseconds per call of each (the mean over a repeat's calls, lowest
//! over the repeats; and the best single call), and the ratio of the means.
//!   mpirun -np 2 --bind-to core bench_allreduce [--n 392000] [--calls 300] [--repeats 5]
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_main.hpp"
#include "zeta/core/types.hpp"
#include "zeta/parallel/shared_sum.hpp"

namespace {

int run(int argc, char** argv) {
  std::size_t n = 784 * 500;  // an RBM's W gradient
  int calls = 300, repeats = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--n")
      n = std::strtoull(argv[i + 1], nullptr, 10);
    else if (k == "--calls")
      calls = std::atoi(argv[i + 1]);
    else if (k == "--repeats")
      repeats = std::atoi(argv[i + 1]);
    else
      throw std::runtime_error("unknown option " + k);
  }
  using zeta::Real;
  zeta::parallel::Comm comm(MPI_COMM_WORLD);
  zeta::parallel::SharedSum<Real> shared(comm, n);
  std::vector<Real> plain(n);
  auto fill = [&](Real* p) {
    for (std::size_t i = 0; i < n; ++i) p[i] = Real(int(i % 7) + comm.rank());
  };
  // Mean and best seconds per call of f, over `calls` calls.
  auto time = [&](Real* p, auto&& f, double& best) {
    double total = 0;
    for (int c = 0; c < calls; ++c) {
      fill(p);
      comm.barrier();
      const double t0 = MPI_Wtime();
      f();
      const double t = MPI_Wtime() - t0;
      total += t;
      best = std::min(best, t);
    }
    return total / calls;
  };
  auto shared_sum = [&] { shared.sum(); };
  auto mpi_allreduce = [&] {
    MPI_Allreduce(MPI_IN_PLACE, plain.data(), static_cast<int>(n), zeta::parallel::mpi_type<Real>(), MPI_SUM,
                  comm.raw());
  };
  double mean_s = 1e300, mean_m = 1e300, best_s = 1e300, best_m = 1e300;
  for (int r = 0; r < repeats; ++r) {
    mean_s = std::min(mean_s, time(shared.data(), shared_sum, best_s));
    mean_m = std::min(mean_m, time(plain.data(), mpi_allreduce, best_m));
  }
  // Both must give the sum: Σ_r (i % 7 + r).
  const Real want3 = Real(comm.size() * 3 + comm.size() * (comm.size() - 1) / 2);
  if (n > 3 && (shared.data()[3] != want3 || plain[3] != want3)) throw std::runtime_error("wrong sum");
  if (comm.root())
    std::printf(
        "{\"bench\": \"allreduce\", \"ranks\": %d, \"n\": %zu, \"bytes\": %zu, \"shared_sum_ms\": %.4f, "
        "\"shared_sum_best_ms\": %.4f, \"mpi_allreduce_ms\": %.4f, \"mpi_allreduce_best_ms\": %.4f, "
        "\"mpi_over_shared\": %.3f}\n",
        comm.size(), n, n * sizeof(Real), mean_s * 1e3, best_s * 1e3, mean_m * 1e3, best_m * 1e3, mean_m / mean_s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return zeta::bench::bench_main(argc, argv, "bench_allreduce", run, [] {});
}
