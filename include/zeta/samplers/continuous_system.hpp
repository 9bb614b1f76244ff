//! Chains of a continuous model moved by the configured sampler (Langevin, MALA,
//! HMC, random-walk Metropolis): the chain system of every continuous model.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/samplers/divergence.hpp"
#include "zeta/samplers/samplers.hpp"

namespace zeta::samplers {

//! The chain-system concept (samplers/system.hpp) for a continuous model. The
//! model is held by reference: it outlives the system (with_system owns both).
template <class Space, class Model>
class ContinuousSystem {
 public:
  using space = Space;
  static constexpr bool lattice = false;

  //! x ~ N(0, sampler.init_scale²) from the counter RNG at step 0, then E and ∇E; β = beta0.
  ContinuousSystem(Model& m, const SamplerSpec& smp, const parallel::ChainRange& range, std::uint32_t seed,
                   double beta0 = 1)
      : model_(m), smp_(smp), seed_(seed), ch_(range, m.dim(), beta0) {
    ch_.initialize(model_, seed, smp.init_scale);
  }

  std::string name() const { return model_.name(); }
  Model& model() { return model_; }
  const Chains<Space>& chains() const { return ch_; }
  int local() const { return ch_.local(); }
  int state_size() const { return ch_.dim(); }
  int observables() const { return 1; }  //!< energy
  double moves_per_step() const { return 1.0; }

  //! One β for every chain, or one per local chain.
  void set_beta(double b) { Kokkos::deep_copy(ch_.beta, Real(b)); }
  void set_betas(const std::vector<double>& b) {
    auto h = Kokkos::create_mirror_view(ch_.beta);
    for (std::size_t c = 0; c < b.size(); ++c) h(c) = Real(b[c]);
    Kokkos::deep_copy(ch_.beta, h);
  }
  void step(std::int64_t t) { sampler_step(model_, ch_, smp_, seed_, t); }

  //! Energy of every local chain after the last step (device), and accepted moves per chain.
  const Vector<Space>& energies() const { return ch_.E; }
  const Counts<Space>& accepted() const { return ch_.accepted; }
  //! Local: whether a chain's state or energy left the finite range (samplers/divergence.hpp).
  bool diverged() const { return chains_diverged<Space>(ch_.x, ch_.E); }
  //! [E] per local chain.
  void observe(std::vector<double>& out) const {
    auto e = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ch_.E);
    out.assign(e.data(), e.data() + e.size());
  }
  //! The local states on the host (one copy for all rows).
  auto host_states() const { return Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ch_.x); }

  //! x, ∇E and E per local chain (so a restart does not recompute them) and acceptance counts.
  void save(std::vector<double>& state, std::vector<double>& counts) const {
    auto hx = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ch_.x);
    auto hg = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ch_.g);
    auto hE = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ch_.E);
    auto ha = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ch_.accepted);
    const int d = ch_.dim();
    state.clear();
    for (int c = 0; c < ch_.local(); ++c) {
      for (int i = 0; i < d; ++i) state.push_back(double(hx(c, i)));
      for (int i = 0; i < d; ++i) state.push_back(double(hg(c, i)));
      state.push_back(double(hE(c)));
    }
    counts.assign(ha.data(), ha.data() + ha.size());
  }
  int saved_row() const { return 2 * ch_.dim() + 1; }
  void load(const double* state, const double* counts) {
    auto hx = Kokkos::create_mirror_view(ch_.x);
    auto hg = Kokkos::create_mirror_view(ch_.g);
    auto hE = Kokkos::create_mirror_view(ch_.E);
    auto ha = Kokkos::create_mirror_view(ch_.accepted);
    const int d = ch_.dim();
    for (int c = 0; c < ch_.local(); ++c) {
      const double* r = state + std::size_t(c) * saved_row();
      for (int i = 0; i < d; ++i) hx(c, i) = Real(r[i]), hg(c, i) = Real(r[d + i]);
      hE(c) = Real(r[2 * d]);
      ha(c) = static_cast<std::int64_t>(counts[c]);
    }
    Kokkos::deep_copy(ch_.x, hx);
    Kokkos::deep_copy(ch_.g, hg);
    Kokkos::deep_copy(ch_.E, hE);
    Kokkos::deep_copy(ch_.accepted, ha);
  }

 private:
  Model& model_;
  SamplerSpec smp_;
  std::uint32_t seed_;
  Chains<Space> ch_;
};

}  // namespace zeta::samplers
