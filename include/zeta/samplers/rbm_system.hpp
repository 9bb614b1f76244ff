//! RBM chains moved by block Gibbs sweeps: the chain system of trained RBMs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/models/rbm.hpp"
#include "zeta/samplers/samplers.hpp"

namespace zeta::samplers {

//! What a chain's energy is: the free energy F_β(v) = −(1/β) ln Σ_h e^{−βE(v,h)}, the
//! marginal energy of v (p(v) ∝ e^{−βF_β(v)}; `zeta sample`), or the joint E(v, h)
//! after the sweep, which the sweep leaves e^{−βE} invariant for (replica exchange).
enum class RbmEnergy { free, joint };

//! The chain-system concept (samplers/system.hpp) for an RBM: the state of chain c is
//! the pair (v, h) — v the visible units (the x that outputs save), h the hidden
//! units — and each step is one block Gibbs sweep h ~ p(h | v), v ~ p(v | h) at the
//! chain's β. Gibbs moves are never rejected: accepted() counts every sweep.
//! Randomness is keyed by the global chain id range.offset + c and the run's step.
template <class Space>
class RbmSystem {
 public:
  using space = Space;
  static constexpr bool lattice = false;

  //! v from Rbm::initialize_visible, h = 0 until the first sweep, and the energies at beta0.
  RbmSystem(const models::Rbm<Space>& m, const parallel::ChainRange& range, std::uint32_t seed, RbmEnergy kind,
            double beta0 = 1)
      : model_(m),
        range_(range),
        seed_(seed),
        kind_(kind),
        v_("zeta::RbmSystem::visible", range.count, m.visible()),
        h_("zeta::RbmSystem::hidden", range.count, m.hidden()),
        beta_("zeta::RbmSystem::beta", range.count),
        E_("zeta::RbmSystem::energy", range.count),
        sweeps_("zeta::RbmSystem::sweeps", range.count) {
    set_beta(beta0);
    model_.initialize_visible(v_, seed, range.offset);
    measure();
  }

  std::string name() const { return "rbm"; }
  RbmEnergy energy_kind() const { return kind_; }
  const models::Rbm<Space>& model() const { return model_; }
  int local() const { return static_cast<int>(range_.count); }
  int state_size() const { return model_.visible(); }
  int observables() const { return 1; }  //!< energy
  double moves_per_step() const { return 1.0; }

  //! One β for every chain (the kernels take it as one number), or one per local chain.
  void set_beta(double b) {
    one_beta_ = b;
    per_chain_ = false;
    Kokkos::deep_copy(beta_, Real(b));
  }
  void set_betas(const std::vector<double>& b) {
    auto h = Kokkos::create_mirror_view(beta_);
    for (std::size_t c = 0; c < b.size(); ++c) h(c) = Real(b[c]);
    Kokkos::deep_copy(beta_, h);
    per_chain_ = true;
  }
  void step(std::int64_t t) {
    // The field (v S) W of v from the last energy (load() tells the model it wrote v).
    model_.gibbs_step(v_, h_, beta(), seed_, range_.offset, t, true);
    measure();
    const auto n = sweeps_;
    Kokkos::parallel_for(
        "zeta::RbmSystem::count", RangePolicy<Space>(0, range_.count), KOKKOS_LAMBDA(const int c) { n(c) += 1; });
  }

  //! The energy of every local chain (RbmEnergy) after the last step (device), and sweeps per chain.
  const Vector<Space>& energies() const { return E_; }
  const Counts<Space>& accepted() const { return sweeps_; }
  //! Binary units under Gibbs sweeps (no step size) keep the finite energies of the
  //! checked parameters: nothing to diverge.
  bool diverged() const { return false; }
  void observe(std::vector<double>& out) const {
    auto e = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), E_);
    out.assign(e.data(), e.data() + e.size());
  }
  //! The local visible states on the host.
  auto host_states() const { return Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v_); }

  //! v, h and E per local chain (E so that a restart need not recompute it) and sweep counts.
  void save(std::vector<double>& state, std::vector<double>& counts) const {
    auto hv = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v_);
    auto hh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), h_);
    auto hE = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), E_);
    auto hn = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), sweeps_);
    const int nv = model_.visible(), nh = model_.hidden();
    state.clear();
    state.reserve(std::size_t(range_.count) * saved_row());
    for (std::int64_t c = 0; c < range_.count; ++c) {
      for (int i = 0; i < nv; ++i) state.push_back(double(hv(c, i)));
      for (int j = 0; j < nh; ++j) state.push_back(double(hh(c, j)));
      state.push_back(double(hE(c)));
    }
    counts.assign(hn.data(), hn.data() + hn.size());
  }
  int saved_row() const { return model_.visible() + model_.hidden() + 1; }
  void load(const double* state, const double* counts) {
    auto hv = Kokkos::create_mirror_view(v_);
    auto hh = Kokkos::create_mirror_view(h_);
    auto hE = Kokkos::create_mirror_view(E_);
    auto hn = Kokkos::create_mirror_view(sweeps_);
    const int nv = model_.visible(), nh = model_.hidden();
    for (std::int64_t c = 0; c < range_.count; ++c) {
      const double* r = state + std::size_t(c) * saved_row();
      for (int i = 0; i < nv; ++i) hv(c, i) = Real(r[i]);
      for (int j = 0; j < nh; ++j) hh(c, j) = Real(r[nv + j]);
      hE(c) = Real(r[nv + nh]);
      hn(c) = static_cast<std::int64_t>(counts[c]);
    }
    Kokkos::deep_copy(v_, hv);
    Kokkos::deep_copy(h_, hh);
    Kokkos::deep_copy(E_, hE);
    Kokkos::deep_copy(sweeps_, hn);
    model_.wrote(v_);
  }

 private:
  PerChain<Space> beta() const { return per_chain_ ? PerChain<Space>(beta_) : PerChain<Space>(one_beta_); }
  //! E_ from v (and h); also leaves v's hidden field in the model for the next sweep.
  void measure() {
    if (kind_ == RbmEnergy::joint) model_.energy(v_, h_, E_);
    else model_.free_energy(v_, beta(), E_);
  }

  models::Rbm<Space> model_;
  parallel::ChainRange range_;
  std::uint32_t seed_;
  RbmEnergy kind_;
  Matrix<Space> v_, h_;
  Vector<Space> beta_, E_;
  Counts<Space> sweeps_;
  double one_beta_ = 1;
  bool per_chain_ = false;
};

}  // namespace zeta::samplers
