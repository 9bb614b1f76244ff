#include "zeta/estimators/ais.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "zeta/core/error.hpp"
#include "zeta/estimators/ais_stats.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/samplers/divergence.hpp"

namespace zeta::estimators {

void declare_ais_keys(Config& cfg) {
  cfg.declare("ais.beta", "1", "target inverse temperature");
  cfg.declare("ais.steps", "1000",
              "number of intermediate distributions T (the last is the target); ais.method = ais only");
  cfg.declare("ais.chains", "256", "AIS chains (smc: particles) over all ranks");
  cfg.declare("ais.schedule", "linear",
              "linear | geometric | sigmoid interpolation a_t from 0 to 1 (beta_t = a_t * ais.beta), or list");
  cfg.declare("ais.betas", "", "schedule = list: increasing inverse temperatures ending at ais.beta");
  cfg.declare("ais.sweeps", "1", "MCMC moves (sweeps) at each intermediate distribution (smc: after each step)");
  cfg.declare("ais.reverse", "false",
              "also run AIS backwards from target states equilibrated by ais.reverse_burn_in moves: an upper "
              "bound on ln Z in expectation only, reported with the forward one and their difference in SE "
              "(bidirectional Monte Carlo)");
  cfg.declare("ais.reverse_burn_in", "2000", "moves at the target that equilibrate the reverse chains");
  cfg.declare("ais.base_mean", "0", "continuous models: mean of the Gaussian base");
  cfg.declare("ais.base_scale", "1", "continuous models: standard deviation of the Gaussian base");
  cfg.declare("ais.exact", "false",
              "rbm: also the exact ln Z, summed over the smaller layer (at most 30 units), as log_z_exact");
}

AisSpec read_ais_spec(const Config& cfg) {
  AisSpec s;
  s.beta = cfg.get_positive("ais.beta");
  s.chains = cfg.get_int_at_least("ais.chains", 2);
  if (s.chains > (std::int64_t(1) << 40)) config_error("ais.chains", "is impossibly large");
  s.sweeps = static_cast<int>(cfg.get_int_at_least("ais.sweeps", 1));
  s.reverse = cfg.get_bool("ais.reverse");
  s.reverse_burn_in = cfg.get_int_at_least("ais.reverse_burn_in", 1);
  s.base_mean = cfg.get_double("ais.base_mean");
  s.base_scale = cfg.get_positive("ais.base_scale");
  const std::string kind = cfg.get_choice("ais.schedule", {"linear", "geometric", "sigmoid", "list"});
  if (kind == "list") {
    const auto b = cfg.get_doubles("ais.betas");
    if (b.empty()) config_error("ais.betas", "schedule = list needs the list of betas");
    s.a.push_back(0.0);
    for (std::size_t i = 0; i < b.size(); ++i) {
      if (!(b[i] > (i ? b[i - 1] : 0.0))) config_error("ais.betas", "must be positive and strictly increasing");
      s.a.push_back(b[i] / s.beta);
    }
    if (std::fabs(b.back() - s.beta) > 1e-12 * s.beta)
      config_error("ais.betas", "must end at the target ais.beta = " + cfg.get_string("ais.beta") + ", ends at " +
                                    std::to_string(b.back()));
    s.a.back() = 1.0;
    return s;
  }
  if (!cfg.get_string("ais.betas").empty()) config_error("ais.betas", "only applies to ais.schedule = list");
  const auto T = cfg.get_int_at_least("ais.steps", 1);
  if (T > 100000000) config_error("ais.steps", "is impossibly large");
  s.a.resize(T + 1);
  for (std::int64_t t = 0; t <= T; ++t) {
    const double u = double(t) / double(T);
    if (kind == "linear") s.a[t] = u;
    else if (kind == "geometric") s.a[t] = (std::pow(10.0, -4.0 * (1 - u)) - 1e-4) / (1 - 1e-4);
    else {
      auto sig = [](double z) { return 1 / (1 + std::exp(-z)); };
      s.a[t] = (sig(8 * u - 4) - sig(-4)) / (sig(4) - sig(-4));  // Salakhutdinov & Murray's δ = 4
    }
  }
  s.a.front() = 0.0;
  s.a.back() = 1.0;
  return s;
}

AisEstimate estimate(const AisRun& run, const parallel::ChainRange& range, const parallel::Comm& comm) {
  // The first stage at which any rank found diverged chains, and the last check before
  // it (the checks fall on the same stages on every rank, so the least sound_at).
  const double none = std::numeric_limits<double>::max();
  const double first = -comm.max(-(run.diverged_at >= 0 ? double(run.diverged_at) : none));
  if (first < none) {
    const double last = -comm.max(-double(run.sound_at));
    samplers::diverged_error(static_cast<std::int64_t>(last), static_cast<std::int64_t>(first), "AIS stage");
  }
  const LogMeanExp fw = log_mean_exp(run.log_w, range, comm);
  AisEstimate e;
  e.log_z = fw.log_mean + run.base_log_z;
  e.log_z_stderr = fw.stderr;
  e.ess = fw.ess;
  e.log_weight_var = fw.log_var;
  e.chains = range.global;
  e.low_ess = ess_too_small(e.ess, double(range.global));
  if (run.reverse) {
    const LogMeanExp rv = log_mean_exp(run.log_w_rev, range, comm);
    e.log_z_reverse = run.base_log_z - rv.log_mean;  // E[log mean exp w_rev] ≤ ln(Z_0 / Z): above ln Z in expectation
    e.log_z_reverse_stderr = rv.stderr;
    e.reverse_minus_forward_sigma =
        (e.log_z_reverse - e.log_z) / std::sqrt(e.log_z_stderr * e.log_z_stderr + rv.stderr * rv.stderr);
  }
  return e;
}

std::vector<std::string> ais_notes(const AisEstimate& e) {
  std::vector<std::string> out;
  char buf[512];
  if (e.low_ess) {
    std::snprintf(buf, sizeof buf,
                  "warning: ESS %.1f of %lld chains is below %.1f (= sqrt(2) chains^(3/4)): the delta-method "
                  "log_z_stderr %.3g is itself uncertain by more than 25%% and may be far too small; use more "
                  "ais.steps or ais.chains, or ais.method = smc with ais.replicates",
                  e.ess, static_cast<long long>(e.chains), min_trusted_ess(double(e.chains)), e.log_z_stderr);
    out.emplace_back(buf);
  }
  if (std::isfinite(e.reverse_minus_forward_sigma)) {
    const double z = e.reverse_minus_forward_sigma;
    const char* verdict = std::fabs(z) <= 2 ? "agree within their errors"
                          : z > 0           ? "differ by more than 2 SE: the schedule is too short for either to be "
                                              "trusted; use more ais.steps"
                                            : "cross by more than 2 SE (reverse below forward): an error bar is too "
                                              "small (see the ESS) or the reverse chains were not at equilibrium";
    std::snprintf(buf, sizeof buf,
                  "note: forward ln Z %.6g +- %.3g and reverse %.6g +- %.3g %s (reverse - forward = %+.2f SE); "
                  "each bounds ln Z in expectation only",
                  e.log_z, e.log_z_stderr, e.log_z_reverse, e.log_z_reverse_stderr, verdict, z);
    out.emplace_back(buf);
  }
  return out;
}

void write_ais(io::OutputFile& out, const AisSpec& as, const AisRun& o, const parallel::ChainRange& range,
               const parallel::Comm& comm) {
  std::vector<double> betas(as.a.size());
  for (std::size_t t = 0; t < betas.size(); ++t) betas[t] = as.a[t] * as.beta;
  const hid_t db = out.create_double("/ais/betas", {hsize_t(betas.size())});
  out.write_double(db, {0}, {comm.root() ? hsize_t(betas.size()) : 0}, betas.data());
  out.describe("/ais/betas", "1/kT",
               "beta_t = a_t * ais.beta of each stage t = 0 .. T (lattice models: the inverse temperature; "
               "continuous ones: the weight a_t beta of the model against the Gaussian base)",
               {"stage"});
  const hid_t dw = out.create_double("/ais/log_weights", {hsize_t(as.chains)});
  out.write_double(dw, {hsize_t(range.offset)}, {hsize_t(range.count)}, o.log_w.data());
  out.describe("/ais/log_weights", "nat",
               "log importance weight ln w of each chain's forward pass: ln Z = base_log_z + ln mean(w)", {"chain"});
  if (as.reverse) {
    const hid_t dr = out.create_double("/ais/reverse_log_weights", {hsize_t(as.chains)});
    out.write_double(dr, {hsize_t(range.offset)}, {hsize_t(range.count)}, o.log_w_rev.data());
    out.describe("/ais/reverse_log_weights", "nat",
                 "log weight of each chain's reverse pass (from the model to the base): "
                 "log_z_upper = base_log_z - ln mean(w_rev)",
                 {"chain"});
  }
}

}  // namespace zeta::estimators
