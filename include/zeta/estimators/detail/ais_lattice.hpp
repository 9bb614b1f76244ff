//! AIS on a lattice model as an annealable system (estimators/ais.hpp): the
//! intermediate distributions f_t = exp(−β_t E), β_0 = 0 (uniform spins, ln Z_0 = N ln 2),
//! moved by LatticeSystem's Metropolis or heat-bath sweeps at β_t.
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
  LatticePath(const models::Ising<Space>& model, models::SpinMove move, double beta, std::uint32_t seed,
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

 private:
  models::Ising<Space> model_;
  models::SpinMove move_;
  double beta_;
  std::uint32_t seed_;
  parallel::ChainRange range_;
  std::vector<double> b_;
  std::optional<samplers::LatticeSystem<Space>> sys_;
};

}  // namespace zeta::estimators::detail
