//! `zeta ais`: annealed importance sampling (estimators/ais.hpp) from a base with
//! known ln Z to the model at ais.beta: lattice models from β = 0, continuous ones
//! from a Gaussian base, RBMs (model.params) on the base-rate path, whose biases
//! are the file's /model/rbm/base_bias (the training data's marginals) or else the
//! RBM's own visible biases. With ais.exact (rbm) the exact ln Z (rank 0, broadcast)
//! goes into `log_z_exact`. ais.method = smc runs adaptive SMC (estimators/smc.hpp)
//! on the same paths instead, ais.replicates times.
#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstdio>
#include <memory>

#include "apps/apps.hpp"
#include "zeta/core/error.hpp"
#include "zeta/core/progress.hpp"
#include "zeta/estimators/ais.hpp"
#include "zeta/estimators/rbm_exact.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/io/output.hpp"
#include "zeta/models/factory.hpp"
#include "zeta/samplers/system.hpp"

namespace zeta::apps {

using Space = Kokkos::DefaultExecutionSpace;

void declare_ais_app_keys(Config& cfg) {
  cfg.declare("run.seed", "1", "seed of the counter-based RNG (0 .. 2^32-1)");
  declare_progress_key(cfg);
  models::declare_model_keys(cfg);
  samplers::declare_sampler_keys(cfg);
  estimators::declare_ais_keys(cfg);
  estimators::declare_smc_keys(cfg);
  cfg.declare("output.file", "zeta_ais.h5", "HDF5 output file (empty = none)");
  io::declare_output_backups_key(cfg);
}

namespace {

//! ais.method = smc: the replicates in turn, then their combined estimate, /smc/… and the JSON figures.
void smc(const Config& cfg, const parallel::Comm& comm, const models::ModelSpec& ms, const models::ModelParams& params,
         const samplers::SamplerSpec& smp, io::OutputFile* out, AisResult& r) {
  const estimators::SmcSpec s = estimators::read_smc_spec(cfg);
  const std::uint32_t seed = read_seed(cfg);
  const parallel::ChainRange range = comm.chains(s.chains);
  // Steps: thousandths of each run's way from beta = 0 to ais.beta (the pilot's first).
  Progress progress("zeta ais (smc)", 1000 * std::int64_t(s.replicates + s.pilot), 1.0, "thousandths-of-a-run",
                    comm.root(),
                    cfg.get_nonnegative("run.progress_every"));
  const estimators::SmcHook on_step = [&](int k, double a) {
    progress.update(std::int64_t(1000 * ((k + s.pilot) % (s.replicates + s.pilot)) + std::floor(1000 * a)));
  };
  // Replicate k's streams; the pilot (if any) is replicate M, its schedule the replicates'.
  auto one = [&](int k, const std::vector<double>& schedule) {
    return models::with_model<Space>(ms, params, [&](auto& m) {
      using M = std::decay_t<decltype(m)>;
      if constexpr (std::is_same_v<M, models::Ising<Space>>)
        return estimators::run_smc(m, samplers::spin_move(smp), s, seed, k, range, comm, schedule, on_step);
      else if constexpr (std::is_same_v<M, models::LoadedRbm<Space>>)
        return estimators::run_smc(m.rbm, m.base_bias, s, seed, k, range, comm, schedule, on_step);
      else
        return estimators::run_smc(m, smp, s, seed, k, range, comm, schedule, on_step);
    });
  };
  estimators::SmcRun pilot;
  if (s.pilot) pilot = one(s.replicates, {});
  const std::vector<double> schedule = s.pilot ? estimators::schedule_of(pilot) : std::vector<double>{};
  std::vector<estimators::SmcRun> runs;
  for (int k = 0; k < s.replicates; ++k) runs.push_back(one(k, schedule));
  r.method = "smc";
  r.smc = estimators::combine(runs, s);
  r.log_z = r.smc.log_z;
  r.log_z_stderr = r.smc.log_z_stderr;
  r.ess = r.smc.ess;
  r.chains = s.chains;
  r.base_log_z = runs.front().base_log_z;
  if (comm.root())
    for (const std::string& line : estimators::smc_notes(r.smc, s)) std::fprintf(stderr, "zeta: %s\n", line.c_str());
  if (out) estimators::write_smc(*out, s, runs, r.smc);
  r.moves = pilot.moves;
  for (const auto& run : runs) r.moves += run.moves;
  auto& j = r.json;
  j.add("method", "smc");
  j.add("chains", s.chains);
  j.add("beta", s.beta);
  j.add("log_z", r.log_z);
  j.add("log_z_stderr", r.log_z_stderr);
  j.add("log_z_error", s.replicate_error ? "replicates" : "lineage");
  j.add("log_z_mean", s.log_mean_z ? "z" : "log_z");
  j.add("replicates", s.replicates);
  if (s.replicates > 1) j.add("log_z_replicates", r.smc.log_z_replicates);
  j.add("steps", r.smc.steps);
  j.add("resamplings", r.smc.resamplings);
  j.add("pilot", s.pilot);
  if (s.pilot) j.add("log_z_pilot", pilot.log_z);
  j.add("ess", r.ess);
  j.add("eves", r.smc.min_eves);
  j.add("target_ess", s.target_ess);
  j.add("resample_threshold", s.resample_threshold);
  j.add("base_log_z", r.base_log_z);
}

//! ais.method = ais: the forward (and with ais.reverse the reverse) pass, /ais/… and the JSON figures.
void forward_reverse(const Config& cfg, const parallel::Comm& comm, const models::ModelSpec& ms,
                     const models::ModelParams& params, const samplers::SamplerSpec& smp,
                     const estimators::AisSpec& as, io::OutputFile* out, AisResult& r) {
  const std::uint32_t seed = read_seed(cfg);
  const parallel::ChainRange range = comm.chains(as.chains);
  const std::int64_t T = std::int64_t(as.a.size()) - 1;
  Progress progress("zeta ais", as.reverse ? 2 * T : T, double(as.chains) * as.sweeps, "chain-steps", comm.root(),
                    cfg.get_nonnegative("run.progress_every"));
  const estimators::StageHook on_stage = [&](std::int64_t i) { progress.update(i); };
  const estimators::AisRun o = models::with_model<Space>(ms, params, [&](auto& m) {
    using M = std::decay_t<decltype(m)>;
    if constexpr (std::is_same_v<M, models::Ising<Space>>) {
      return estimators::run_ais(m, samplers::spin_move(smp), as, seed, range, on_stage);
    } else if constexpr (std::is_same_v<M, models::LoadedRbm<Space>>) {
      return estimators::run_ais(m.rbm, m.base_bias, as, seed, range, on_stage);
    } else {
      return estimators::run_ais(m, smp, as, seed, range, on_stage);
    }
  });
  static_cast<estimators::AisEstimate&>(r) = estimators::estimate(o, range, comm);
  if (comm.root())
    for (const std::string& line : estimators::ais_notes(r)) std::fprintf(stderr, "zeta: %s\n", line.c_str());
  r.base_log_z = o.base_log_z;
  r.moves = o.moves;
  if (out) estimators::write_ais(*out, as, o, range, comm);
  auto& j = r.json;
  j.add("chains", as.chains);
  j.add("steps", T);
  j.add("beta", as.beta);
  j.add("log_z", r.log_z);
  j.add("log_z_stderr", r.log_z_stderr);
  j.add("ess", r.ess);
  j.add("log_weight_var", r.log_weight_var);
  j.add("base_log_z", r.base_log_z);
  if (as.reverse) {
    j.add("log_z_forward", r.log_z);
    j.add("log_z_forward_stderr", r.log_z_stderr);
    j.add("log_z_reverse", r.log_z_reverse);
    j.add("log_z_reverse_stderr", r.log_z_reverse_stderr);
    j.add("reverse_minus_forward_sigma", r.reverse_minus_forward_sigma);
    // The names before issue 24, kept for scripts that read them: bounds in expectation only.
    j.add("log_z_lower", r.log_z);
    j.add("log_z_upper", r.log_z_reverse);
    j.add("log_z_upper_stderr", r.log_z_reverse_stderr);
  }
}

}  // namespace

AisResult ais(const Config& cfg, const parallel::Comm& comm) {
  Kokkos::Timer timer;
  (void)read_seed(cfg);  // bad input before any work
  const models::ModelSpec ms = models::read_model_spec(cfg);
  const samplers::SamplerSpec smp =
      samplers::sampler_for_model(samplers::read_sampler_spec(cfg), ms.type, ms.lattice());
  samplers::refuse_annealed(smp, "ais");
  const bool rbm = ms.type == "rbm";  // block Gibbs
  const bool use_smc = estimators::read_ais_method(cfg) == "smc";
  const estimators::AisSpec as = use_smc ? estimators::AisSpec{} : estimators::read_ais_spec(cfg);
  const std::int64_t chains = use_smc ? estimators::read_smc_spec(cfg).chains : as.chains;  // bad input first
  const bool exact = cfg.get_bool("ais.exact");
  io::apply_output_backups(cfg);
  if (exact && !rbm) config_error("ais.exact", "applies to model.type = rbm only");
  const models::ModelParams params = models::load_model_params(cfg, ms, comm);
  double log_z_exact = NAN;
  if (!rbm && smp.type == samplers::SamplerType::langevin && comm.root())
    std::fprintf(stderr,
                 "zeta: warning: ULA (sampler.type = langevin) does not leave the intermediate distributions "
                 "invariant: AIS with it is biased; prefer mala or hmc\n");
  const parallel::ChainRange range = comm.chains(chains);
  samplers::check_system_memory(ms, params, range,
                                samplers::SystemOptions{1.0, samplers::RbmEnergy::joint, "ais.chains"}, comm);
  const std::string file = cfg.get_string("output.file");
  std::unique_ptr<io::OutputFile> out;
  if (!file.empty()) {
    out = std::make_unique<io::OutputFile>(comm, file);
    io::write_root_attributes(*out, "ais", cfg, comm);
  }
  if (exact)
    models::with_model<Space>(ms, params, [&](auto& m) {
      if constexpr (std::is_same_v<std::decay_t<decltype(m)>, models::LoadedRbm<Space>>)
        log_z_exact = estimators::rbm_log_z_exact(m.rbm, cfg.get_positive("ais.beta"), comm, "ais.exact");
    });
  AisResult r;
  if (use_smc) {
    smc(cfg, comm, ms, params, smp, out.get(), r);
  } else {
    forward_reverse(cfg, comm, ms, params, smp, as, out.get(), r);
  }
  r.log_z_exact = log_z_exact;
  r.wall_s = timer.seconds();
  r.chain_steps_per_s = double(chains) * double(r.moves) / r.wall_s;
  JsonSummary j;
  io::add_json_header(j, "ais", "ok", r.wall_s, comm, ms.type, smp.name);
  j.append(r.json);
  if (exact) j.add("log_z_exact", log_z_exact);
  j.add("chain_steps_per_s", r.chain_steps_per_s);
  if (out) r.output = io::publish(*out, j, comm);
  r.json = j;
  return r;
}

}  // namespace zeta::apps
