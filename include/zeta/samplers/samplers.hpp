//! Batched MCMC moves with per-chain β: unadjusted Langevin (the seed's form
//! x ← x − (ε/2) β ∇E + √ε z, optional gradient clip and clamp), MALA, and HMC
//! (leapfrog + Metropolis). One call advances every chain by one step; the
//! step index keys the counter RNG, so a step's randomness never depends on
//! how chains are spread over ranks.
#pragma once
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "zeta/core/config.hpp"
#include "zeta/core/math.hpp"
#include "zeta/samplers/chains.hpp"

namespace zeta::samplers {

enum class SamplerType { langevin, mala, hmc, metropolis, heatbath, gibbs, swendsen_wang, wolff, annealed_langevin };

struct SamplerSpec {
  SamplerType type = SamplerType::mala;
  std::string name = "mala";
  std::int64_t chains = 64;
  double step_size = 0.01;
  int leapfrog = 10;
  double jitter = 0.2;   //!< hmc: each trajectory's step is ε (1 + jitter u), u ~ U(−1, 1), against periodic orbits
  double clip_grad = 0;  //!< 0: no clip; else each ∇E component is clipped to ±clip_grad (langevin)
  bool clamp = false;    //!< clamp states to [clamp_min, clamp_max] (langevin)
  double clamp_min = 0, clamp_max = 0;
  double init_scale = 1;
  //! langevin: the noise's scale η in x − (ε/2)∇E + η√ε z (zeta train's sampler.noise_scale; 1 elsewhere)
  double noise_scale = 1;
  double beta = 1;
  int clusters = 1;  //!< wolff: clusters grown and flipped per step
  //! swendsen_wang, wolff: heat-bath sweeps (hot_sweeps per step) at β < cluster_from, the
  //! cluster move from it on (0: the cluster move at every β); chains must share β (not temper)
  double cluster_from = 0;
  int hot_sweeps = 1;
  //! annealed_langevin (samplers/annealed_langevin.hpp): the decreasing σ ladder and the moves per level.
  std::vector<double> sigmas;
  std::int64_t steps_per_level = 100;
};

void declare_sampler_keys(Config& cfg);
SamplerSpec read_sampler_spec(const Config& cfg);
//! Refuses sampler.cluster_from in temper, whose replicas sit at different β.
void refuse_cluster_window(const SamplerSpec& s, const std::string& command);
//! The Langevin keys alone (step_size, clip_grad, clamp, init_scale): `zeta train`'s
//! negative phase for an mlp declares and reads only these.
void declare_langevin_keys(Config& cfg);
void read_langevin_keys(const Config& cfg, SamplerSpec& s);
//! Refuses a sampler that does not apply to the model (names sampler.type): rbm is
//! sampled by block Gibbs only, gibbs applies to rbm only, a lattice model takes
//! metropolis, heatbath, swendsen_wang or wolff, and heatbath, swendsen_wang and wolff
//! apply to lattices only. sampler.type's default follows model.type, so an unset key
//! always passes.
void check_sampler_for_model(const SamplerSpec& s, const std::string& model_type, bool lattice);
//! `s`, checked for the model (check_sampler_for_model).
SamplerSpec sampler_for_model(SamplerSpec s, const std::string& model_type, bool lattice);

//! A lower bound of the memory one chain of `state_size` values takes: a continuous
//! chain's state, gradient, proposal, its gradient and momentum (Chains) and its
//! per-chain scalars, plus the run's per-chain accumulators; spins and binary units
//! (not continuous) at least a byte each, plus the accumulators.
double chain_bytes(int state_size, bool continuous);
//! Collective: refuses, naming `key`, `global` chains of `bytes_per_chain` each when
//! one rank's share cannot fit in the physical memory of the smallest node (up front,
//! instead of an allocation failure on every rank after the output was opened).
void check_chain_memory(const std::string& key, std::int64_t global, double bytes_per_chain,
                        const parallel::Comm& comm);

//! One coordinate of the Langevin move, x − (ε/2) β clip(g) + √ε z, clamped.
struct LangevinUpdate {
  Real half_eps, sqrt_eps, clip, lo, hi;
  bool do_clip, do_clamp;
  KOKKOS_INLINE_FUNCTION Real operator()(Real x, Real g, Real beta, Real z) const {
    if (do_clip) g = kmath::clamp(g, -clip, clip);
    Real y = x - half_eps * beta * g + sqrt_eps * z;
    return do_clamp ? kmath::clamp(y, lo, hi) : y;
  }
};

//! Adds the Langevin move to x in place: x ← x − (ε/2) β ∇E + √ε z. Real float:
//! one work item per L Philox blocks of the flattened (chain, block) index, so
//! the noise is computed in vectorizable lanes even when the dimension is small;
//! block b of chain c gives the normals of coordinates 4b … 4b + 3, the numbers
//! rng::Stream::normals gives (to an ulp); every block goes through the same
//! lane code, so the numbers do not depend on how chains are spread over ranks.
//! `count`: also add the move to each chain's ch.accepted (zeta sample's Langevin
//! accepts every move), in the same launch.
template <class Space>
void langevin_move(Chains<Space>& ch, const SamplerSpec& s, std::uint32_t seed, std::int64_t step,
                   bool count = false) {
  const auto x = ch.x, g = ch.g;
  const auto acc = ch.accepted;
  const auto beta = ch.beta;
  const std::int64_t offset = ch.range.offset;
  const int d = ch.dim();
  const Real half_eps = Real(0.5 * s.step_size), sqrt_eps = Real(std::sqrt(s.step_size) * s.noise_scale);
  const bool do_clip = s.clip_grad > 0, do_clamp = s.clamp;
  const LangevinUpdate move{half_eps, sqrt_eps, Real(s.clip_grad), Real(s.clamp_min), Real(s.clamp_max), do_clip,
                            do_clamp};
  if constexpr (std::is_same_v<Real, float>) {
    // Lanes per work item: wide on the host (SIMD; 32 measured fastest with
    // AVX-512 over 8 and 16), one on a GPU, where threads are the lanes.
    constexpr int L =
        kHostKernels<Space> ? 32 : 1;
    const int nb = (d + 3) / 4;
    const std::int64_t total = std::int64_t(ch.local()) * nb;
    Kokkos::parallel_for(
        "zeta::Langevin::step", RangePolicy<Space>(0, (total + L - 1) / L), KOKKOS_LAMBDA(const std::int64_t k) {
          const std::int64_t t0 = k * L;
          const int valid = static_cast<int>(total - t0 < L ? total - t0 : L);
          int cl[L];
          std::uint64_t chain[L];
          std::uint32_t blk[L];
          std::int64_t c = t0 / nb;
          int b = static_cast<int>(t0 - c * nb);
          for (int l = 0; l < L; ++l) {  // lanes past `valid` compute unused numbers
            cl[l] = static_cast<int>(c);
            chain[l] = std::uint64_t(offset + c);
            blk[l] = static_cast<std::uint32_t>(b);
            if (++b == nb) b = 0, ++c;
          }
          float z[4][L];
          rng::normals_lanes<L>(seed, std::uint64_t(step), rng::kNoise, chain, blk, z);
          if (d % 4 == 0) {
            // Whole blocks: each chain's lanes hold contiguous coordinates
            // from 4·blk of its first lane (at most two chains when nb ≥ L).
            for (int l = 0; l < valid;) {
              const int cc = cl[l], b0 = static_cast<int>(blk[l]);
              const int n = valid - l < nb - b0 ? valid - l : nb - b0;
              Real* KOKKOS_RESTRICT xr = &x(cc, 4 * b0);
              const Real* KOKKOS_RESTRICT gr = &g(cc, 4 * b0);
              const Real bc = beta(cc), hb = half_eps * bc;
              if (count && b0 == 0) acc(cc) += 1;
              if (!do_clip && !do_clamp) {
                for (int j = 0; j < n; ++j)
                  for (int q = 0; q < 4; ++q)
                    xr[4 * j + q] = xr[4 * j + q] - hb * gr[4 * j + q] + sqrt_eps * z[q][l + j];
              } else {
                for (int j = 0; j < n; ++j)
                  for (int q = 0; q < 4; ++q) xr[4 * j + q] = move(xr[4 * j + q], gr[4 * j + q], bc, z[q][l + j]);
              }
              l += n;
            }
            return;
          }
          for (int l = 0; l < valid; ++l) {
            const int cc = cl[l];
            if (count && blk[l] == 0) acc(cc) += 1;
            for (int q = 0; q < 4 && 4 * int(blk[l]) + q < d; ++q) {
              const int i = 4 * int(blk[l]) + q;
              x(cc, i) = move(x(cc, i), g(cc, i), beta(cc), z[q][l]);
            }
          }
        });
  } else {
    Kokkos::parallel_for(
        "zeta::Langevin::step", RangePolicy<Space>(0, ch.local()), KOKKOS_LAMBDA(const int c) {
          const rng::Stream st(seed, std::uint64_t(offset + c), std::uint64_t(step), rng::kNoise);
          st.normals(d, [&](int i, Real z) { x(c, i) = move(x(c, i), g(c, i), beta(c), z); });
          if (count) acc(c) += 1;
        });
  }
}

template <class Space, class Model>
void langevin_step(Model& model, Chains<Space>& ch, const SamplerSpec& s, std::uint32_t seed, std::int64_t step) {
  langevin_move(ch, s, seed, step, /*count=*/true);
  model.energy_and_grad(ch.x, ch.E, ch.g);
}

//! The Metropolis test on H_old − H_new (+ proposal correction) for one chain, called
//! at the end of the kernel that computes the log ratio (one launch, not two): an
//! accepted chain takes y, its gradient and energy.
template <class Space>
struct Acceptor {
  Matrix<Space> x, g, y, gy;
  Vector<Space> E, Ey;
  Counts<Space> acc;
  std::uint32_t seed;
  std::int64_t step, offset;
  int d;

