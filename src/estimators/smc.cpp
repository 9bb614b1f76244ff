#include "zeta/estimators/smc.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "zeta/core/error.hpp"
#include "zeta/estimators/ais_stats.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/rng/philox.hpp"

namespace zeta::estimators {

void declare_smc_keys(Config& cfg) {
  cfg.declare("ais.method", "ais",
              "ais (annealed importance sampling on the fixed ais.schedule) | smc (adaptive sequential Monte "
              "Carlo: the next beta by bisection on the conditional ESS, systematic resampling)");
  cfg.declare("ais.target_ess", "0.99",
              "smc: the conditional ESS of each step's incremental weights, as a fraction of ais.chains, in (0, 1) "
              "(closer to 1: more, smaller steps)");
  cfg.declare("ais.resample_threshold", "0.5",
              "smc: resample (systematic) when the ESS falls below this fraction of ais.chains, in (0, 1]");
  cfg.declare("ais.replicates", "1",
              "smc: independent runs (distinct RNG streams); log_z is their mean (ais.replicate_mean)");
  cfg.declare("ais.replicate_mean", "log_z",
              "smc: log_z (the mean of the replicates' ln Z, biased by -var/2 of one replicate's ln Z) | z (the ln "
              "of the mean of their Z, each unbiased: biased by -var/(2M); its error by the delta method)");
  cfg.declare("ais.error", "auto",
              "smc: auto (replicates when ais.replicates >= 2, else lineage) | replicates (the spread of the "
              "replicates / sqrt(M); needs ais.replicates >= 2) | lineage (each run's lineage estimate, combined)");
  cfg.declare("ais.max_steps", "100000", "smc: the most steps one run may take before it is stopped with an error");
  cfg.declare("ais.pilot", "true",
              "smc: choose the beta schedule adaptively in a pilot run (its own RNG stream, not in log_z) and run "
              "the replicates on it: a schedule chosen from the particles that estimate ln Z biases it by O(1/chains) "
              "per step; false = each replicate adapts its own schedule (biased low)");
}

std::string read_ais_method(const Config& cfg) { return cfg.get_choice("ais.method", {"ais", "smc"}); }

SmcSpec read_smc_spec(const Config& cfg) {
  SmcSpec s;
  s.beta = cfg.get_positive("ais.beta");
  s.chains = cfg.get_int_at_least("ais.chains", 2);
  if (s.chains > (std::int64_t(1) << 40)) config_error("ais.chains", "is impossibly large");
  s.sweeps = static_cast<int>(cfg.get_int_at_least("ais.sweeps", 1));
  s.target_ess = cfg.get_double("ais.target_ess");
  if (!(s.target_ess > 0 && s.target_ess < 1))
    config_error("ais.target_ess", "must lie in (0, 1) (a fraction of ais.chains), got " +
                                       cfg.get_string("ais.target_ess"));
  s.resample_threshold = cfg.get_double("ais.resample_threshold");
  if (!(s.resample_threshold > 0 && s.resample_threshold <= 1))
    config_error("ais.resample_threshold", "must lie in (0, 1] (a fraction of ais.chains), got " +
                                               cfg.get_string("ais.resample_threshold"));
  const std::int64_t m = cfg.get_int_at_least("ais.replicates", 1);
  if (m > 100000) config_error("ais.replicates", "is impossibly large");
  s.replicates = static_cast<int>(m);
  const std::string err = cfg.get_choice("ais.error", {"auto", "replicates", "lineage"});
  if (err == "replicates" && s.replicates < 2)
    config_error("ais.replicates", "must be at least 2 for ais.error = replicates (the spread of the replicates)");
  s.replicate_error = err == "replicates" || (err == "auto" && s.replicates >= 2);
  s.log_mean_z = cfg.get_choice("ais.replicate_mean", {"log_z", "z"}) == "z";
  s.max_steps = cfg.get_int_at_least("ais.max_steps", 1);
  s.pilot = cfg.get_bool("ais.pilot");
  s.base_mean = cfg.get_double("ais.base_mean");
  s.base_scale = cfg.get_positive("ais.base_scale");
  for (const char* key : {"ais.steps", "ais.schedule", "ais.betas", "ais.reverse", "ais.reverse_burn_in"})
    if (cfg.differs_from_default(key))
      config_error(key, "applies to ais.method = ais only (smc chooses its own schedule and has no reverse pass)");
  return s;
}

namespace smc_detail {

namespace {
//! Conditional ESS / N of increments dw for normalised log-weights lw.
double cess(const std::vector<double>& lw, const std::vector<double>& dw) {
  double mx = -INFINITY;
  for (double d : dw) mx = std::max(mx, d);
  double s1 = 0, s2 = 0;
  for (std::size_t i = 0; i < lw.size(); ++i) {
    const double v = std::exp(dw[i] - mx), W = std::exp(lw[i]);
    s1 += W * v;
    s2 += W * v * v;
  }
  return s2 > 0 ? s1 * s1 / s2 : 0.0;
}
}  // namespace

Next next_step(const std::vector<double>& lw, double a, const Increments& dw, double target) {
  Next n;
  dw(1.0, n.dw);
  n.cess = cess(lw, n.dw);
  if (n.cess >= target) return n;
  double lo = a, hi = 1;
  std::vector<double> d;
  for (int it = 0; it < 100; ++it) {
    const double mid = 0.5 * (lo + hi);
    if (!(mid > lo && mid < hi)) break;  // the interval is one ulp wide
    dw(mid, d);
    if (cess(lw, d) >= target) lo = mid;
    else hi = mid;
  }
  n.a = lo > a ? lo : hi;  // at least one ulp of progress
  dw(n.a, n.dw);
  n.cess = cess(lw, n.dw);
  return n;
}

Next fixed_step(const std::vector<double>& lw, double to, const Increments& dw) {
  Next n;
  n.a = to;
  dw(to, n.dw);
  n.cess = cess(lw, n.dw);
  return n;
}

double reweight(std::vector<double>& lw, const std::vector<double>& dw) {
  double mx = -INFINITY;
  for (std::size_t i = 0; i < lw.size(); ++i) mx = std::max(mx, lw[i] + dw[i]);
  double s = 0;
  for (std::size_t i = 0; i < lw.size(); ++i) s += std::exp(lw[i] + dw[i] - mx);
  const double inc = mx + std::log(s);
  for (std::size_t i = 0; i < lw.size(); ++i) lw[i] += dw[i] - inc;
  return inc;
}

double ess_fraction(const std::vector<double>& lw) {
  double s2 = 0;
  for (double w : lw) s2 += std::exp(2 * w);
  return 1.0 / (double(lw.size()) * s2);
}

std::vector<std::int64_t> systematic(const std::vector<double>& lw, double u) {
  const std::int64_t N = std::int64_t(lw.size());
  std::vector<std::int64_t> anc(N);
  double cum = std::exp(lw[0]);
  std::int64_t i = 0;
  for (std::int64_t j = 0; j < N; ++j) {
    const double p = (double(j) + u) / double(N);
    while (cum < p && i < N - 1) cum += std::exp(lw[++i]);
    anc[j] = i;
  }
  return anc;
}

double resample_uniform(std::uint32_t seed, int replicate, std::int64_t step) {
  return rng::Stream(seed, std::uint64_t(replicate), std::uint64_t(step), rng::kResample).uniform();
}

double lineage_variance(const std::vector<double>& lw, const std::vector<std::int64_t>& eve,
                        std::int64_t resamplings) {
  const std::size_t N = lw.size();
  std::vector<double> by_eve(N, 0.0);
  for (std::size_t i = 0; i < N; ++i) by_eve[eve[i]] += std::exp(lw[i]);
  double s = 0;
  for (double w : by_eve) s += w * w;
  const double f = std::pow(double(N) / double(N - 1), double(resamplings + 1));
  return std::max(0.0, 1 - f * (1 - s));
}

void check_finite(const std::vector<double>& dw, std::int64_t step) {
  for (double v : dw)
    if (!std::isfinite(v)) samplers::diverged_error(step > 0 ? step - 1 : 0, step, "SMC step");
}

}  // namespace smc_detail

SmcEstimate combine(const std::vector<SmcRun>& runs, const SmcSpec& s) {
  SmcEstimate e;
  const double M = double(runs.size());
  double sum = 0, var_sum = 0;
  e.ess = INFINITY;
  e.min_eves = runs.empty() ? 0 : runs[0].eves;
  for (const auto& r : runs) {
    e.log_z_replicates.push_back(r.log_z);
    e.log_z_stderr_replicates.push_back(r.log_z_stderr);
    sum += r.log_z;
    var_sum += r.log_z_stderr * r.log_z_stderr;
    e.steps += std::int64_t(r.steps.size());
    e.resamplings += r.resamplings;
    e.min_eves = std::min(e.min_eves, r.eves);
    e.ess = std::min(e.ess, r.final_ess);
  }
  e.log_z = sum / M;
  if (s.log_mean_z && !runs.empty()) {
    // ln((1/M) Σ Z_r) from z_r = Z_r / Z_max; the error from the spread of z_r / z̄ (delta method).
    double top = -INFINITY;
    for (const auto& r : runs) top = std::max(top, r.log_z);
    double zs = 0;
    for (const auto& r : runs) zs += std::exp(r.log_z - top);
    const double zbar = zs / M;
    e.log_z = top + std::log(zbar);
    if (s.replicate_error) {
      double v = 0;
      for (const auto& r : runs) v += (std::exp(r.log_z - top) / zbar - 1) * (std::exp(r.log_z - top) / zbar - 1);
      e.log_z_stderr = std::sqrt(v / (M - 1) / M);
    } else {
      double v = 0;  // each lineage SE is a relative error of its Z_r
      for (const auto& r : runs) v += std::pow(std::exp(r.log_z - top) / zbar * r.log_z_stderr, 2);
      e.log_z_stderr = std::sqrt(v) / M;
    }
  } else if (s.replicate_error) {
    double v = 0;
    for (const auto& r : runs) v += (r.log_z - e.log_z) * (r.log_z - e.log_z);
    e.log_z_stderr = std::sqrt(v / (M - 1) / M);
  } else {
    e.log_z_stderr = std::sqrt(var_sum) / M;
  }
  return e;
}

std::vector<std::string> smc_notes(const SmcEstimate& e, const SmcSpec& s) {
  std::vector<std::string> out;
  if (!s.replicate_error) {
    char buf[400];
    std::snprintf(buf, sizeof buf,
                  "warning: one SMC run's error %.3g comes from the particles' lineages (%lld of %lld initial "
                  "particles left): an approximation that came out 1.2-1.7x too small in tests; use "
                  "ais.replicates >= 8 for an error from the spread of independent runs",
                  e.log_z_stderr, static_cast<long long>(e.min_eves), static_cast<long long>(s.chains));
    out.emplace_back(buf);
  }
  return out;
}

void write_smc(io::OutputFile& out, const SmcSpec& s, const std::vector<SmcRun>& runs, const SmcEstimate& e) {
  std::vector<double> rep, beta, cess, ess, res, acc, inc;
  for (std::size_t k = 0; k < runs.size(); ++k)
    for (const auto& st : runs[k].steps) {
      rep.push_back(double(k));
      beta.push_back(st.a * s.beta);
      cess.push_back(st.cess);
      ess.push_back(st.ess);
      res.push_back(st.resampled ? 1.0 : 0.0);
      acc.push_back(st.acceptance);
      inc.push_back(st.log_z_increment);
    }
  const std::vector<hsize_t> S{hsize_t(rep.size())}, M{hsize_t(runs.size())};
  const std::vector<std::string> ax{"step"};
  auto put = [&](const std::string& name, const std::vector<double>& v, const std::vector<hsize_t>& dims,
                 const std::string& units, const std::string& what, const std::vector<std::string>& axes) {
    out.write_root_double(name, dims, v.data());
    out.describe(name, units, what, axes);
  };
  put("/smc/replicate", rep, S, "1", "the replicate each step belongs to (steps of all replicates in turn)", ax);
  put("/smc/betas", beta, S, "1", "inverse temperature reached at the step (beta = a * ais.beta)", ax);
  put("/smc/conditional_ess", cess, S, "1", "conditional ESS of the step's incremental weights / ais.chains", ax);
  put("/smc/ess", ess, S, "1", "ESS of the accumulated weights after the step, before resampling / ais.chains", ax);
  put("/smc/resampled", res, S, "1", "1 where the particles were resampled (systematic) after the step", ax);
  put("/smc/acceptance", acc, S, "1",
      "acceptance of the MCMC moves after the step (spin flips per site for lattices; NaN after the last step)", ax);
  put("/smc/log_z_increment", inc, S, "nat", "ln Z increment of the step: ln sum_i W_i f_new(x_i) / f_old(x_i)", ax);
  put("/smc/log_z", e.log_z_replicates, M, "nat", "ln Z of each replicate", {"replicate"});
  put("/smc/log_z_stderr", e.log_z_stderr_replicates, M, "nat",
      "each replicate's lineage standard error of ln Z (Lee & Whiteley)", {"replicate"});
}

}  // namespace zeta::estimators
