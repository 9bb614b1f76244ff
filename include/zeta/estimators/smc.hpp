//! Adaptive sequential Monte Carlo (SMC) for ln Z (`zeta ais --ais.method=smc`):
//! the AIS chains become particles that carry normalised weights along the same
//! path a ∈ [0, 1] as AIS (estimators/ais.hpp), and at each step
//!   1. the next a by bisection, so that the conditional ESS of the incremental
//!      weights (Zhou, Johansen & Aston 2016), (Σ W_i v_i)² / Σ W_i v_i² with
//!      v_i = f_a'(x_i) / f_a(x_i), is `target_ess` of the particles (or a' = 1);
//!   2. ln Z += ln Σ W_i v_i and the weights W_i ∝ W_i v_i;
//!   3. systematic resampling when the ESS 1 / Σ W_i² falls below
//!      `resample_threshold` · N (never after the last step);
//!   4. `sweeps` moves of the path's invariant kernel at a' (the AIS moves: spin
//!      sweeps for Ising, Gibbs for RBMs, the [sampler] for continuous models).
//! Rank-exact: the increments and weights are all-gathered in global particle order
//! and every rank computes the same step, the same ln Z and the same resampling,
//! whose one uniform is keyed by (seed, replicate, step) (rng kResample); particle j
//! then takes ancestor A_j's state, moved between ranks only where A_j lives on
//! another rank (parallel/particles.hpp). Each particle's moves stay keyed by
//! (seed, global particle id, step) as AIS's, so 1, 2 or 4 ranks give the same bits.
//!
//! Errors: one run's standard error comes from the particles' lineages (the
//! Lee & Whiteley 2018 variance estimator, with the number of resampling events in
//! place of the number of steps as for adaptive resampling, Du & Guyader 2021):
//!   var(ln Ẑ) ≈ 1 − (N / (N − 1))^{R+1} (1 − Σ_e (Σ_{i: E_i = e} W_i)²),
//! E_i the index of particle i's ancestor at a = 0 (its "Eve") and R the resampling
//! events. Without resampling it is exactly AIS's delta-method error. When the
//! lineages have coalesced onto few Eves it is itself unreliable: `replicates`
//! independent runs (particle ids offset by r · 2^40, distinct RNG streams) give
//! ln Z as their mean and the error as their spread / √M.
//!
//! A path for SMC is an annealable system (ais.hpp) that also offers
//!   static constexpr bool linear;            // ln f_a linear in a:
//!   void slopes(std::vector<double>& u);     //   linear: d ln f_a / da per local chain
//!   void increments(double from, double to, std::vector<double>& dw);  // else: ln f_to − ln f_from
//!   int state_width() const;
//!   void save_states(std::vector<double>& rows) const;  void load_states(const std::vector<double>& rows);
//!   double accepted() const;  double moves_per_sweep() const;  // acceptance diagnostics
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
#include "zeta/parallel/comm.hpp"
#include "zeta/parallel/particles.hpp"
#include "zeta/samplers/divergence.hpp"

namespace zeta::io {
class OutputFile;
}

