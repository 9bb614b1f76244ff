//! Annealed Langevin dynamics (Song & Ermon 2019, Algorithm 1), sampler.type =
//! annealed_langevin: the sampler of a noise-conditional score model s(x, σ) = −∇x E(x)/σ
//! (training/mlp_ncsn.hpp). Over a decreasing ladder σ_1 > … > σ_L it runs
//! steps_per_level moves at each level,
//!   x ← x + (ε_i/2) β s(x, σ_i) + √ε_i z = x − (ε_i/2) (β/σ_i) ∇x E + √ε_i z,
//!   ε_i = ε (σ_i/σ_L)²   (ε = sampler.step_size),
//! and stays at the last level after L·steps_per_level moves. A level is the unadjusted
//! Langevin move of samplers.hpp (clip and clamp included) at inverse temperature
//! β/σ_i: level i targets e^{−βE/σ_i}, the last one the model at the smallest noise.
//! Counter step t (1, 2, …; 0 is the initial state) is at level min((t−1)/T, L−1), and
//! the noise is langevin_move's (Stream(seed, global chain, t, kNoise)), so the bits
//! do not depend on the rank count.
//! A model with set_sigma (models::NoiseConditionalMlp, E(x, σ)) is set to each level's σ,
//! and its E and ∇x E are recomputed where a step enters a new level: level i then
//! targets e^{−βE(x, σ_i)/σ_i}.
#pragma once
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/core/config.hpp"
#include "zeta/models/noise_conditional_mlp.hpp"
#include "zeta/samplers/chains.hpp"
#include "zeta/samplers/samplers.hpp"

namespace zeta::samplers {

//! σ_1 (σ_L/σ_1)^{i/(L−1)}, i = 0 … L−1: the geometric ladder from `first` down to `last`.
std::vector<double> geometric_sigmas(double first, double last, int levels);

//! A noise ladder from a list key and its levels key: `levels_key` = 0 takes the list
//! as the ladder; L ≥ 2 takes the list as its two ends σ_1, σ_L and fills the L levels
//! geometrically. Errors name the keys: a σ ≤ 0 or not finite, a ladder that does not
//! decrease strictly, fewer than `min_levels` levels.
std::vector<double> read_sigma_ladder(const Config& cfg, const std::string& list_key, const std::string& levels_key,
                                      int min_levels);

//! sampler.sigma, sampler.sigma_levels, sampler.steps_per_level.
void declare_annealed_keys(Config& cfg);
//! Reads them into `s` for sampler.type = annealed_langevin; with another type, an
//! explicit one of them is an error that names it.
void read_annealed_keys(const Config& cfg, SamplerSpec& s);
//! Refuses annealed_langevin (naming sampler.type) in `command`, whose β schedule is its own.
void refuse_annealed(const SamplerSpec& s, const std::string& command);

//! The ladder level of counter step t (t ≥ 1).
inline int annealed_level(const SamplerSpec& s, std::int64_t t) {
  const std::int64_t L = std::int64_t(s.sigmas.size());
  return int(std::min<std::int64_t>(L - 1, std::max<std::int64_t>(0, t - 1) / s.steps_per_level));
}

//! ε_i = ε (σ_i/σ_L)² of level i.
inline double annealed_step_size(const SamplerSpec& s, int level) {
  const double r = s.sigmas[std::size_t(level)] / s.sigmas.back();
  return s.step_size * r * r;
}

//! One annealed Langevin move of every chain at counter step t: ∇x E scaled by 1/σ_i,
//! then langevin_move at ε_i, then E and ∇x E at the new states.
template <class Space, class Model>
void annealed_langevin_step(Model& model, Chains<Space>& ch, const SamplerSpec& s, std::uint32_t seed, std::int64_t t) {
  const int level = annealed_level(s, t);
  if constexpr (models::TakesSigma<Model>::value) {
    const double sigma = s.sigmas[std::size_t(level)];
    if (model.sigma() != sigma) {
      model.set_sigma(sigma);
      model.energy_and_grad(ch.x, ch.E, ch.g);
    }
  }
  const Real inv_sigma = Real(1.0 / s.sigmas[std::size_t(level)]);
  const auto g = ch.g;
  const int d = ch.dim();
  Kokkos::parallel_for(
      "zeta::AnnealedLangevin::scale", RangePolicy<Space>(0, ch.local()), KOKKOS_LAMBDA(const int c) {
        for (int i = 0; i < d; ++i) g(c, i) *= inv_sigma;
      });
  SamplerSpec at = s;
  at.step_size = annealed_step_size(s, level);
  langevin_move(ch, at, seed, t);
  model.energy_and_grad(ch.x, ch.E, ch.g);
  const auto acc = ch.accepted;
  Kokkos::parallel_for(
      "zeta::AnnealedLangevin::count", RangePolicy<Space>(0, ch.local()), KOKKOS_LAMBDA(const int c) { acc(c) += 1; });
}

}  // namespace zeta::samplers
