//! MBAR on a file of reduced potentials, samples spread over the ranks: time to
//! converge (solve + asymptotic covariance) and the estimates, as one JSON line.
//!   mpirun -np 2 bench_mbar DATA.h5 [--repeats R] [--out F.txt]
//! DATA.h5 (bench/mbar_bench.py writes it): /betas (K), /N_k (K) and /x (N, grouped
//! by state); the states are harmonic wells, u_k(x) = β_k x² / 2.
#include <cstdio>
#include <fstream>
#include <string>

#include "bench_main.hpp"
#include "zeta/estimators/mbar.hpp"
#include "zeta/io/hdf5.hpp"

namespace {

int run(int argc, char** argv) {
  using namespace zeta;
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_mbar DATA.h5 [--repeats R] [--out F.txt]\n");
    return 2;
  }
  const std::string file = argv[1];
  int repeats = 3;
  std::string out;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--repeats") repeats = std::stoi(argv[i + 1]);
    else if (a == "--out") out = argv[i + 1];
    else throw std::runtime_error("unknown option " + a);
  }
  parallel::Comm comm(MPI_COMM_WORLD);
  std::vector<double> betas, x;
  std::vector<std::int64_t> N_k;
  if (comm.root()) {
    io::Handle f = io::open_read(file);
    betas = io::read_array<double>(f.id(), file, "/betas", {});
    N_k = io::read_array<std::int64_t>(f.id(), file, "/N_k", {});
    x = io::read_array<double>(f.id(), file, "/x", {});
  }
  comm.broadcast(betas);
  comm.broadcast(N_k);
  comm.broadcast(x);
  const int K = static_cast<int>(betas.size());
  const parallel::ChainRange mine = estimators::mbar_samples(std::int64_t(x.size()), comm);
  std::vector<double> u(std::size_t(K) * std::size_t(mine.count));
  for (int k = 0; k < K; ++k)
    for (std::int64_t i = 0; i < mine.count; ++i)
      u[k * mine.count + i] = 0.5 * betas[k] * x[mine.offset + i] * x[mine.offset + i];
  double best = 1e300;
  estimators::MbarResult r;
  for (int rep = 0; rep < repeats; ++rep) {
    comm.barrier();
    const double t0 = MPI_Wtime();
    r = estimators::mbar(u, N_k, comm);
    comm.barrier();
    best = std::min(best, MPI_Wtime() - t0);
  }
  if (comm.root()) {
    double err = 0;  // against the exact f_k − f_0 = ½ ln(β_k / β_0), in units of the reported error
    for (int k = 1; k < K; ++k)
      err = std::max(err, std::fabs(r.f[k] - 0.5 * std::log(betas[k] / betas[0])) / r.df_stderr[k]);
    std::printf("{\"bench\": \"mbar\", \"K\": %d, \"N\": %zu, \"ranks\": %d, \"seconds\": %.4f, \"iterations\": %d, "
                "\"converged\": %s, \"max_error_in_stderr\": %.3f}\n",
                K, x.size(), comm.size(), best, r.iterations, r.converged ? "true" : "false", err);
    if (!out.empty()) {
      std::ofstream o(out);
      o.precision(17);
      for (int k = 0; k < K; ++k) o << r.f[k] << " " << r.df_stderr[k] << "\n";
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return zeta::bench::bench_main(argc, argv, "bench_mbar", run, [] {}); }
