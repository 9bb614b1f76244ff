//! AIS on a lattice model as an annealable system (estimators/ais.hpp): the
//! intermediate distributions f_t = exp(−β_t E), β_0 = 0 (uniform spins, ln Z_0 = N ln 2),
//! moved by LatticeSystem's Metropolis or heat-bath sweeps or cluster moves at β_t.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include "zeta/core/types.hpp"
#include "zeta/models/ising.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/samplers/lattice_system.hpp"

namespace zeta::estimators::detail {

template <class Space>
class LatticePath {
 public:
  using space = Space;
  LatticePath(const models::Ising<Space>& model, models::SpinUpdate move, double beta, std::uint32_t seed,
              const parallel::ChainRange& range)
      : model_(model), move_(move), beta_(beta), seed_(seed), range_(range), b_(range.count) {}

  std::int64_t local() const { return range_.count; }
  double base_log_z() const { return double(model_.sites()) * std::log(2.0); }
  //! Exact samples of β = 0: freshly initialized replicas.
  void start(std::int64_t&) {
    sys_.reset();
    sys_.emplace(model_, move_, range_, seed_);
  }
  //! Fresh chains equilibrated at the target by `burn_in` sweeps.
  void start_reverse(std::int64_t& step, std::int64_t burn_in) {
    start(step);
    std::fill(b_.begin(), b_.end(), beta_);
    sys_->set_betas(b_);
    for (std::int64_t j = 0; j < burn_in; ++j) sys_->step(++step);
  }
  //! w += log f_to(x) − log f_from(x) = −(β_to − β_from) E(x); the sweeps then run at β_to.
  void advance(double from, double to, const Accum<Space>& w) {
    const double db = (to - from) * beta_;
    const auto E = sys_->energies();
    Kokkos::parallel_for(
        "zeta::Ais::weight", RangePolicy<Space>(0, w.extent(0)), KOKKOS_LAMBDA(const int c) { w(c) -= db * E(c); });
    std::fill(b_.begin(), b_.end(), to * beta_);
    sys_->set_betas(b_);
  }
  void move(std::int64_t step, bool) { sys_->step(step); }
  bool diverged() const { return false; }  //!< ±1 spins

  // The particle interface of SMC (estimators/smc.hpp).
  //! ln f_a(x) = −a β E(x) is linear in a: slopes() gives d ln f / da = −β E per local chain.
  static constexpr bool linear = true;
  void slopes(std::vector<double>& u) const {
    const auto E = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), sys_->energies());
    u.resize(range_.count);
    for (std::int64_t c = 0; c < range_.count; ++c) u[c] = -beta_ * E(c);
  }
  int state_width() const { return model_.sites(); }
  //! The local spins as ±1 doubles, [local, sites].
  void save_states(std::vector<double>& rows) const {
    std::vector<double> counts;
    sys_->save(rows, counts);
  }
  //! New spins for the local chains (their flip counts restart at 0), E and M remeasured.
  void load_states(const std::vector<double>& rows) {
    const std::vector<double> zero(range_.count, 0.0);
    sys_->load(rows.data(), zero.data());
  }
  //! Accepted spin flips of the local chains (out of state_width() per chain and sweep).
  double accepted() const {
    const auto f = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), sys_->accepted());
    double s = 0;
    for (std::size_t c = 0; c < f.extent(0); ++c) s += double(f(c));
    return s;
  }
  double moves_per_sweep() const { return double(model_.sites()); }

 private:
  models::Ising<Space> model_;
  models::SpinUpdate move_;
  double beta_;
  std::uint32_t seed_;
  parallel::ChainRange range_;
  std::vector<double> b_;
  std::optional<samplers::LatticeSystem<Space>> sys_;
};

}  // namespace zeta::estimators::detail
