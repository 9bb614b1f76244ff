//! `zeta free-energy FILE.h5`: MBAR (Shirts & Chodera 2008) with pymbar's analyses on
//! the reduced potentials of any simulation, or ln Z(β_k) − ln Z(β_0) of a `zeta
//! temper` output by MBAR, BAR and TI (docs/free-energy.md).
//! The command parses its keys, reads the input (estimators/free_energy_input.hpp: a
//! temper output, u_kn, u_kln, or energies with optional couplings), appends target
//! betas, runs MBAR and the analyses asked for (estimators/mbar_report.hpp) and writes
//! the JSON summary and the output file.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "apps/apps.hpp"
#include "zeta/core/error.hpp"
#include "zeta/estimators/free_energy_input.hpp"
#include "zeta/estimators/mbar.hpp"
#include "zeta/estimators/mbar_report.hpp"
#include "zeta/io/output.hpp"

namespace zeta::apps {

void declare_free_energy_keys(Config& cfg) {
  cfg.declare("free_energy.format", "auto",
              "what FILE holds: temper (a zeta temper output), u_kn (/u_kn [K, N] and /N_k), u_kln (/u_kln [K, K, "
              "N_max] and /N_k), energies (/energy [N], /beta [K], /N_k and optionally /couplings/NAME [K]), or auto "
              "(from its datasets)");
  cfg.declare("free_energy.thin", "auto", "temper input: auto (by each level's tau_int) or a fixed stride over the saved rows");
  cfg.declare("free_energy.bootstrap", "0", "MBAR bootstrap resamples (within each state) for a second error estimate of f_k and of every "
              "analysis asked for: expectations, PMF, heat capacity (0 = none)");
  cfg.declare("free_energy.seed", "1", "seed of the bootstrap's counter RNG");
  cfg.declare("free_energy.tol", "1e-12", "MBAR convergence: the largest change of any f_k that the next Newton step would make");
  cfg.declare("free_energy.max_iterations", "200", "MBAR solver steps at most");
  cfg.declare("free_energy.allow_unconverged", "false",
              "true: write an estimate that did not reach free_energy.tol (converged = false) instead of stopping "
              "with an error");
  cfg.declare("free_energy.min_effective_samples", "2",
              "a state without samples whose effective sample number (1 / sum_n W_nk^2) is below this has no "
              "overlap with the sampled states: an error naming it");
  cfg.declare("free_energy.overlap_warning", "0.03",
              "warn about states whose largest overlap with another state (overlap matrix) is below this");
  cfg.declare("free_energy.target_betas", "",
              "comma-separated betas to reweight to (energies form and temper outputs): appended as states "
              "without samples, with f_k, expectations and errors there");
  cfg.declare("free_energy.target_fields", "",
              "inputs with /couplings: the target states' couplings p (u = beta (E + sum p A)), one comma list per "
              "coupled observable (in the order of /couplings, ';' between lists), each as long as "
              "free_energy.target_betas");
  cfg.declare("free_energy.heat_capacity", "false",
              "true: also the heat capacity C = beta^2 Var(H) of the whole system (units of k_B) at every state, "
              "target states included, with its standard error (energies form and temper outputs); H = E, or with "
              "/couplings H = E + sum p A, the energy that u = beta H weighs (constant field or pressure)");
  cfg.declare("free_energy.pmf", "",
              "observable (name in /observables, or energy) along which to compute the potential of mean force "
              "(pymbar computePMF, errors from the lowest bin); empty: none");
  cfg.declare("free_energy.pmf_bins", "20", "equal-width bins of the PMF between the observable's extremes");
  cfg.declare("free_energy.pmf_state", "0", "the state (index) whose PMF");
  cfg.declare("free_energy.equilibrate", "false",
              "u_kn and energies inputs: per state, discard the start before equilibrium and keep uncorrelated "
              "samples (pymbar timeseries.detectEquilibration and subsampleCorrelatedData on each sample's reduced "
              "potential in its own state, samples in time order)");
  cfg.declare("free_energy.equilibrate_skip", "1", "detectEquilibration's nskip: try every n-th start (faster)");
  cfg.declare("output.file", "zeta_free_energy.h5",
              "HDF5 file of every result array and the JSON figures in /summary (empty: none; an existing one is kept, see output.backups)");
  io::declare_output_backups_key(cfg);
}

namespace {

//! What free-energy needs of a temper run's resolved INI: run.save_every for the thinning,
//! a lattice's size for absolute values. [model] was checked when the run was made;
//! read_model_spec on the resolved INI would see every key as given (model.sigma of a
//! Bernoulli RBM, say) and refuse it.
estimators::TemperRunFacts temper_run_facts(const std::string& config, const std::string& file) {
  Config cfg;
  declare_temper_app_keys(cfg);
  cfg.parse_text(config, {}, file + " (its config attribute)");
  estimators::TemperRunFacts facts;
  facts.save_every = cfg.get_int("run.save_every");
  if (cfg.get_string("model.type") == "ising")
    facts.lattice_sites = double(cfg.get_int("model.L")) * double(cfg.get_int("model.L"));
  return facts;
}

//! The JSON of a temper input: ln Z by MBAR, BAR and TI.
void add_temper_json(FreeEnergyResult& res, int bootstrap) {
  auto& j = res.json;
  j.add("betas", res.betas);
  j.add("log_z", res.log_z);
  j.add("log_z_stderr", res.log_z_stderr);
  if (bootstrap > 0) {
    j.add("log_z_bootstrap_stderr", res.log_z_bootstrap_stderr);
    j.add("bootstrap", bootstrap);
  }
  j.add("log_z_reference", res.absolute ? "absolute (beta_0 = 0)" : "relative to betas[0]");
  j.add("log_z_bar", res.log_z_bar);
  j.add("log_z_bar_stderr", res.log_z_bar_stderr);
  j.add("log_z_ti", res.log_z_ti);
  j.add("log_z_ti_stderr", res.log_z_ti_stderr);
  j.add("samples", res.samples_used);
}

//! The temper input's ln Z arrays in the output file.
void write_temper_output(io::OutputFile& out, const FreeEnergyResult& res) {
  const hsize_t K = res.betas.size();
  const std::vector<std::pair<std::string, const std::vector<double>*>> arrays = {
      {"log_z", &res.log_z}, {"log_z_stderr", &res.log_z_stderr}, {"log_z_bar", &res.log_z_bar},
      {"log_z_bar_stderr", &res.log_z_bar_stderr}, {"log_z_ti", &res.log_z_ti}, {"log_z_ti_stderr", &res.log_z_ti_stderr}};
  const char* what[] = {"ln Z(beta_k) by MBAR", "standard error of log_z (asymptotic)", "ln Z(beta_k) by BAR between neighbours",
                        "standard error of log_z_bar", "ln Z(beta_k) by the trapezoid rule on <E> (TI)",
                        "standard error of log_z_ti"};
  const std::string ref = res.absolute ? " (absolute: beta_0 = 0)" : " (relative to beta_0)";
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    out.write_root_double("/free_energy/" + arrays[i].first, {K}, arrays[i].second->data());
    out.describe("/free_energy/" + arrays[i].first, "1", what[i] + ref, {"state"});
  }
}

//! The free_energy.* and output.* keys, checked.
struct FreeEnergyOptions {
  std::string output;
  estimators::FreeEnergyInputOptions input;
  estimators::MbarReportOptions report;
  std::vector<double> targets;
  std::vector<std::vector<double>> target_fields;  //!< per coupled observable, one p per target
};

FreeEnergyOptions read_options(const Config& opts) {
  FreeEnergyOptions o;
  o.input.format = opts.get_choice("free_energy.format", {"auto", "temper", "u_kn", "u_kln", "energies"});
  if (opts.get_string("free_energy.thin") != "auto") o.input.fixed_thin = opts.get_int_at_least("free_energy.thin", 1);
  estimators::MbarOptions& mopt = o.report.mbar;
  mopt.bootstrap = static_cast<int>(opts.get_int_at_least("free_energy.bootstrap", 0));
  const auto seed = opts.get_int_at_least("free_energy.seed", 0);
  if (seed > 0xffffffffLL) config_error("free_energy.seed", "must be < 2^32");
  mopt.seed = static_cast<std::uint32_t>(seed);
  mopt.tol = opts.get_double("free_energy.tol");
  if (!(mopt.tol > 0)) config_error("free_energy.tol", "must be > 0");
  mopt.max_iterations =
      static_cast<int>(std::min<std::int64_t>(opts.get_int_at_least("free_energy.max_iterations", 1), 1 << 30));
  o.report.checks.allow_unconverged = opts.get_bool("free_energy.allow_unconverged");
  o.report.checks.min_effective_samples = opts.get_nonnegative("free_energy.min_effective_samples");
  o.report.checks.overlap_warning = opts.get_nonnegative("free_energy.overlap_warning");
  o.report.checks.tol = mopt.tol;
  o.output = opts.get_string("output.file");
  io::apply_output_backups(opts);
  if (!opts.get_string("free_energy.target_betas").empty()) o.targets = opts.get_doubles("free_energy.target_betas");
  for (const auto& list : split(opts.get_string("free_energy.target_fields"), ';')) {
    o.target_fields.emplace_back();
    for (const auto& v : split(list, ',')) {
      char* end = nullptr;
      o.target_fields.back().push_back(std::strtod(v.c_str(), &end));
      if (v.empty() || *end != '\0') config_error("free_energy.target_fields", "expected numbers, got '" + v + "'");
    }
  }
  o.input.equilibrate = opts.get_bool("free_energy.equilibrate");
  o.report.heat_capacity = opts.get_bool("free_energy.heat_capacity");
  o.input.equilibrate_skip = opts.get_int_at_least("free_energy.equilibrate_skip", 1);
  o.report.pmf = opts.get_string("free_energy.pmf");
  o.report.pmf_bins = int(std::min<std::int64_t>(opts.get_int_at_least("free_energy.pmf_bins", 1), 1 << 20));
  o.report.pmf_state = opts.get_int_at_least("free_energy.pmf_state", 0);
  return o;
}

}  // namespace