namespace zeta::estimators {

struct SmcSpec {
  double beta = 1;                  //!< the target's inverse temperature
  std::int64_t chains = 256;        //!< particles N over all ranks
  int sweeps = 1;                   //!< MCMC moves after each step
  double target_ess = 0.99;         //!< conditional ESS / N each step aims at (bench/README.md)
  double resample_threshold = 0.5;  //!< resample when ESS / N falls below this
  int replicates = 1;               //!< independent runs
  bool replicate_error = false;     //!< the error from the replicates' spread (else from lineages)
  bool log_mean_z = false;          //!< log_z = ln of the replicates' mean Z (else the mean of their ln Z)
  std::int64_t max_steps = 100000;  //!< the most steps of one run (the schedule stalled beyond)
  bool pilot = true;                //!< the schedule from an adaptive pilot run, the replicates on it
  double base_mean = 0, base_scale = 1;  //!< continuous models: the Gaussian base
};

//! ais.method and the SMC keys (target_ess, resample_threshold, replicates, error, max_steps).
void declare_smc_keys(Config& cfg);
//! "ais" or "smc" (ais.method).
std::string read_ais_method(const Config& cfg);
//! Reads and checks the SMC keys (and refuses the AIS-only ones given explicitly).
SmcSpec read_smc_spec(const Config& cfg);

//! One step of one run.
struct SmcStep {
  double a = 0;              //!< the distribution reached (β = a · ais.beta)
  double cess = 1;           //!< conditional ESS / N of the step's increments
  double ess = 1;            //!< ESS / N of the weights after the step (before resampling)
  bool resampled = false;
  double acceptance = NAN;   //!< of the moves after the step (NaN: none, after the last step)
  double log_z_increment = 0;
};

struct SmcRun {
  std::vector<SmcStep> steps;
  double base_log_z = 0, log_z = 0;
  double log_z_stderr = 0;       //!< from the lineages (see above)
  std::int64_t resamplings = 0;
  std::int64_t eves = 0;         //!< distinct ancestors at a = 0 of the final particles
  std::int64_t moved = 0;        //!< particle states that crossed ranks, over all resamplings
  std::int64_t moves = 0;        //!< steps of the counter per particle
  double final_ess = 0;          //!< ESS of the final weights (particles)
};

//! Called after each step with (replicate, a); a pilot run is replicate ais.replicates.
using SmcHook = std::function<void(int, double)>;

//! The combined estimate of the replicates.
struct SmcEstimate {
  double log_z = 0, log_z_stderr = 0;
  std::vector<double> log_z_replicates, log_z_stderr_replicates;
  std::int64_t steps = 0, resamplings = 0, min_eves = 0;
  double ess = 0;  //!< the smallest final ESS over the replicates
};
SmcEstimate combine(const std::vector<SmcRun>& runs, const SmcSpec& s);
//! The stderr lines (without "zeta: ") the estimate calls for.
std::vector<std::string> smc_notes(const SmcEstimate& e, const SmcSpec& s);

//! Collective: /smc/… of `out` (rank 0's values, the same on every rank).
void write_smc(io::OutputFile& out, const SmcSpec& s, const std::vector<SmcRun>& runs, const SmcEstimate& e);

namespace smc_detail {
//! Increments at a candidate next a, global and the same on every rank.
using Increments = std::function<void(double, std::vector<double>&)>;
struct Next {
  double a = 1, cess = 1;
  std::vector<double> dw;
};
//! The next a in (a, 1] whose conditional ESS / N is `target` (bisection), or 1.
Next next_step(const std::vector<double>& lw, double a, const Increments& dw, double target);
//! The step to a given `to`, with its conditional ESS.
Next fixed_step(const std::vector<double>& lw, double to, const Increments& dw);
//! lw += dw, renormalised; returns ln Σ_i W_i e^{dw_i} (lw: normalised log-weights).
double reweight(std::vector<double>& lw, const std::vector<double>& dw);
//! 1 / (N Σ W²).
double ess_fraction(const std::vector<double>& lw);
//! Systematic resampling from the uniform u ∈ (0, 1): ancestors in global order.
std::vector<std::int64_t> systematic(const std::vector<double>& lw, double u);
//! The uniform of resampling `step` of `replicate`: (seed, replicate, step, kResample).
double resample_uniform(std::uint32_t seed, int replicate, std::int64_t step);
//! Lee & Whiteley's lineage variance of ln Ẑ (see above), ≥ 0.
double lineage_variance(const std::vector<double>& lw, const std::vector<std::int64_t>& eve, std::int64_t resamplings);
//! Throws the SMC divergence error (naming sampler.step_size) for non-finite increments.
void check_finite(const std::vector<double>& dw, std::int64_t step);
}  // namespace smc_detail

//! The SMC loop of one replicate over any SMC path (see the top of this file). Collective.
//! `schedule`: the a_1 < … < a_T = 1 to step through (a pilot's), or empty: adaptive.
template <class Path>
SmcRun smc(Path& path, const SmcSpec& s, std::uint32_t seed, int replicate, const parallel::ChainRange& range,
           const parallel::Comm& comm, const std::vector<double>& schedule, const SmcHook& on_step = {}) {
  using Space = typename Path::space;
  namespace sd = smc_detail;
  const std::int64_t N = range.global;
  SmcRun r;
  r.base_log_z = path.base_log_z();
  r.log_z = r.base_log_z;
  std::int64_t step = 0;
  path.start(step);
  std::vector<double> lw(N, -std::log(double(N)));
  std::vector<std::int64_t> eve(N);
  for (std::int64_t i = 0; i < N; ++i) eve[i] = i;
  std::vector<double> local, u, rows;
  Accum<Space> scratch("zeta::Smc::scratch", range.count);
  double a = 0;
  while (a < 1) {
    if (std::int64_t(r.steps.size()) >= s.max_steps && schedule.empty())
      config_error("ais.max_steps", "SMC took " + std::to_string(s.max_steps) + " steps and reached only beta = " +
                                        std::to_string(a * s.beta) + " (raise it, or lower ais.target_ess)");
    sd::Increments dw;
    if constexpr (Path::linear) {
      path.slopes(local);
      u = comm.allgather_chain_rows(local, 1, range);
      sd::check_finite(u, std::int64_t(r.steps.size()));
      dw = [&](double to, std::vector<double>& out) {
        out.resize(u.size());
        for (std::size_t i = 0; i < u.size(); ++i) out[i] = (to - a) * u[i];
      };
    } else {
      dw = [&](double to, std::vector<double>& out) {
        path.increments(a, to, local);
        out = comm.allgather_chain_rows(local, 1, range);
        sd::check_finite(out, std::int64_t(r.steps.size()));
      };
    }
    const std::size_t t = r.steps.size();
    const sd::Next nx = schedule.empty() ? sd::next_step(lw, a, dw, s.target_ess) : sd::fixed_step(lw, schedule[t], dw);
    SmcStep st;
    st.a = nx.a;
    st.cess = nx.cess;
    st.log_z_increment = sd::reweight(lw, nx.dw);
    r.log_z += st.log_z_increment;
    st.ess = sd::ess_fraction(lw);
    path.advance(a, nx.a, scratch);
    a = nx.a;
    if (a < 1 && st.ess < s.resample_threshold) {
      const auto anc = sd::systematic(lw, sd::resample_uniform(seed, replicate, std::int64_t(t)));
      path.save_states(rows);
      std::int64_t moved = 0;
      rows = parallel::resample_rows(comm, range, anc, rows, path.state_width(), &moved);
      path.load_states(rows);
      std::vector<std::int64_t> e2(N);
      for (std::int64_t i = 0; i < N; ++i) e2[i] = eve[anc[i]];
      eve.swap(e2);
      lw.assign(N, -std::log(double(N)));
      st.resampled = true;
      ++r.resamplings;
      r.moved += moved;
    }
    if (a < 1) {
      const double before = path.accepted();
      for (int j = 0; j < s.sweeps; ++j) path.move(++step, false);
      const std::int64_t acc = comm.sum(std::int64_t(path.accepted() - before));
      st.acceptance = double(acc) / (double(N) * s.sweeps * path.moves_per_sweep());
    }
    r.steps.push_back(st);
    if (on_step) on_step(replicate, a);
  }
  r.final_ess = sd::ess_fraction(lw) * double(N);
  r.log_z_stderr = std::sqrt(sd::lineage_variance(lw, eve, r.resamplings));
  std::vector<char> seen(N, 0);
  for (const auto e : eve) r.eves += seen[e] ? 0 : (seen[e] = 1);
  r.moves = step;
  return r;
}

//! The a_t a run stepped through (a pilot's schedule for the replicates).
inline std::vector<double> schedule_of(const SmcRun& run) {
  std::vector<double> a;
  for (const auto& st : run.steps) a.push_back(st.a);
  return a;
}

//! Particle ids of replicate r: offset by r · 2^40 (ais.chains ≤ 2^40), distinct RNG streams.
inline parallel::ChainRange replicate_range(const parallel::ChainRange& range, int replicate) {
  parallel::ChainRange k = range;
  k.offset += std::int64_t(replicate) << 40;
  return k;
}

//! Lattice models: from β = 0, spin sweeps `move` at β = a ais.beta.
template <class Space>
SmcRun run_smc(const models::Ising<Space>& model, models::SpinUpdate move, const SmcSpec& s, std::uint32_t seed,
               int replicate, const parallel::ChainRange& range, const parallel::Comm& comm,
               const std::vector<double>& schedule = {}, const SmcHook& on_step = {}) {
  detail::LatticePath<Space> path(model, move, s.beta, seed, replicate_range(range, replicate));
  return smc(path, s, seed, replicate, range, comm, schedule, on_step);
}

//! Continuous models: from the Gaussian base, moves by `smp`.
template <class Model>
SmcRun run_smc(Model& model, const samplers::SamplerSpec& smp, const SmcSpec& s, std::uint32_t seed, int replicate,
               const parallel::ChainRange& range, const parallel::Comm& comm,
               const std::vector<double>& schedule = {}, const SmcHook& on_step = {}) {
  detail::ContinuousPath<Model> path(model, smp, s.base_mean, s.base_scale, s.beta, seed,
                                     replicate_range(range, replicate));
  return smc(path, s, seed, replicate, range, comm, schedule, on_step);
}

//! RBMs: the base-rate path, Gibbs sweeps.
template <class Space>
SmcRun run_smc(const models::Rbm<Space>& rbm, const std::vector<double>& base_bias, const SmcSpec& s,
               std::uint32_t seed, int replicate, const parallel::ChainRange& range, const parallel::Comm& comm,
               const std::vector<double>& schedule = {}, const SmcHook& on_step = {}) {
  detail::RbmPath<Space> path(rbm, base_bias, s.beta, seed, replicate_range(range, replicate));
  return smc(path, s, seed, replicate, range, comm, schedule, on_step);
}

}  // namespace zeta::estimators
