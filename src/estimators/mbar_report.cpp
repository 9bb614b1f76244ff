#include "zeta/estimators/mbar_report.hpp"

#include <algorithm>
#include <cstdio>

#include "zeta/core/error.hpp"

namespace zeta::estimators {

void check_mbar_report(const MbarReport& r, const MbarChecks& checks, const std::string& source, bool root) {
  const MbarResult& m = r.result;
  char buf[512];
  if (!m.converged && !checks.allow_unconverged) {
    std::snprintf(buf, sizeof buf,
                  "MBAR on %s did not converge: %d steps without reaching free_energy.tol = %g (final gradient "
                  "norm %.3g); raise free_energy.max_iterations, or set free_energy.allow_unconverged = true to "
                  "write the estimate anyway",
                  source.c_str(), m.iterations, checks.tol, m.gradient_norm);
    throw Error(buf);
  }
  const int K = static_cast<int>(r.N_k.size());
  std::string lonely;
  for (int k = 0; k < K; ++k)
    if (r.N_k[k] == 0 && !(r.analysis.effective_samples[k] >= checks.min_effective_samples)) {
      std::snprintf(buf, sizeof buf, "%s%d (N_eff = %.3g)", lonely.empty() ? "" : ", ", k,
                    r.analysis.effective_samples[k]);
      lonely += buf;
    }
  if (!lonely.empty())
    throw Error("MBAR on " + source + ": state(s) " + lonely +
                " without samples (N_k = 0) have no overlap with the sampled states: effective sample number "
                "below free_energy.min_effective_samples = " + json_number(checks.min_effective_samples));
  if (!m.converged && root)
    std::fprintf(stderr, "zeta: warning: MBAR stopped after %d steps without reaching free_energy.tol = %g "
                 "(gradient norm %.3g); written with converged = false\n", m.iterations, checks.tol, m.gradient_norm);
  std::string poor;
  for (int i = 0; i < K; ++i) {
    double best = 0;
    for (int j = 0; j < K; ++j)
      if (j != i) best = std::max(best, r.analysis.overlap[std::size_t(i) * K + j]);
    if (best < checks.overlap_warning) {
      std::snprintf(buf, sizeof buf, "%s%d (largest %.2g)", poor.empty() ? "" : ", ", i, best);
      poor += buf;
    }
  }
  // Groups of states that each mix well inside but barely with each other (the split
  // by the overlap matrix's second eigenvector): the largest overlap across it.
  std::string groups[2];
  double across = 0;
  for (int i = 0; i < K; ++i)
    for (int j = 0; j < K; ++j)
      if (r.analysis.overlap_split[i] > 0 && r.analysis.overlap_split[j] < 0)
        across = std::max({across, r.analysis.overlap[std::size_t(i) * K + j], r.analysis.overlap[std::size_t(j) * K + i]});
  for (int k = 0; k < K; ++k)
    if (r.analysis.overlap_split[k] != 0) {
      std::string& g = groups[r.analysis.overlap_split[k] > 0 ? 0 : 1];
      g += (g.empty() ? "" : ", ") + std::to_string(k);
    }
  if (poor.empty() && !groups[0].empty() && !groups[1].empty() && across < checks.overlap_warning && root)
    std::fprintf(stderr, "zeta: warning: poor overlap between states {%s} and states {%s}: the largest overlap "
                 "between the two groups is %.2g < free_energy.overlap_warning = %g (overlap matrix, pymbar "
                 "computeOverlap); the free energy between them rests on few samples: add intermediate states\n",
                 groups[0].c_str(), groups[1].c_str(), across, checks.overlap_warning);
  if (!poor.empty() && root)
    std::fprintf(stderr, "zeta: warning: poor overlap: state(s) %s overlap less than free_energy.overlap_warning = %g "
                 "with every other state (overlap matrix, pymbar computeOverlap); their estimates rest on few "
                 "samples: add intermediate states\n", poor.c_str(), checks.overlap_warning);
}

namespace {

//! The PMF of opt.pmf, when asked for.
void add_pmf(MbarReport& rep, const MbarReportOptions& opt, const MbarSamples& samples,
             const std::vector<std::vector<double>>& observables, const parallel::Comm& comm) {
  if (opt.pmf.empty()) return;
  const auto at = std::find(rep.observables.begin(), rep.observables.end(), opt.pmf);
  if (at == rep.observables.end()) {
    std::string have;
    for (const auto& n : rep.observables) have += (have.empty() ? "" : ", ") + n;
    config_error("free_energy.pmf", "no observable '" + opt.pmf + "' in the input (it has: " +
                                        (have.empty() ? "none" : have) + ")");
  }
  if (opt.pmf_state >= std::int64_t(rep.N_k.size()))
    config_error("free_energy.pmf_state", "must be < " + std::to_string(rep.N_k.size()) + ", the number of states");
  rep.pmf_observable = opt.pmf;
  rep.pmf = mbar_pmf(samples, rep.N_k, rep.result, observables[at - rep.observables.begin()], opt.pmf,
                     int(opt.pmf_state), opt.pmf_bins, comm);
}

}  // namespace

MbarReport mbar_report(const FreeEnergyInput& in, const MbarReportOptions& opt, const parallel::Comm& comm) {
  if (opt.heat_capacity && in.stored())
    config_error("free_energy.heat_capacity", "needs states given by beta (the energies form or a temper output), "
                                              "not /" + in.format + ": add an observable E2 = E^2 and use expectations");
  MbarReport rep;
  rep.N_k = in.N_k;
  rep.beta = in.beta;
  rep.observables = in.observables;
  rep.coupling_names = in.coupling_names();
  rep.couplings = in.couplings;
  rep.equilibration_t0 = in.equilibration_t0;
  rep.statistical_inefficiency = in.statistical_inefficiency;
  // u_kn stored, or built from the energies (values[0]) a block at a time.
  const MbarSamples samples = in.samples();
  rep.result = mbar(samples, rep.N_k, comm, opt.mbar);
  rep.analysis = mbar_analysis(rep.result, rep.N_k);
  check_mbar_report(rep, opt.checks, in.source, comm.root());
  rep.expectations = mbar_expectations(samples, rep.N_k, rep.result, in.values, comm);
  add_pmf(rep, opt, samples, in.values, comm);
  if (opt.heat_capacity) rep.heat_capacity = mbar_heat_capacity(samples, rep.N_k, rep.result, comm);
  return rep;
}

void add_mbar_json(JsonSummary& j, const MbarReport& r) {
  const int K = static_cast<int>(r.N_k.size());
  j.add("states", K);
  for (std::size_t c = 0; c < r.couplings.size(); ++c) j.add("coupling_" + r.coupling_names[c], r.couplings[c]);
  j.add("f_k", r.result.f);
  std::vector<double> df(K);
  for (int k = 0; k < K; ++k) df[k] = r.analysis.dDelta_f[k];  // row 0: f_k − f_0
  j.add("df_k", df);
  j.add("overlap_scalar", r.analysis.overlap_scalar);
  j.add("effective_samples", r.analysis.effective_samples);
  for (std::size_t i = 0; i < r.observables.size(); ++i) {
    j.add("expectation_" + r.observables[i], r.expectations[i].mu);
    j.add("expectation_" + r.observables[i] + "_stderr", r.expectations[i].sigma);
    if (!r.expectations[i].sigma_bootstrap.empty())
      j.add("expectation_" + r.observables[i] + "_bootstrap_stderr", r.expectations[i].sigma_bootstrap);
  }
  if (!r.heat_capacity.mu.empty()) {
    j.add("heat_capacity", r.heat_capacity.mu);
    j.add("heat_capacity_stderr", r.heat_capacity.sigma);
    if (!r.heat_capacity.sigma_bootstrap.empty()) j.add("heat_capacity_bootstrap_stderr", r.heat_capacity.sigma_bootstrap);
  }
  if (!r.equilibration_t0.empty()) {
    j.add("equilibration_t0", r.equilibration_t0);
    j.add("statistical_inefficiency", r.statistical_inefficiency);
  }
  if (!r.pmf_observable.empty()) {
    j.add("pmf_observable", r.pmf_observable);
    j.add("pmf_state", r.pmf.state);
    j.add("pmf_edges", r.pmf.edges);
    j.add("pmf_f", r.pmf.f);
    j.add("pmf_df", r.pmf.df);
    if (!r.pmf.df_bootstrap.empty()) j.add("pmf_df_bootstrap", r.pmf.df_bootstrap);
  }
  j.add("iterations", r.result.iterations);
  j.add("converged", r.result.converged);
  j.add("gradient_norm", r.result.gradient_norm);
}

void write_mbar_output(io::OutputFile& out, const MbarReport& r, bool root) {
  const hsize_t K = r.N_k.size();
  const std::vector<std::string> st = {"state"}, ij = {"state_i", "state_j"};
  auto vec = [&](const std::string& name, const std::vector<double>& v, const std::string& units,
                 const std::string& what, const std::vector<std::string>& axes) {
    const std::vector<hsize_t> dims = axes.size() == 2 ? std::vector<hsize_t>{K, K} : std::vector<hsize_t>{K};
    out.write_root_double("/free_energy/" + name, dims, v.data());
    out.describe("/free_energy/" + name, units, what, axes);
  };
  const hid_t nk = out.create_int64("/free_energy/N_k", {K});
  out.write_int64(nk, {0}, {root ? K : 0}, r.N_k.data());
  out.describe("/free_energy/N_k", "1", "samples drawn from each state (pymbar's N_k)", st);
  if (!r.beta.empty()) vec("beta", r.beta, "1/energy", "inverse temperature of each state", st);
  for (std::size_t j = 0; j < r.couplings.size(); ++j)
    vec("couplings/" + r.coupling_names[j], r.couplings[j], "energy per unit of " + r.coupling_names[j],
        "coupling p_k of observable " + r.coupling_names[j] + " in each state: u_k = beta_k (E + sum p_k A)", st);
  vec("f_k", r.result.f, "1", "dimensionless free energy f_k = -ln Z_k + ln Z_0 (MBAR; f_0 = 0)", st);
  vec("Delta_f", r.analysis.Delta_f, "1", "free-energy differences f_j - f_i (pymbar Delta_f_ij)", ij);
  vec("dDelta_f", r.analysis.dDelta_f, "1", "asymptotic standard error of Delta_f_ij (pymbar dDelta_f_ij)", ij);
  vec("theta", r.result.theta, "1", "asymptotic covariance of f_k (pymbar Theta, svd-ew)", ij);
  vec("overlap", r.analysis.overlap, "1",
      "overlap matrix O_ij: probability that a sample of state i is observed in state j (pymbar computeOverlap)", ij);
  vec("overlap_eigenvalues", r.analysis.overlap_eigenvalues, "1", "eigenvalues of the overlap matrix, descending",
      {"eigenvalue"});
  vec("effective_samples", r.analysis.effective_samples, "1",
      "effective sample number of each state, 1 / sum_n W_nk^2 (pymbar computeEffectiveSampleNumber)", st);
  if (!r.heat_capacity.mu.empty()) {
    vec("heat_capacity/C", r.heat_capacity.mu, "1 (k_B)",
        "heat capacity of the whole system C_k = beta_k^2 (<H_k^2>_k - <H_k>_k^2) at each state, H_k = E + sum_c p_kc "
        "A_c (MBAR)",
        st);
    vec("heat_capacity/dC", r.heat_capacity.sigma, "1 (k_B)",
        "asymptotic standard error of C_k (MBAR, state-dependent observable (H_k - <H_k>_k)^2)", st);
    if (!r.heat_capacity.sigma_bootstrap.empty())
      vec("heat_capacity/dC_bootstrap", r.heat_capacity.sigma_bootstrap, "1 (k_B)",
          "bootstrap standard error of C_k (free_energy.bootstrap resamples within each state)", st);
  }
  if (!r.equilibration_t0.empty()) {
    vec("equilibration_t0", r.equilibration_t0, "1",
        "samples discarded at the start of each state (pymbar detectEquilibration t0)", st);
    vec("statistical_inefficiency", r.statistical_inefficiency, "1",
        "statistical inefficiency g of each state's equilibrated samples, kept every g-th (pymbar)", st);
  }
  if (!r.pmf_observable.empty()) {
    const hsize_t B = r.pmf.f.size();
    const std::string what = " of the PMF along " + r.pmf_observable + " at state " + std::to_string(r.pmf.state);
    out.write_root_double("/free_energy/pmf/edges", {B + 1}, r.pmf.edges.data());
    out.describe("/free_energy/pmf/edges", "as the observable", "bin edges" + what + " (bin i: [edges_i, edges_i+1))",
                 {"edge"});
    out.write_root_double("/free_energy/pmf/f", {B}, r.pmf.f.data());
    out.describe("/free_energy/pmf/f", "1", "dimensionless free energy" + what + ", 0 at the lowest bin (pymbar computePMF f_i)",
                 {"bin"});
    out.write_root_double("/free_energy/pmf/df", {B}, r.pmf.df.data());
    out.describe("/free_energy/pmf/df", "1", "standard error of f_i - f_lowest (pymbar computePMF df_i, from-lowest)",
                 {"bin"});
    if (!r.pmf.df_bootstrap.empty()) {
      out.write_root_double("/free_energy/pmf/df_bootstrap", {B}, r.pmf.df_bootstrap.data());
      out.describe("/free_energy/pmf/df_bootstrap", "1",
                   "bootstrap standard error of f_i - f_lowest (free_energy.bootstrap resamples within each state)", {"bin"});
    }
    out.write_root_double("/free_energy/pmf/samples", {B}, r.pmf.samples.data());
    out.describe("/free_energy/pmf/samples", "1", "samples in each bin", {"bin"});
  }
  for (std::size_t i = 0; i < r.observables.size(); ++i) {
    const std::string g = "expectations/" + r.observables[i];
    vec(g + "/mu", r.expectations[i].mu, "as the observable",
        "expectation <A>_k of observable " + r.observables[i] + " at each state (pymbar computeExpectations mu)", st);
    vec(g + "/sigma", r.expectations[i].sigma, "as the observable",
        "asymptotic standard error of <A>_k (pymbar computeExpectations sigma)", st);
    if (!r.expectations[i].sigma_bootstrap.empty())
      vec(g + "/sigma_bootstrap", r.expectations[i].sigma_bootstrap, "as the observable",
          "bootstrap standard error of <A>_k (free_energy.bootstrap resamples within each state)", st);
  }
}

}  // namespace zeta::estimators
