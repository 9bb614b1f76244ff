//! Test support: run a sampler and collect per-chain time averages of observables.
#pragma once
#include <cmath>
#include <functional>
#include <vector>

#include "zeta/parallel/comm.hpp"
#include "zeta/samplers/samplers.hpp"

namespace zeta::test {

using Space = Kokkos::DefaultExecutionSpace;

//! Mean over chains of per-chain time averages, with the standard error from
//! the spread between independent chains (honest under autocorrelation).
struct Estimate {
  double mean = 0, se = 0;
};

//! Runs `steps` steps (after `burn` discarded) on `chains` chains held by this
//! process alone and calls obs(x_row, E, out) every `thin` steps on the host;
//! returns per-chain averages, chain-major: [chain][observable].
template <class Model>
std::vector<std::vector<double>> chain_averages(
    Model& model, const samplers::SamplerSpec& spec, int burn, int steps, int thin, std::uint32_t seed, int nobs,
    const std::function<void(const double* x, double E, double* out)>& obs) {
  parallel::ChainRange range{spec.chains, 0, spec.chains};
  samplers::Chains<Space> ch(range, model.dim(), spec.beta);
  ch.initialize(model, seed, spec.init_scale);
  const int d = model.dim();
  std::vector<std::vector<double>> sums(spec.chains, std::vector<double>(nobs, 0.0));
  std::vector<double> x(d), o(nobs);
  int samples = 0;
  for (int s = 0; s < burn + steps; ++s) {
    samplers::sampler_step(model, ch, spec, seed, s + 1);
    if (s >= burn && (s - burn) % thin == 0) {
      auto hx = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ch.x);
      auto hE = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ch.E);
      for (int c = 0; c < spec.chains; ++c) {
        for (int i = 0; i < d; ++i) x[i] = hx(c, i);
        obs(x.data(), hE(c), o.data());
        for (int k = 0; k < nobs; ++k) sums[c][k] += o[k];
      }
      ++samples;
    }
  }
  for (auto& row : sums)
    for (auto& v : row) v /= samples;
  return sums;
}

inline samplers::SamplerSpec make_spec(samplers::SamplerType type, std::int64_t chains, double step_size,
                                       double beta = 1, int leapfrog = 10) {
  samplers::SamplerSpec s;
  s.type = type;
  s.name = type == samplers::SamplerType::langevin ? "langevin" : type == samplers::SamplerType::mala ? "mala" : "hmc";
  s.chains = chains;
  s.step_size = step_size;
  s.beta = beta;
  s.leapfrog = leapfrog;
  return s;
}

inline Estimate across_chains(const std::vector<std::vector<double>>& avg, int k) {
  const double n = double(avg.size());
  double m = 0, ss = 0;
  for (const auto& row : avg) m += row[k];
  m /= n;
  for (const auto& row : avg) ss += (row[k] - m) * (row[k] - m);
  return {m, std::sqrt(ss / (n - 1) / n)};
}

}  // namespace zeta::test
