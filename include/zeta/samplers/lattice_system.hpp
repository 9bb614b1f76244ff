//! Replicas of a lattice model (Ising) swept by checkerboard Metropolis or heat-bath,
//! or moved by Swendsen–Wang or Wolff cluster updates, with a β per replica: the
//! chain system of lattice models.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "zeta/core/error.hpp"
#include "zeta/models/ising.hpp"
#include "zeta/samplers/samplers.hpp"

namespace zeta::samplers {

//! A cluster move with the sampler's heat-bath window below sampler.cluster_from.
inline models::SpinUpdate with_window(models::SpinUpdate u, const SamplerSpec& s) {
  u.cluster_from = s.cluster_from;
  u.hot_sweeps = s.hot_sweeps;
  return u;
}

//! The lattice move a [sampler] section asks for (checked by check_sampler_for_model).
inline models::SpinUpdate spin_move(const SamplerSpec& s) {
  switch (s.type) {
    case SamplerType::heatbath: return models::SpinMove::heatbath;
    case SamplerType::swendsen_wang: return with_window(models::SpinMove::swendsen_wang, s);
    case SamplerType::wolff: return with_window({models::SpinMove::wolff, s.clusters}, s);
    default: return models::SpinMove::metropolis;
  }
}

//! The chain-system concept (samplers/system.hpp) for the Ising model: a state is L×L spins.
template <class Space>
class LatticeSystem {
 public:
  using Model = models::Ising<Space>;
  using space = Space;
  static constexpr bool lattice = true;

  //! Spins from Ising::initialize (keyed by the global replica id), their E and M; β = beta0.
  LatticeSystem(const Model& m, models::SpinUpdate move, const parallel::ChainRange& range, std::uint32_t seed,
                double beta0 = 1)
      : model_(m),
        move_(move.move),
        clusters_(move.clusters),
        hybrid_(models::cluster_move(move.move) && move.cluster_from > 0),
        cluster_from_(move.cluster_from),
        hot_sweeps_(move.hot_sweeps),
        range_(range),
        seed_(seed),
        s_("zeta::Ising::spins", range.count, m.sites()),
        thr_("zeta::Ising::thresholds", range.count),
        flips_("zeta::Ising::flips", range.count),
        E_("zeta::Ising::energy", range.count),
        M_("zeta::Ising::magnetization", range.count),
        sums_("zeta::Ising::sums", range.count) {
    if (models::cluster_move(move_)) {
      // Wolff's bond words of cluster c start at block c·sites/2, below the seed blocks at 2³¹.
      if (move_ == models::SpinMove::wolff && double(clusters_) * (m.sites() / 2) >= 2147483648.0)
        config_error("sampler.clusters", "too many clusters per step for L = " + std::to_string(m.L()) + " (at most " +
                                             std::to_string((1u << 31) / (m.sites() / 2) - 1) + ")");
      labels_ = typename Model::Labels("zeta::Ising::cluster_labels", range.count, m.sites());
      work_ = typename Model::Labels("zeta::Ising::cluster_work", range.count, m.sites());
      beta_ = typename Model::Betas("zeta::Ising::beta", range.count);
      host_beta_ = Kokkos::create_mirror_view(beta_);
    }
    model_.initialize(s_, range.offset, seed);
    model_.measure(s_, E_, M_);
    set_beta(beta0);
  }

  std::string name() const { return "ising"; }
  int local() const { return static_cast<int>(range_.count); }

  const Model& model() const { return model_; }
  int observables() const { return 2; }  //!< energy, magnetisation
  int state_size() const { return model_.sites(); }
  int saved_row() const { return model_.sites(); }
  double moves_per_step() const { return double(model_.sites()); }

