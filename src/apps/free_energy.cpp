//! `zeta free-energy FILE.h5`: MBAR (Shirts & Chodera 2008) with pymbar's analyses on
//! the reduced potentials of any simulation, or ln Z(β_k) − ln Z(β_0) of a `zeta
//! temper` output by MBAR, BAR and TI (docs/free-energy.md).
//! A temper output: rank 0 reads the energies, thins each level by its integrated
//! autocorrelation time and broadcasts them; for a lattice model whose ladder starts
//! at β_0 = 0 the values are absolute (ln Z(0) = N ln 2).
//! A u_kn or energies file: each rank reads only its own hyperslab of samples.
//! Every rank builds the reduced potentials of its share of the samples and the MBAR
//! sums are reduced over ranks in a fixed order (the same bits on any rank count).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "apps/apps.hpp"
#include "zeta/core/error.hpp"
#include "zeta/estimators/bar.hpp"
#include "zeta/estimators/mbar.hpp"
#include "zeta/estimators/mbar_report.hpp"
#include "zeta/estimators/ti.hpp"
#include "zeta/estimators/timeseries.hpp"
#include "zeta/io/mbar_input.hpp"
#include "zeta/io/output.hpp"
#include "zeta/io/temper_output.hpp"

namespace zeta::apps {

void declare_free_energy_keys(Config& cfg) {
  cfg.declare("free_energy.format", "auto",
              "what FILE holds: temper (a zeta temper output), u_kn (/u_kn [K, N] and /N_k), energies (/energy "
              "[N], /beta [K] and /N_k), or auto (from its datasets)");
  cfg.declare("free_energy.thin", "auto", "temper input: auto (by each level's tau_int) or a fixed stride over the saved rows");
  cfg.declare("free_energy.bootstrap", "0", "MBAR bootstrap resamples for a second error estimate (0 = none)");
  cfg.declare("free_energy.seed", "1", "seed of the bootstrap's counter RNG");
  cfg.declare("free_energy.tol", "1e-12", "MBAR convergence: the largest change of any f_k in the last step");
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
  cfg.declare("free_energy.heat_capacity", "false",
              "true: also the heat capacity C = beta^2 Var(E) of the whole system (units of k_B) at every state, "
              "target betas included, with its standard error (energies form and temper outputs)");
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

//! The samples of a temper output: thinned energies per level (every rank), with BAR and TI.
struct TemperInput {
  std::vector<double> energies;  // grouped by level
  std::vector<std::int64_t> N_k;
  double offset = 0;             // N ln 2 for an absolute lattice ladder
};

TemperInput read_temper(const std::string& file, std::int64_t fixed_thin, FreeEnergyResult& res,
                        const parallel::Comm& comm) {
  TemperInput in;
  std::string why;
  if (comm.root()) {
    try {
      const io::TemperEnergies t = io::read_temper_energies(file);
      const int K = t.levels();
      // The run's configuration: save_every for the thinning, the model for absolute values.
      Config cfg;
      declare_temper_app_keys(cfg);
      cfg.parse_text(t.config, {}, file + " (its config attribute)");
      const std::int64_t save_every = std::max<std::int64_t>(1, cfg.get_int("run.save_every"));
      // Only a lattice's size matters here (absolute ln Z from β_0 = 0). [model] was checked
      // when the run was made; read_model_spec on the resolved INI would see every key as
      // given (model.sigma of a Bernoulli RBM, say) and refuse it.
      const bool lattice = cfg.get_string("model.type") == "ising";
      const double sites = lattice ? double(cfg.get_int("model.L")) * double(cfg.get_int("model.L")) : 0.0;
      // Samples per level, thinned by 2τ (in saved rows).
      std::vector<std::int64_t> stride(K);
      for (int k = 0; k < K; ++k)
        stride[k] = fixed_thin > 0 ? fixed_thin : estimators::thinning_stride(t.tau[k], save_every);
      const auto lev = t.thinned(stride);
      in.N_k.resize(K);
      for (int k = 0; k < K; ++k) {
        in.N_k[k] = std::int64_t(lev[k].size());
        in.energies.insert(in.energies.end(), lev[k].begin(), lev[k].end());
      }
      in.offset = (lattice && t.betas[0] == 0) ? sites * std::log(2.0) : 0.0;
      res.betas = t.betas;
      // BAR between neighbours and TI (trapezoid of ⟨E⟩ over β) on the same samples.
      estimators::bar_along_ladder(lev, t.betas, std::vector<double>(K, 1.0), res.log_z_bar, res.log_z_bar_stderr);
      for (auto& v : res.log_z_bar) v += in.offset;
      estimators::ti_along_ladder(lev, t.betas, in.offset, res.log_z_ti, res.log_z_ti_stderr);
    } catch (const std::exception& e) {
      why = e.what();
    }
  }
  comm.broadcast(why);
  if (!why.empty()) throw Error(why);
  for (auto* v : {&res.betas, &res.log_z_bar, &res.log_z_bar_stderr, &res.log_z_ti, &res.log_z_ti_stderr, &in.energies})
    comm.broadcast(*v);
  comm.broadcast(in.N_k);
  comm.broadcast(in.offset);
  return in;
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

}  // namespace

namespace {

//! The free_energy.* and output.* keys, checked.
struct FreeEnergyOptions {
  std::string format, output;
  std::int64_t fixed_thin = 0;  // 0: by τ_int
  estimators::MbarOptions mbar;
  estimators::MbarChecks checks;
  std::vector<double> targets;
  bool equilibrate = false;
  bool heat_capacity = false;
  std::int64_t equilibrate_skip = 1;
  std::string pmf;
  int pmf_bins = 20;
  std::int64_t pmf_state = 0;
};

FreeEnergyOptions read_options(const Config& opts) {
  FreeEnergyOptions o;
  o.format = opts.get_choice("free_energy.format", {"auto", "temper", "u_kn", "energies"});
  if (opts.get_string("free_energy.thin") != "auto") o.fixed_thin = opts.get_int_at_least("free_energy.thin", 1);
  estimators::MbarOptions& mopt = o.mbar;
  mopt.bootstrap = static_cast<int>(opts.get_int_at_least("free_energy.bootstrap", 0));
  const auto seed = opts.get_int_at_least("free_energy.seed", 0);
  if (seed > 0xffffffffLL) config_error("free_energy.seed", "must be < 2^32");
  mopt.seed = static_cast<std::uint32_t>(seed);
  mopt.tol = opts.get_double("free_energy.tol");
  if (!(mopt.tol > 0)) config_error("free_energy.tol", "must be > 0");
  mopt.max_iterations =
      static_cast<int>(std::min<std::int64_t>(opts.get_int_at_least("free_energy.max_iterations", 1), 1 << 30));
  o.checks.allow_unconverged = opts.get_bool("free_energy.allow_unconverged");
  o.checks.min_effective_samples = opts.get_nonnegative("free_energy.min_effective_samples");
  o.checks.overlap_warning = opts.get_nonnegative("free_energy.overlap_warning");
  o.checks.tol = mopt.tol;
  o.output = opts.get_string("output.file");
  io::apply_output_backups(opts);
  if (!opts.get_string("free_energy.target_betas").empty()) o.targets = opts.get_doubles("free_energy.target_betas");
  for (double b : o.targets)
    if (!std::isfinite(b)) config_error("free_energy.target_betas", "must be finite numbers");
  o.equilibrate = opts.get_bool("free_energy.equilibrate");
  o.heat_capacity = opts.get_bool("free_energy.heat_capacity");
  o.equilibrate_skip = opts.get_int_at_least("free_energy.equilibrate_skip", 1);
  o.pmf = opts.get_string("free_energy.pmf");
  o.pmf_bins = int(std::min<std::int64_t>(opts.get_int_at_least("free_energy.pmf_bins", 1), 1 << 20));
  o.pmf_state = opts.get_int_at_least("free_energy.pmf_state", 0);
  return o;
}

//! The PMF of free_energy.pmf, when asked for.
void add_pmf(estimators::MbarReport& rep, const FreeEnergyOptions& fo, const estimators::MbarSamples& samples,
             const std::vector<std::vector<double>>& observables, const parallel::Comm& comm) {
  if (fo.pmf.empty()) return;
  const auto at = std::find(rep.observables.begin(), rep.observables.end(), fo.pmf);
  if (at == rep.observables.end()) {
    std::string have;
    for (const auto& n : rep.observables) have += (have.empty() ? "" : ", ") + n;
    config_error("free_energy.pmf", "no observable '" + fo.pmf + "' in the input (it has: " +
                                        (have.empty() ? "none" : have) + ")");
  }
  if (fo.pmf_state >= std::int64_t(rep.N_k.size()))
    config_error("free_energy.pmf_state", "must be < " + std::to_string(rep.N_k.size()) + ", the number of states");
  rep.pmf_observable = fo.pmf;
  rep.pmf = estimators::mbar_pmf(samples, rep.N_k, rep.result, observables[at - rep.observables.begin()], fo.pmf,
                                 int(fo.pmf_state), fo.pmf_bins, comm);
}

//! free_energy.equilibrate: pymbar's per-state detectEquilibration and subsampleCorrelatedData
//! on each sample's reduced potential in its own state (gathered on rank 0: N values), then
//! this rank's share of the kept samples read again.
void equilibrate(const io::MbarInput& in, const FreeEnergyOptions& fo, estimators::MbarReport& rep,
                 std::vector<double>& u, std::vector<std::vector<double>>& observables, const parallel::Comm& comm) {
  const parallel::Share mine = estimators::mbar_samples(in.N, comm);
  std::vector<double> own(std::size_t(mine.count));
  std::int64_t end = 0;
  int k = -1;
  for (std::int64_t i = 0; i < mine.count; ++i) {
    while (mine.offset + i >= end) end += in.N_k[++k];
    own[i] = in.format == "u_kn" ? u[std::size_t(k) * mine.count + i] : in.beta[k] * observables[0][i];
  }
  const std::vector<double> all = comm.gather_to_root(own);
  estimators::Subsampled s;
  if (comm.root()) s = estimators::equilibrate_and_subsample(all, in.N_k, std::size_t(fo.equilibrate_skip));
  comm.broadcast(s.keep);
  comm.broadcast(s.N_k);
  comm.broadcast(s.t0);
  comm.broadcast(s.g);
  const parallel::Share share = estimators::mbar_samples(std::int64_t(s.keep.size()), comm);
  const std::vector<std::int64_t> cols(s.keep.begin() + share.offset, s.keep.begin() + share.offset + share.count);
  io::read_mbar_columns(in, cols, comm, u, observables);
  rep.N_k = s.N_k;
  rep.equilibration_t0.assign(s.t0.begin(), s.t0.end());
  rep.statistical_inefficiency = s.g;
}

//! What FILE holds (free_energy.format = auto), the same on every rank.
std::string detect_format(const std::string& file, const parallel::Comm& comm) {
  std::string why, format;
  if (comm.root()) try {
      format = io::detect_free_energy_format(file);
    } catch (const std::exception& e) {
      why = e.what();
    }
  comm.broadcast(why);
  if (!why.empty()) throw Error(why);
  comm.broadcast(format);
  return format;
}

}  // namespace

FreeEnergyResult free_energy(const std::string& file, const Config& opts, const parallel::Comm& comm) {
  const double t0 = MPI_Wtime();
  const FreeEnergyOptions fo = read_options(opts);
  const std::string format = fo.format == "auto" ? detect_format(file, comm) : fo.format;
  const estimators::MbarOptions& mopt = fo.mbar;
  const std::vector<double>& targets = fo.targets;
  FreeEnergyResult res;
  estimators::MbarReport rep;
  std::vector<double> u;                       // this rank's reduced potentials, K rows (u_kn form)
  std::vector<std::vector<double>> observables;  // this rank's samples of each observable
  double offset = 0;
  std::string source = "'" + file + "'";
  if (format == "temper" && fo.equilibrate)
    config_error("free_energy.equilibrate", "is for u_kn and energies inputs; a temper output is thinned by its "
                                            "tau_int (free_energy.thin)");
  if (format == "temper") {
    const TemperInput t = read_temper(file, fo.fixed_thin, res, comm);
    offset = t.offset;
    rep.N_k = t.N_k;
    rep.beta = res.betas;
    const parallel::Share mine = estimators::mbar_samples(std::int64_t(t.energies.size()), comm);
    observables.emplace_back(t.energies.begin() + mine.offset, t.energies.begin() + mine.offset + mine.count);
    rep.observables = {"energy"};
    source += " (/temper/energy)";
  } else {
    const io::MbarInput in = io::read_mbar_input(file, format, comm);
    io::read_mbar_samples(in, estimators::mbar_samples(in.N, comm), comm, u, observables);
    rep.N_k = in.N_k;
    rep.beta = in.beta;
    rep.observables = in.observables;
    if (fo.equilibrate) equilibrate(in, fo, rep, u, observables, comm);
    source += format == "u_kn" ? " (/u_kn)" : " (/energy, /beta)";
  }
  if (!targets.empty()) {
    if (format == "u_kn")
      config_error("free_energy.target_betas", "needs states given by beta (the energies form or a temper output), "
                                               "not /u_kn: add the target states' rows to u_kn with N_k = 0");
    rep.beta.insert(rep.beta.end(), targets.begin(), targets.end());
    rep.N_k.resize(rep.beta.size(), 0);
  }
  if (fo.heat_capacity && format == "u_kn")
    config_error("free_energy.heat_capacity", "needs states given by beta (the energies form or a temper output), "
                                              "not /u_kn: add an observable E2 = E^2 and use expectations");
  // u_kn stored, or built from the energies (observables[0]) a block at a time.
  const auto samples = format == "u_kn" ? estimators::MbarSamples::potentials(u)
                                        : estimators::MbarSamples::of_energies(rep.beta, observables.front());
  rep.result = estimators::mbar(samples, rep.N_k, comm, mopt);
  rep.analysis = estimators::mbar_analysis(rep.result, rep.N_k);
  estimators::check_mbar_report(rep, fo.checks, source, comm.root());
  rep.expectations = estimators::mbar_expectations(samples, rep.N_k, rep.result, observables, comm);
  add_pmf(rep, fo, samples, observables, comm);
  if (fo.heat_capacity) rep.heat_capacity = estimators::mbar_heat_capacity(samples, rep.N_k, rep.result, comm);
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
