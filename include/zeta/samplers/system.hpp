//! Chain systems: a batch of chains on one rank, each with its own β, that one
//! call advances by one step. Every command that samples (sample, temper, ais)
//! drives a system through this one concept, whatever the model:
//!
//!   name(), local(), state_size(), observables(), moves_per_step(), `lattice`
//!   set_beta(b) / set_betas(per local chain)      the inverse temperatures
//!   step(t)                                       one move of every chain, RNG keyed by (seed, chain, t)
//!   energies(), accepted()                        device Views per local chain
//!   diverged()                                    local: a state or energy is NaN, ∞ or absurd (divergence.hpp)
//!   observe(out)                                  host [observables] per local chain (E, then M for lattices)
//!   host_states()                                 host View [local, state_size]
//!   save(state, counts), load(state, counts), saved_row()   checkpoints
//!
//! ContinuousSystem (Langevin / MALA / HMC / RWM), LatticeSystem (Metropolis /
//! heat-bath sweeps) and RbmSystem (block Gibbs) implement it; with_system() picks
//! one from [model] and [sampler] over with_model (models/factory.hpp), the one
//! place that dispatches on the model.
#pragma once
#include <cstdint>
#include <string>
#include <type_traits>
#include <variant>

#include "zeta/core/config.hpp"
#include "zeta/models/factory.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/samplers/continuous_system.hpp"
#include "zeta/samplers/lattice_system.hpp"
#include "zeta/samplers/rbm_system.hpp"

namespace zeta::samplers {

//! Σ_c v(c): accepted moves over the local chains.
template <class Space>
std::int64_t sum_counts(const Counts<Space>& v) {
  std::int64_t n = 0;
  Kokkos::parallel_reduce(
      "zeta::System::accepted", RangePolicy<Space>(0, v.extent(0)),
      KOKKOS_LAMBDA(const int c, std::int64_t& a) { a += v(c); }, n);
  return n;
}

//! What a system's saved rows hold, in the words of the outputs' `description`
//! attributes (io::OutputFile::describe): the state, the name of its axis, and the
//! energy the system reports.
struct SavedRowWords {
  std::string state, axis, energy;
};

template <class Sys>
SavedRowWords saved_row_words(const Sys& sys) {
  if constexpr (Sys::lattice) {
    (void)sys;
    return {"spins (+1 or -1) of the lattice sites, row-major", "site", "energy E(s) of the spin configuration"};
  } else if constexpr (std::is_same_v<Sys, RbmSystem<typename Sys::space>>) {
    return {"visible units v", "visible",
            sys.energy_kind() == RbmEnergy::free
                ? "free energy F_beta(v) = -(1/beta) ln sum_h exp(-beta E(v, h)) of the visible units"
                : "joint energy E(v, h) of the visible and hidden units"};
  } else {
    (void)sys;
    return {"coordinates of the state x", "coordinate", "energy E(x)"};
  }
}

//! How a command wants its chains: their β until set otherwise, and what an RBM
//! chain's energy is (RbmEnergy).
struct SystemOptions {
  double beta = 1;
  RbmEnergy rbm_energy = RbmEnergy::joint;
  const char* chains_key = "sampler.chains";  //!< the key named when the chains cannot fit in memory
};

//! Collective: refuses, naming opt.chains_key, this rank's share of `range` when the
//! chain system of [model] could not fit in memory (before anything is allocated).
inline void check_system_memory(const models::ModelSpec& ms, const models::ModelParams& params,
                                const parallel::ChainRange& range, const SystemOptions& opt,
                                const parallel::Comm& comm) {
  double bytes = 0;
  if (ms.lattice()) {
    bytes = chain_bytes(ms.dim, false);
  } else if (const auto* rbm = std::get_if<io::RbmParams>(&params)) {
    bytes = chain_bytes(rbm->visible + rbm->hidden, false);
  } else {
    bytes = chain_bytes(std::max(ms.dim, 1), true);
  }
  check_chain_memory(opt.chains_key, range.global, bytes, comm);
}

//! Builds the chain system of [model] (ms) moved by [sampler] (smp) for this rank's
//! chains and returns f(system); `params`: load_model_params of `ms`. The model
//! outlives the system for the whole call.
template <class Space, class F>
decltype(auto) with_system(const models::ModelSpec& ms, const models::ModelParams& params, const SamplerSpec& smp,
                           const parallel::ChainRange& range, std::uint32_t seed, const SystemOptions& opt, F&& f) {
  return models::with_model<Space>(ms, params, [&](auto& m) -> decltype(auto) {
    using M = std::decay_t<decltype(m)>;
    if constexpr (std::is_same_v<M, models::Ising<Space>>) {
      LatticeSystem<Space> sys(m, spin_move(smp), range, seed, opt.beta);
      return f(sys);
    } else if constexpr (std::is_same_v<M, models::LoadedRbm<Space>>) {
      RbmSystem<Space> sys(m.rbm, range, seed, opt.rbm_energy, opt.beta);
      return f(sys);
    } else {
      ContinuousSystem<Space, M> sys(m, smp, range, seed, opt.beta);
      return f(sys);
    }
  });
}

}  // namespace zeta::samplers
