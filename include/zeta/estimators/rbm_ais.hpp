//! AIS for RBMs on Salakhutdinov & Murray's (2008) base-rate path: exact draws
//! from the base-rate model, then for each a_{i−1} → a_i of the schedule the
//! weight increment G_{a_{i−1}}(v) − G_{a_i}(v) and `sweeps` Gibbs sweeps that
//! leave f_{a_i} invariant (RbmAis). With `reverse`, chains equilibrated at the
//! target by `reverse_burn_in` Gibbs sweeps are annealed back to the base for
//! the stochastic upper bound. Chains are this rank's `range` of the global
//! chains; every draw is keyed by the global chain id, so any rank count gives
//! the same weights.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "zeta/estimators/detail/rbm_ais_path.hpp"
#include "zeta/models/rbm.hpp"
#include "zeta/parallel/comm.hpp"

namespace zeta {

struct RbmAisRun {
  std::vector<double> log_w;      //!< forward log-weights of the local chains
  std::vector<double> log_w_rev;  //!< reverse log-weights (with `reverse`)
  double base_log_z = 0;          //!< ln Z_0 of the base-rate model (times 2^nh)
  std::int64_t sweeps_done = 0;   //!< Gibbs sweeps per chain
};

//! `a`: the schedule a_0 = 0 … a_T = 1 (of the target β). `on_stage(i)` after stage i (progress).
template <class Space>
RbmAisRun rbm_ais(const Rbm<Space>& rbm, const std::vector<double>& base_bias, const std::vector<double>& a,
                  double beta, int sweeps, bool reverse, std::int64_t reverse_burn_in, std::uint32_t seed,
                  const ChainRange& range, const std::function<void(std::int64_t)>& on_stage = {}) {
  estimators::detail::RbmAis<Space> path(rbm, base_bias, beta);
  const std::int64_t T = std::int64_t(a.size()) - 1;
  Matrix<Space> v("zeta::rbm_ais::v", range.count, rbm.visible());
  Matrix<Space> h("zeta::rbm_ais::h", range.count, rbm.hidden());
  std::int64_t step = 0;
  // Stage i: forward a_{i−1} → a_i, reverse a_{T−i+1} → a_{T−i}; then moves at the new a.
  auto anneal = [&](bool forward, const Accum<Space>& w) {
    for (std::int64_t i = 1; i <= T; ++i) {
      const double from = forward ? a[i - 1] : a[T - i + 1], to = forward ? a[i] : a[T - i];
      path.log_weight_increment(v, from, to, w);
      for (int s = 0; s < sweeps; ++s) path.gibbs_step(v, h, to, seed, range.offset, ++step, s == 0);
      if (forward && on_stage) on_stage(i);
    }
  };
  RbmAisRun r;
  r.base_log_z = path.base_log_z();
  {
    Accum<Space> w("zeta::rbm_ais::log_w", range.count);
    path.sample_base(v, seed, range.offset, ++step);
    anneal(true, w);
    r.log_w = host_copy(w);
  }
  if (reverse) {
    Accum<Space> w("zeta::rbm_ais::log_w_rev", range.count);
    path.sample_base(v, seed, range.offset, ++step);
    for (std::int64_t j = 0; j < reverse_burn_in; ++j) path.gibbs_step(v, h, 1.0, seed, range.offset, ++step);
    anneal(false, w);
    r.log_w_rev = host_copy(w);
  }
  r.sweeps_done = step;
  return r;
}

}  // namespace zeta
