//! Integrated autocorrelation times of the Ising model's moves, one rank: for each
//! move, `--chains` chains at β (default β_c) from random spins, `--burn-in` steps,
//! then `--steps` steps whose energy E and |M| are recorded per chain.
//!
//!   bench_cluster_tau [--L 64] [--moves heatbath,swendsen_wang] [--chains 4] [--steps 20000]
//!                     [--burn-in 2000] [--beta 0.4406867935097715] [--seed 1]
//!
//! Prints one JSON line per move: tau_E and tau_absM, the integrated autocorrelation
//! time τ_int = g / 2 in steps (Sokal's convention: 1/2 + Σ_t ρ(t); g the statistical
//! inefficiency of estimators/timeseries.hpp, pymbar's, with its lag increments growing
//! by one, over each chain's series), as the mean over chains and its standard error;
//! cpu_s_per_step (CPU seconds of one chain-step, steps alone, process CPU time, so a
//! loaded machine inflates it less than wall time) and wall_s_per_step; and
//! tau_E_cpu_s / tau_absM_cpu_s = τ_int × cpu_s_per_step, the CPU time one chain takes
//! per autocorrelation time. steps / τ_int should be large (≥ 100) for τ_int to mean much.
#include <mpi.h>
#include <time.h>

#include <Kokkos_Core.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_main.hpp"
#include "zeta/estimators/timeseries.hpp"
#include "zeta/samplers/lattice_system.hpp"

namespace {

using Space = Kokkos::DefaultExecutionSpace;

struct Options {
  int L = 64, chains = 4, clusters = 1;
  std::int64_t steps = 20000, burn_in = 2000;
  double beta = 0.4406867935097715;
  std::uint32_t seed = 1;
  std::vector<std::string> moves = {"heatbath", "swendsen_wang"};
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) throw std::runtime_error("missing value after " + a);
    const char* v = argv[++i];
    if (a == "--L")
      o.L = std::atoi(v);
    else if (a == "--chains")
      o.chains = std::atoi(v);
    else if (a == "--clusters")
      o.clusters = std::atoi(v);
    else if (a == "--steps")
      o.steps = std::atoll(v);
    else if (a == "--burn-in")
      o.burn_in = std::atoll(v);
    else if (a == "--beta")
      o.beta = std::atof(v);
    else if (a == "--seed")
      o.seed = static_cast<std::uint32_t>(std::atol(v));
    else if (a == "--moves") {
      o.moves.clear();
      std::stringstream ss(v);
      for (std::string m; std::getline(ss, m, ',');) o.moves.push_back(m);
    } else {
      throw std::runtime_error("unknown option " + a);
    }
  }
  if (o.L < 2 || o.L % 2 || o.chains < 1 || o.steps < 100) throw std::runtime_error("bad --L, --chains or --steps");
  return o;
}

zeta::models::SpinUpdate move_of(const std::string& m, int clusters) {
  using zeta::models::SpinMove;
  if (m == "metropolis") return SpinMove::metropolis;
  if (m == "heatbath") return SpinMove::heatbath;
  if (m == "swendsen_wang") return SpinMove::swendsen_wang;
  if (m == "wolff") return {SpinMove::wolff, clusters};
  throw std::runtime_error("unknown move " + m);
}

double cpu_now() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

//! Mean over chains of τ_int = g / 2, and its standard error.
void tau_over_chains(const std::vector<std::vector<double>>& series, double& mean, double& se) {
  std::vector<double> t;
  for (const auto& s : series)
    t.push_back(0.5 * zeta::estimators::statistical_inefficiency_of(s.data(), s.size(), true));
  mean = 0;
  for (double x : t) mean += x / double(t.size());
  double v = 0;
  for (double x : t) v += (x - mean) * (x - mean);
  se = t.size() > 1 ? std::sqrt(v / double(t.size() - 1) / double(t.size())) : NAN;
}

int run(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const zeta::models::Ising<Space> model(o.L, 1.0, 0.0);
  const zeta::parallel::ChainRange range{o.chains, 0, o.chains};
  for (const auto& name : o.moves) {
    zeta::samplers::LatticeSystem<Space> sys(model, move_of(name, o.clusters), range, o.seed, o.beta);
    std::int64_t t = 0;
    for (; t < o.burn_in; ++t) sys.step(t + 1);
    std::vector<std::vector<double>> E(o.chains), M(o.chains);
    std::vector<double> obs;
    double cpu = 0, wall = 0;
    for (std::int64_t k = 0; k < o.steps; ++k, ++t) {
      const double c0 = cpu_now();
      const auto w0 = std::chrono::steady_clock::now();
      sys.step(t + 1);
      Kokkos::fence();
      cpu += cpu_now() - c0;
      wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
      sys.observe(obs);
      for (int c = 0; c < o.chains; ++c) {
        E[c].push_back(obs[2 * c]);
        M[c].push_back(std::fabs(obs[2 * c + 1]));
      }
    }
    double te, tes, tm, tms;
    tau_over_chains(E, te, tes);
    tau_over_chains(M, tm, tms);
    const double per = cpu / double(o.steps * o.chains), wper = wall / double(o.steps * o.chains);
    std::printf(
        "{\"bench\":\"cluster_tau\",\"L\":%d,\"move\":\"%s\",\"beta\":%.16g,\"chains\":%d,\"steps\":%lld,"
        "\"burn_in\":%lld,\"tau_E\":%.4g,\"tau_E_se\":%.3g,\"tau_absM\":%.4g,\"tau_absM_se\":%.3g,"
        "\"cpu_s_per_step\":%.4g,\"wall_s_per_step\":%.4g,\"tau_E_cpu_s\":%.4g,\"tau_absM_cpu_s\":%.4g}\n",
        o.L, name.c_str(), o.beta, o.chains, static_cast<long long>(o.steps), static_cast<long long>(o.burn_in), te,
        tes, tm, tms, per, wper, te * per, tm * per);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return zeta::bench::bench_main(argc, argv, "bench_cluster_tau", run, [] {});
}