  Acceptor(const Chains<Space>& ch, std::uint32_t seed_, std::int64_t step_)
      : x(ch.x), g(ch.g), y(ch.y), gy(ch.gy), E(ch.E), Ey(ch.Ey), acc(ch.accepted), seed(seed_), step(step_),
        offset(ch.range.offset), d(ch.dim()) {}

  KOKKOS_INLINE_FUNCTION void operator()(const int c, const Real log_ratio) const {
    const rng::Stream st(seed, std::uint64_t(offset + c), std::uint64_t(step), rng::kAccept);
    const double lr = double(log_ratio);
    // NaN log-ratios (e.g. overflowing proposals) are rejected.
    if (lr >= 0 || kmath::log(st.uniform()) < lr) {
      for (int i = 0; i < d; ++i) {
        x(c, i) = y(c, i);
        g(c, i) = gy(c, i);
      }
      E(c) = Ey(c);
      acc(c) += 1;
    }
  }
};

template <class Space, class Model>
void mala_step(Model& model, Chains<Space>& ch, const SamplerSpec& s, std::uint32_t seed, std::int64_t step) {
  const auto x = ch.x, g = ch.g, y = ch.y;
  const auto beta = ch.beta;
  const std::int64_t offset = ch.range.offset;
  const int d = ch.dim();
  const Real eps = Real(s.step_size), half_eps = Real(0.5 * s.step_size), sqrt_eps = Real(std::sqrt(s.step_size));
  Kokkos::parallel_for(
      "zeta::Mala::propose", RangePolicy<Space>(0, ch.local()), KOKKOS_LAMBDA(const int c) {
        const rng::Stream st(seed, std::uint64_t(offset + c), std::uint64_t(step), rng::kNoise);
        const Real hb = half_eps * beta(c);
        st.normals(d, [&](int i, Real z) { y(c, i) = x(c, i) - hb * g(c, i) + sqrt_eps * z; });
      });
  model.energy_and_grad(ch.y, ch.Ey, ch.gy);
  const auto gy = ch.gy;
  const auto E = ch.E, Ey = ch.Ey;
  const Acceptor<Space> accept(ch, seed, step);
  Kokkos::parallel_for(
      "zeta::Mala::log_ratio_accept", RangePolicy<Space>(0, ch.local()), KOKKOS_LAMBDA(const int c) {
        // log q(x|y) − log q(y|x) with q(b|a) ∝ exp(−|b − a + (ε/2) β ∇E(a)|² / (2ε))
        const Real hb = half_eps * beta(c);
        Real fwd = 0, bwd = 0;
        for (int i = 0; i < d; ++i) {
          const Real f = y(c, i) - x(c, i) + hb * g(c, i);
          const Real b = x(c, i) - y(c, i) + hb * gy(c, i);
          fwd += f * f;
          bwd += b * b;
        }
        accept(c, -beta(c) * (Ey(c) - E(c)) - (bwd - fwd) / (Real(2) * eps));
      });
}

template <class Space, class Model>
void hmc_step(Model& model, Chains<Space>& ch, const SamplerSpec& s, std::uint32_t seed, std::int64_t step) {
  const auto x = ch.x, g = ch.g, y = ch.y, gy = ch.gy, p = ch.p;
  const auto beta = ch.beta;
  const auto E = ch.E, Ey = ch.Ey;
  const std::int64_t offset = ch.range.offset;
  const int d = ch.dim();
  const Real eps = Real(s.step_size), jitter = Real(s.jitter);
  // Per-chain step size for this trajectory, a pure function of (seed, chain, step).
  const auto half_step = KOKKOS_LAMBDA(const int c) {
    const rng::Stream st(seed, std::uint64_t(offset + c), std::uint64_t(step), rng::kAccept);
    return Real(0.5) * eps * (Real(1) + jitter * Real(2 * st.uniform(1) - 1));
  };
  const auto h = ch.log_ratio;  // holds H(x, p) until the last kernel turns it into the log ratio
  Kokkos::parallel_for(
      "zeta::Hmc::momentum", RangePolicy<Space>(0, ch.local()), KOKKOS_LAMBDA(const int c) {
        const rng::Stream st(seed, std::uint64_t(offset + c), std::uint64_t(step), rng::kMomentum);
        Real k = 0;
        st.normals(d, [&](int i, Real z) {
          p(c, i) = z;
          k += z * z;
          y(c, i) = x(c, i);
          gy(c, i) = g(c, i);
        });
        h(c) = beta(c) * E(c) + Real(0.5) * k;
      });
  // Leapfrog: the closing half kick of one step and the opening half kick and drift of
  // the next share a launch (the same operations on each element, so the same bits),
  // and the last half kick shares one with the log ratio and the Metropolis test.
  for (int l = 0; l < s.leapfrog; ++l) {
    const bool kick_first = l > 0;
    Kokkos::parallel_for(
        "zeta::Hmc::kick_drift", RangePolicy<Space>(0, ch.local()), KOKKOS_LAMBDA(const int c) {
          const Real he = half_step(c), hb = he * beta(c);
          for (int i = 0; i < d; ++i) {
            if (kick_first) p(c, i) -= hb * gy(c, i);
            p(c, i) -= hb * gy(c, i);
            y(c, i) += Real(2) * he * p(c, i);
          }
        });
    model.energy_and_grad(ch.y, ch.Ey, ch.gy);
  }
  const Acceptor<Space> accept(ch, seed, step);
  Kokkos::parallel_for(
      "zeta::Hmc::kick_log_ratio_accept", RangePolicy<Space>(0, ch.local()), KOKKOS_LAMBDA(const int c) {
        const Real hb = half_step(c) * beta(c);
        for (int i = 0; i < d; ++i) p(c, i) -= hb * gy(c, i);
        Real k = 0;
        for (int i = 0; i < d; ++i) k += p(c, i) * p(c, i);
        h(c) = h(c) - (beta(c) * Ey(c) + Real(0.5) * k);
        accept(c, h(c));
      });
}

//! Random-walk Metropolis for continuous models: y = x + √ε z, accepted with min(1, e^{−β ΔE}).
template <class Space, class Model>
void rwm_step(Model& model, Chains<Space>& ch, const SamplerSpec& s, std::uint32_t seed, std::int64_t step) {
  const auto x = ch.x, y = ch.y;
  const std::int64_t offset = ch.range.offset;
  const int d = ch.dim();
  const Real sqrt_eps = Real(std::sqrt(s.step_size));
  Kokkos::parallel_for(
      "zeta::Metropolis::propose", RangePolicy<Space>(0, ch.local()), KOKKOS_LAMBDA(const int c) {
        const rng::Stream st(seed, std::uint64_t(offset + c), std::uint64_t(step), rng::kNoise);
        st.normals(d, [&](int i, Real z) { y(c, i) = x(c, i) + sqrt_eps * z; });
      });
  model.energy_and_grad(ch.y, ch.Ey, ch.gy);
  const auto beta = ch.beta;
  const auto E = ch.E, Ey = ch.Ey;
  const Acceptor<Space> accept(ch, seed, step);
  Kokkos::parallel_for(
      "zeta::Metropolis::log_ratio_accept", RangePolicy<Space>(0, ch.local()),
      KOKKOS_LAMBDA(const int c) { accept(c, -beta(c) * (Ey(c) - E(c))); });
}

template <class Space, class Model>
void annealed_langevin_step(Model& model, Chains<Space>& ch, const SamplerSpec& s, std::uint32_t seed,
                            std::int64_t t);

//! One step of the configured sampler for every chain.
template <class Space, class Model>
void sampler_step(Model& model, Chains<Space>& ch, const SamplerSpec& s, std::uint32_t seed, std::int64_t step) {
  switch (s.type) {
    case SamplerType::langevin: langevin_step(model, ch, s, seed, step); break;
    case SamplerType::mala: mala_step(model, ch, s, seed, step); break;
    case SamplerType::hmc: hmc_step(model, ch, s, seed, step); break;
    case SamplerType::metropolis: rwm_step(model, ch, s, seed, step); break;
    case SamplerType::annealed_langevin: annealed_langevin_step(model, ch, s, seed, step); break;
    case SamplerType::heatbath:  // refused for continuous models by check_sampler_for_model
    case SamplerType::swendsen_wang:
    case SamplerType::wolff:
    case SamplerType::gibbs: break;  // rbm only, driven by its own replica / chain systems
  }
}

}  // namespace zeta::samplers

#include "zeta/samplers/annealed_langevin.hpp"  // NOLINT: the move sampler_step names, after it
