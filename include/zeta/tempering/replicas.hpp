//! The replicas of a tempering run on one rank, behind one small interface the
//! driver uses for every model: set_betas(), step(), observe(), and the state
//! a checkpoint needs. Lattice models sweep with Metropolis or heat-bath;
//! continuous models move with the configured Langevin / MALA / HMC / RWM step;
//! RBMs make block Gibbs sweeps.
#pragma once
#include <array>
#include <cstdint>
#include <unordered_map>
#include <string>
#include <vector>

#include "zeta/models/ising.hpp"
#include "zeta/models/rbm.hpp"
#include "zeta/samplers/samplers.hpp"

namespace zeta {

//! The lattice move a [sampler] section asks for (checked by check_sampler_for_model).
inline SpinMove spin_move(const SamplerSpec& s) {
  return s.type == SamplerType::heatbath ? SpinMove::heatbath : SpinMove::metropolis;
}

//! Σ_c v(c): accepted moves over the local replicas.
template <class Space>
std::int64_t sum_counts(const Counts<Space>& v) {
  std::int64_t n = 0;
  Kokkos::parallel_reduce(
      "zeta::Replicas::accepted", RangePolicy<Space>(0, v.extent(0)),
      KOKKOS_LAMBDA(const int c, std::int64_t& a) { a += v(c); }, n);
  return n;
}

template <class Space>
class LatticeReplicas {
 public:
  using Model = Ising<Space>;
  static constexpr bool lattice = true;

  LatticeReplicas(const Model& m, SpinMove move, const ChainRange& range, std::uint32_t seed)
      : model_(m),
        move_(move),
        range_(range),
        seed_(seed),
        s_("zeta::Ising::spins", range.count, m.sites()),
        thr_("zeta::Ising::thresholds", range.count),
        flips_("zeta::Ising::flips", range.count),
        E_("zeta::Ising::energy", range.count),
        M_("zeta::Ising::magnetization", range.count),
        sums_("zeta::Ising::sums", range.count) {
    model_.initialize(s_, range.offset, seed);
    model_.measure(s_, E_, M_);
  }

  const Model& model() const { return model_; }
  int observables() const { return 2; }  //!< energy, magnetisation
  int state_size() const { return model_.sites(); }
  int saved_row() const { return model_.sites(); }
  double moves_per_step() const { return double(model_.sites()); }

  //! Rewrites only the threshold rows of replicas whose β changed (an exchange
  //! round moves a few labels), from rows computed once per distinct β; the
  //! cache is bounded, since an annealing schedule visits each β only once.
  void set_betas(const std::vector<double>& b) {
    if (host_thr_.extent(0) != thr_.extent(0)) {
      host_thr_ = Kokkos::create_mirror_view(thr_);
      last_.assign(b.size(), -1.0);
    }
    bool changed = false;
    for (std::size_t c = 0; c < b.size(); ++c)
      if (b[c] != last_[c]) {
        auto it = rows_.find(b[c]);
        if (it == rows_.end()) {
          if (rows_.size() >= 4096) rows_.clear();
          std::array<std::uint32_t, 10> row;
          Model::threshold_row(b[c], model_.J(), model_.h(), move_ == SpinMove::metropolis, row.data());
          it = rows_.emplace(b[c], row).first;
        }
        for (int e = 0; e < 10; ++e) host_thr_(c, e) = it->second[e];
        last_[c] = b[c];
        changed = true;
      }
    if (changed && host_thr_.data() != thr_.data()) Kokkos::deep_copy(thr_, host_thr_);  // a device copy
  }
  void step(std::int64_t t) { model_.sweep_measure(s_, thr_, move_, seed_, range_.offset, t, flips_, sums_, E_, M_); }
  //! [E, M] per local replica.
  void observe(std::vector<double>& out) const {
    auto e = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), E_);
    auto m = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), M_);
    out.resize(2 * range_.count);
    for (std::int64_t c = 0; c < range_.count; ++c) out[2 * c] = e(c), out[2 * c + 1] = m(c);
  }
  std::int64_t accepted() const { return sum_counts<Space>(flips_); }
  //! Energy of every local replica after the last step (device).
  const Kokkos::View<double*, typename Space::memory_space>& energies() const { return E_; }

  //! Spins (as ±1 doubles) and flip counts per local replica, for checkpoints.
  void save(std::vector<double>& state, std::vector<double>& counts) const {
    auto hs = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), s_);
    auto hf = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), flips_);
    state.assign(hs.data(), hs.data() + hs.size());
    counts.assign(hf.data(), hf.data() + hf.size());
  }
  void load(const double* state, const double* counts) {
    auto hs = Kokkos::create_mirror_view(s_);
    auto hf = Kokkos::create_mirror_view(flips_);
    for (std::size_t i = 0; i < hs.size(); ++i) hs.data()[i] = static_cast<std::int8_t>(state[i]);
    for (std::size_t i = 0; i < hf.size(); ++i) hf.data()[i] = static_cast<std::int64_t>(counts[i]);
    Kokkos::deep_copy(s_, hs);
    Kokkos::deep_copy(flips_, hf);
    model_.measure(s_, E_, M_);
  }

 private:
  Model model_;
  SpinMove move_;
  ChainRange range_;
  std::uint32_t seed_;
  typename Model::Spins s_;
  typename Model::Table thr_;
  typename Model::Table::HostMirror host_thr_;
  std::vector<double> last_;  //!< the β each replica's threshold row is for
  std::unordered_map<double, std::array<std::uint32_t, 10>> rows_;
  Counts<Space> flips_;
  Kokkos::View<double*, typename Space::memory_space> E_, M_;
  typename Model::Sums sums_;  //!< sweep_measure()'s scratch
};

