//! Annealed importance sampling, one interface for every model kind: from a base
//! with known ln Z_0 along the schedule a_0 = 0 … a_T = 1 to the target at ais.beta.
//! Chains are this rank's range of the global chains; each carries a log-weight
//! Σ_t [log f_t(x_{t−1}) − log f_{t−1}(x_{t−1})] and moves with `sweeps` moves of an
//! invariant kernel of f_t. ln Z = ln Z_0 + log mean exp(log w), reduced in global
//! chain order (estimate), so the result does not depend on the rank count. With
//! `reverse`, chains equilibrated at the target by `reverse_burn_in` moves are
//! annealed back to the base: an upper bound in expectation, so the two bracket ln Z in
//! expectation (bidirectional Monte Carlo); one run's pair may cross, within its errors.
//!
//! The paths (detail/): lattice models (Ising) from β = 0 with Metropolis or
//! heat-bath sweeps; continuous models from a Gaussian base with the configured
//! sampler; RBMs on Salakhutdinov & Murray's base-rate path with Gibbs sweeps.
//! run_ais builds the path and calls anneal, the one loop; a new kind of model
//! needs only a path with this interface (the "annealable system"):
//!   using space;  std::int64_t local() const;  double base_log_z() const;
//!   void start(std::int64_t& step);                      // exact base draws
//!   void start_reverse(std::int64_t& step, std::int64_t burn_in);  // equilibrated target states
//!   void advance(double from, double to, const Accum<space>& w);   // w += ln f_to − ln f_from; `to` current
//!   void move(std::int64_t step, bool first_after_advance);
//!   bool diverged() const;                               // local: samplers/divergence.hpp
//! Every draw is keyed by (seed, global chain id, step), the step counting every
//! move (and, for RBMs, every base draw) of the run.
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "zeta/core/config.hpp"
#include "zeta/core/types.hpp"
#include "zeta/estimators/detail/ais_continuous.hpp"
#include "zeta/estimators/detail/ais_lattice.hpp"
#include "zeta/estimators/detail/rbm_ais_path.hpp"
#include "zeta/models/ising.hpp"
#include "zeta/models/rbm.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/samplers/samplers.hpp"

namespace zeta::io {
class OutputFile;
}