FreeEnergyResult free_energy(const std::string& file, const Config& opts, const parallel::Comm& comm) {
  const double t0 = MPI_Wtime();
  const FreeEnergyOptions fo = read_options(opts);
  const estimators::MbarOptions& mopt = fo.report.mbar;
  const std::vector<double>& targets = fo.targets;
  estimators::FreeEnergyInput in = estimators::read_free_energy_input(file, fo.input, temper_run_facts, comm);
  const std::string& format = in.format;
  FreeEnergyResult res;
  if (format == "temper") {
    res.betas = in.beta;
    res.log_z_bar = in.log_z_bar, res.log_z_bar_stderr = in.log_z_bar_stderr;
    res.log_z_ti = in.log_z_ti, res.log_z_ti_stderr = in.log_z_ti_stderr;
  }
  const double offset = in.offset;
  estimators::add_target_states(in, targets, fo.target_fields);
  const estimators::MbarReport rep = estimators::mbar_report(in, fo.report, comm);
  const estimators::MbarResult& m = rep.result;
  const int K = static_cast<int>(rep.N_k.size() - targets.size());  // the states given (targets follow)
  res.absolute = offset != 0.0;
  for (auto n : rep.N_k) res.samples_used += n;
  res.log_z.resize(K);
  for (int k = 0; k < K; ++k) res.log_z[k] = offset - m.f[k];
  res.log_z_stderr.assign(m.df_stderr.begin(), m.df_stderr.begin() + K);
  for (std::size_t t = 0; t < targets.size(); ++t) {
    res.log_z_target.push_back(offset - m.f[K + t]);
    res.log_z_target_stderr.push_back(m.df_stderr[K + t]);
  }
  if (!m.df_bootstrap_stderr.empty())
    res.log_z_bootstrap_stderr.assign(m.df_bootstrap_stderr.begin(), m.df_bootstrap_stderr.begin() + K);
  res.iterations = m.iterations;
  res.wall_s = MPI_Wtime() - t0;
  auto& j = res.json;
  j.add("command", "free-energy");
  j.add("status", "ok");
  j.add("wall_s", res.wall_s);
  j.add("ranks", comm.size());
  j.add("file", file);
  j.add("method", "mbar");
  if (format == "temper") add_temper_json(res, mopt.bootstrap);
  if (!targets.empty()) {
    j.add("target_betas", targets);
    for (std::size_t c = 0; c < fo.target_fields.size(); ++c)
      j.add("target_coupling_" + rep.coupling_names[c], fo.target_fields[c]);
    j.add("log_z_target", res.log_z_target);
    j.add("log_z_target_stderr", res.log_z_target_stderr);
  }
  j.add("format", format);
  if (format != "temper") {
    j.add("samples", res.samples_used);
    if (mopt.bootstrap > 0) {
      j.add("df_k_bootstrap", m.df_bootstrap_stderr);
      j.add("bootstrap", mopt.bootstrap);
    }
  }
  estimators::add_mbar_json(j, rep);
  if (!fo.output.empty()) {
    io::OutputFile out(comm, fo.output);
    io::write_root_attributes(out, "free-energy", opts, comm);
    out.attribute("input", file);
    estimators::write_mbar_output(out, rep, comm.root());
    if (format == "temper") write_temper_output(out, res);
    res.output = io::publish(out, j, comm);
  }
  return res;
}

}  // namespace zeta::apps