template <class Space, class Model>
class ContinuousReplicas {
 public:
  static constexpr bool lattice = false;

  ContinuousReplicas(Model& m, const SamplerSpec& smp, const ChainRange& range, std::uint32_t seed)
      : model_(m), smp_(smp), seed_(seed), ch_(range, m.dim(), 1.0) {
    ch_.initialize(model_, seed, smp.init_scale);
  }

  Model& model() { return model_; }
  const Chains<Space>& chains() const { return ch_; }
  int observables() const { return 1; }
  int state_size() const { return ch_.dim(); }
  double moves_per_step() const { return 1.0; }

  void set_betas(const std::vector<double>& b) {
    auto h = Kokkos::create_mirror_view(ch_.beta);
    for (std::size_t c = 0; c < b.size(); ++c) h(c) = Real(b[c]);
    Kokkos::deep_copy(ch_.beta, h);
  }
  void step(std::int64_t t) { sampler_step(model_, ch_, smp_, seed_, t); }
  void observe(std::vector<double>& out) const {
    auto e = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ch_.E);
    out.assign(e.data(), e.data() + e.size());
  }
  //! The local states on the host (one copy for all rows).
  auto host_states() const { return Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ch_.x); }
  std::int64_t accepted() const { return sum_counts<Space>(ch_.accepted); }

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

//! RBM replicas: the state of replica c is the pair (v, h) — v the visible units
//! (the x that /temper/x saves), h the hidden units — and each step is one block
//! Gibbs sweep h ~ p(h | v), v ~ p(v | h) at the replica's β. The sweep leaves
//! e^{−βE(v,h)} invariant, so exchanges use the joint energy E(v, h) after the
//! sweep. Gibbs moves are never rejected: accepted() counts every sweep.
template <class Space>
class RbmReplicas {
 public:
  static constexpr bool lattice = false;

  //! v from Rbm::initialize_visible, h = 0 until the first sweep; randomness keyed
  //! by the global replica id range.offset + c and the run's step.
  RbmReplicas(const Rbm<Space>& m, const ChainRange& range, std::uint32_t seed)
      : model_(m),
        range_(range),
        seed_(seed),
        v_("zeta::RbmReplicas::visible", range.count, m.visible()),
        h_("zeta::RbmReplicas::hidden", range.count, m.hidden()),
        beta_("zeta::RbmReplicas::beta", range.count),
        E_("zeta::RbmReplicas::energy", range.count),
        sweeps_("zeta::RbmReplicas::sweeps", range.count) {
    Kokkos::deep_copy(beta_, Real(1));
    model_.initialize_visible(v_, seed, range.offset);
    model_.energy(v_, h_, E_);
  }

  const Rbm<Space>& model() const { return model_; }
  int observables() const { return 1; }
  int state_size() const { return model_.visible(); }
  double moves_per_step() const { return 1.0; }

  void set_betas(const std::vector<double>& b) {
    auto h = Kokkos::create_mirror_view(beta_);
    for (std::size_t c = 0; c < b.size(); ++c) h(c) = Real(b[c]);
    Kokkos::deep_copy(beta_, h);
  }
  void step(std::int64_t t) {
    // The field (v S) W of v from the last energy() (load() tells the model it wrote v).
    model_.gibbs_step(v_, h_, PerChain<Space>(beta_), seed_, range_.offset, t, true);
    model_.energy(v_, h_, E_);
    const auto n = sweeps_;
    Kokkos::parallel_for(
        "zeta::RbmReplicas::count", RangePolicy<Space>(0, range_.count), KOKKOS_LAMBDA(const int c) { n(c) += 1; });
  }
  //! E(v, h) per local replica.
  void observe(std::vector<double>& out) const {
    auto e = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), E_);
    out.assign(e.data(), e.data() + e.size());
  }
  //! The local visible states on the host.
  auto host_states() const { return Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v_); }
  std::int64_t accepted() const { return sum_counts<Space>(sweeps_); }
  const Vector<Space>& energies() const { return E_; }

  //! v, h and E per local replica (E so that a restart need not recompute it) and sweep counts.
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
  Rbm<Space> model_;
  ChainRange range_;
  std::uint32_t seed_;
  Matrix<Space> v_, h_;
  Vector<Space> beta_, E_;
  Counts<Space> sweeps_;
};

}  // namespace zeta