namespace zeta::estimators {

struct AisSpec {
  double beta = 1;        //!< the target's inverse temperature
  std::vector<double> a;  //!< a_0 = 0 … a_T = 1 (β_t = a_t β)
  std::int64_t chains = 256;
  int sweeps = 1;         //!< moves at each intermediate distribution
  bool reverse = false;
  std::int64_t reverse_burn_in = 0;
  double base_mean = 0, base_scale = 1;  //!< continuous models: the Gaussian base
};

//! The [ais] keys (beta, steps, chains, schedule, betas, sweeps, reverse, reverse_burn_in,
//! base_mean, base_scale, exact).
void declare_ais_keys(Config& cfg);
//! Reads and checks [ais]; the schedule: linear, geometric, sigmoid or an explicit list.
AisSpec read_ais_spec(const Config& cfg);

struct AisRun {
  std::vector<double> log_w;      //!< forward log-weights of the local chains
  std::vector<double> log_w_rev;  //!< reverse log-weights (with `reverse`)
  bool reverse = false;
  double base_log_z = 0;          //!< ln Z_0
  std::int64_t moves = 0;         //!< steps of the counter per chain
  //! The first checked stage (counted over both passes, every 16th and each pass's last)
  //! at which a local chain or weight had diverged (samplers/divergence.hpp); −1: none.
  //! The chains stop there; estimate() turns it into an error on every rank.
  std::int64_t diverged_at = -1;
  std::int64_t sound_at = 0;  //!< the last checked stage found sound
};

//! Called after forward stage i and reverse stage i as T + i (progress over both passes).
using StageHook = std::function<void(std::int64_t)>;

struct AisEstimate {
  double log_z = 0, log_z_stderr = 0, ess = 0, log_weight_var = 0;
  std::int64_t chains = 0;
  //! ess < min_trusted_ess(chains) (ais_stats.hpp): log_z_stderr cannot be trusted.
  bool low_ess = false;
  //! reverse: the reverse estimate ln Z_0 − log mean exp(w_rev), an upper bound on ln Z
  //! in expectation only (log_z, the forward one, a lower bound in expectation), and
  //! (reverse − forward) / √(SE_f² + SE_r²): a single run can put them either way round.
  double log_z_reverse = NAN, log_z_reverse_stderr = NAN, reverse_minus_forward_sigma = NAN;
};

//! The stderr lines (without "zeta: ") that an estimate calls for: the low-ESS warning,
//! and with reverse whether forward and reverse agree within their errors.
std::vector<std::string> ais_notes(const AisEstimate& e);

//! Collective: the log-mean-exp statistics of all ranks' weights, in global chain order.
//! Throws the error naming sampler.step_size (the same on every rank) when any rank's
//! chains diverged.
AisEstimate estimate(const AisRun& run, const parallel::ChainRange& range, const parallel::Comm& comm);

//! Collective: the ◆ /ais datasets of `out`: betas [T + 1] (a_t β), log_weights [chains] and,
//! with reverse, reverse_log_weights [chains], each rank writing its range.
void write_ais(io::OutputFile& out, const AisSpec& as, const AisRun& run, const parallel::ChainRange& range,
               const parallel::Comm& comm);

//! Stage i = 1 … T of the schedule, forward (a_{i−1} → a_i) or reverse (a_{T−i+1} → a_{T−i}).
struct Stage {
  std::int64_t from, to;
};
inline Stage stage(std::int64_t i, std::int64_t T, bool forward) {
  return forward ? Stage{i - 1, i} : Stage{T - i + 1, T - i};
}

//! The AIS loop over any annealable system (see the top of this file).
template <class Path>
AisRun anneal(Path& path, const AisSpec& as, const StageHook& on_stage = {}) {
  using Space = typename Path::space;
  const std::int64_t T = std::int64_t(as.a.size()) - 1;
  std::int64_t step = 0, checked = 0;  // checked: stages over both passes
  AisRun r;
  auto run = [&](bool forward, const Accum<Space>& w) {
    for (std::int64_t i = 1; i <= T && r.diverged_at < 0; ++i) {
      const Stage st = stage(i, T, forward);
      path.advance(as.a[st.from], as.a[st.to], w);
      for (int j = 0; j < as.sweeps; ++j) path.move(++step, j == 0);
      if (on_stage) on_stage(forward ? i : T + i);
      if (++checked % 16 == 0 && i < T) {
        if (path.diverged()) r.diverged_at = checked;
        else r.sound_at = checked;
      }
    }
  };
  // A pass's end: its states, and its weights (a NaN energy on the way stays in them).
  auto weights_diverged = [&](const std::vector<double>& lw) {
    if (r.diverged_at >= 0) return;
    bool bad = path.diverged();
    for (const double v : lw) bad = bad || !std::isfinite(v);
    if (bad) r.diverged_at = checked;
    else r.sound_at = checked;
  };
  r.base_log_z = path.base_log_z();
  r.reverse = as.reverse;
  {
    Accum<Space> w("zeta::Ais::log_w", path.local());
    path.start(step);
    run(true, w);
    r.log_w = host_copy(w);
    weights_diverged(r.log_w);
  }
  if (as.reverse && r.diverged_at < 0) {
    Accum<Space> w("zeta::Ais::log_w_rev", path.local());
    path.start_reverse(step, as.reverse_burn_in);
    run(false, w);
    r.log_w_rev = host_copy(w);
    weights_diverged(r.log_w_rev);
  }
  if (r.reverse && r.log_w_rev.size() != r.log_w.size()) r.log_w_rev.assign(r.log_w.size(), NAN);
  r.moves = step;
  return r;
}

//! Lattice models: from β = 0, sweeps with `move` at β_t = a_t β.
template <class Space>
AisRun run_ais(const models::Ising<Space>& model, models::SpinUpdate move, const AisSpec& as, std::uint32_t seed,
               const parallel::ChainRange& range, const StageHook& on_stage = {}) {
  detail::LatticePath<Space> path(model, move, as.beta, seed, range);
  return anneal(path, as, on_stage);
}

//! Continuous models: from the Gaussian base N(base_mean, base_scale²), moves by `smp`.
template <class Model>
AisRun run_ais(Model& model, const samplers::SamplerSpec& smp, const AisSpec& as, std::uint32_t seed,
               const parallel::ChainRange& range, const StageHook& on_stage = {}) {
  detail::ContinuousPath<Model> path(model, smp, as.base_mean, as.base_scale, as.beta, seed, range);
  return anneal(path, as, on_stage);
}

//! RBMs: from the base-rate model of visible biases `base_bias` (W = 0, c = 0), Gibbs sweeps.
template <class Space>
AisRun run_ais(const models::Rbm<Space>& rbm, const std::vector<double>& base_bias, const AisSpec& as,
               std::uint32_t seed, const parallel::ChainRange& range, const StageHook& on_stage = {}) {
  detail::RbmPath<Space> path(rbm, base_bias, as.beta, seed, range);
  return anneal(path, as, on_stage);
}

}  // namespace zeta::estimators