  void set_beta(double b) { set_betas(std::vector<double>(range_.count, b)); }
  //! Rewrites only the threshold rows of replicas whose β changed (an exchange
  //! round moves a few labels), from rows computed once per distinct β; the
  //! cache is bounded, since an annealing schedule visits each β only once.
  void set_betas(const std::vector<double>& b) {
    if (models::cluster_move(move_)) {  // the kernels take β itself
      bool changed = last_beta_.size() != b.size();
      last_beta_.resize(b.size(), -1.0);
      for (std::size_t c = 0; c < b.size(); ++c)
        if (b[c] != last_beta_[c]) host_beta_(c) = last_beta_[c] = b[c], changed = true;
      if (changed && host_beta_.data() != beta_.data()) Kokkos::deep_copy(beta_, host_beta_);
      if (!hybrid_) return;
      // The hybrid's side of sampler.cluster_from, one for all replicas (read_sampler_spec
      // refuses the key where replicas differ in β, as in temper).
      std::size_t hot = 0;
      for (const double x : b) hot += x < cluster_from_ ? 1 : 0;
      if (hot != 0 && hot != b.size())
        config_error("sampler.cluster_from", "needs every chain at the same beta (not temper's ladder)");
      hot_ = hot != 0;
    }
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
          Model::threshold_row(b[c], model_.J(), model_.h(), move_ == models::SpinMove::metropolis, row.data());
          it = rows_.emplace(b[c], row).first;
        }
        for (int e = 0; e < 10; ++e) host_thr_(c, e) = it->second[e];
        last_[c] = b[c];
        changed = true;
      }
    if (changed && host_thr_.data() != thr_.data()) Kokkos::deep_copy(thr_, host_thr_);  // a device copy
  }
  //! One step at key t: a sweep, a cluster move, or in a hybrid's hot window hot_sweeps
  //! heat-bath sweeps keyed t·hot_sweeps … t·hot_sweeps + hot_sweeps − 1 (distinct for distinct t).
  void step(std::int64_t t) {
    if (hot_) {
      for (int j = 0; j < hot_sweeps_; ++j)
        model_.sweep_measure(s_, thr_, models::SpinMove::heatbath, seed_, range_.offset, t * hot_sweeps_ + j, flips_,
                             sums_, E_, M_);
    } else if (models::cluster_move(move_)) {
      model_.cluster_sweep(s_, beta_, move_, clusters_, seed_, range_.offset, t, flips_, labels_, work_);
      model_.measure(s_, E_, M_);
    } else {
      model_.sweep_measure(s_, thr_, move_, seed_, range_.offset, t, flips_, sums_, E_, M_);
    }
  }
  //! [E, M] per local replica.
  void observe(std::vector<double>& out) const {
    auto e = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), E_);
    auto m = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), M_);
    out.resize(2 * range_.count);
    for (std::int64_t c = 0; c < range_.count; ++c) out[2 * c] = e(c), out[2 * c + 1] = m(c);
  }
  //! Energy of every local replica after the last step (device), and accepted flips per replica
  //! (cluster moves: the spins their flipped clusters hold).
  const Kokkos::View<double*, typename Space::memory_space>& energies() const { return E_; }
  const Counts<Space>& accepted() const { return flips_; }
  //! ±1 spins and their integer-valued energies cannot diverge.
  bool diverged() const { return false; }
  //! The local spins on the host, [local, sites].
  auto host_states() const { return Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), s_); }

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
  models::SpinMove move_;
  int clusters_;                   //!< wolff: clusters per step
  bool hybrid_;                    //!< a cluster move with heat-bath sweeps below cluster_from_
  double cluster_from_;            //!< the hybrid's β from which the cluster move runs
  int hot_sweeps_;                 //!< the hybrid's heat-bath sweeps per step below cluster_from_
  bool hot_ = false;               //!< the hybrid's replicas are below cluster_from_ now
  std::vector<double> last_beta_;  //!< cluster moves: the β each replica's beta_ holds
  parallel::ChainRange range_;
  std::uint32_t seed_;
  typename Model::Spins s_;
  typename Model::Table thr_;
  typename Model::Table::HostMirror host_thr_;
  std::vector<double> last_;  //!< the β each replica's threshold row is for
  std::unordered_map<double, std::array<std::uint32_t, 10>> rows_;
  Counts<Space> flips_;
  Kokkos::View<double*, typename Space::memory_space> E_, M_;
  typename Model::Sums sums_;             //!< sweep_measure()'s scratch
  typename Model::Labels labels_, work_;  //!< cluster moves' scratch [local, sites]
  typename Model::Betas beta_;            //!< cluster moves: β per local replica
  typename Model::Betas::HostMirror host_beta_;
};

}  // namespace zeta::samplers
