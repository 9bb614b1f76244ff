//! `zeta ais`: annealed importance sampling (estimators/ais.hpp) from a base with
//! known ln Z to the model at ais.beta: lattice models from β = 0, continuous ones
//! from a Gaussian base, RBMs (model.params) on the base-rate path, whose biases
//! are the file's /model/rbm/base_bias (the training data's marginals) or else the
//! RBM's own visible biases. With ais.exact (rbm) the exact ln Z (rank 0, broadcast)
//! goes into `log_z_exact`.
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
  cfg.declare("output.file", "zeta_ais.h5", "HDF5 output file (empty = none)");
  io::declare_output_backups_key(cfg);
}

AisResult ais(const Config& cfg, const parallel::Comm& comm) {
  Kokkos::Timer timer;
  const std::uint32_t seed = read_seed(cfg);
  const models::ModelSpec ms = models::read_model_spec(cfg);
  const samplers::SamplerSpec smp =
      samplers::sampler_for_model(samplers::read_sampler_spec(cfg), ms.type, ms.lattice());
  const bool rbm = ms.type == "rbm";  // block Gibbs
  const estimators::AisSpec as = estimators::read_ais_spec(cfg);
  const bool exact = cfg.get_bool("ais.exact");
  io::apply_output_backups(cfg);
  if (exact && !rbm) config_error("ais.exact", "applies to model.type = rbm only");
  const models::ModelParams params = models::load_model_params(cfg, ms, comm);
  double log_z_exact = NAN;
  if (!rbm && smp.type == samplers::SamplerType::langevin && comm.root())
    std::fprintf(stderr,
                 "zeta: warning: ULA (sampler.type = langevin) does not leave the intermediate distributions "
                 "invariant: AIS with it is biased; prefer mala or hmc\n");
  const parallel::ChainRange range = comm.chains(as.chains);
  samplers::check_system_memory(ms, params, range,
                                samplers::SystemOptions{1.0, samplers::RbmEnergy::joint, "ais.chains"}, comm);
  const std::string file = cfg.get_string("output.file");
  std::unique_ptr<io::OutputFile> out;
  if (!file.empty()) {
    out = std::make_unique<io::OutputFile>(comm, file);
    io::write_root_attributes(*out, "ais", cfg, comm);
  }
  const std::int64_t T = std::int64_t(as.a.size()) - 1;
  Progress progress("zeta ais", T, double(as.chains) * as.sweeps, "chain-steps", comm.root(),
                    cfg.get_nonnegative("run.progress_every"));
  const estimators::StageHook on_stage = [&](std::int64_t i) { progress.update(i); };
  const estimators::AisRun o = models::with_model<Space>(ms, params, [&](auto& m) {
    using M = std::decay_t<decltype(m)>;
    if constexpr (std::is_same_v<M, models::Ising<Space>>) {
      return estimators::run_ais(m, samplers::spin_move(smp), as, seed, range, on_stage);
    } else if constexpr (std::is_same_v<M, models::LoadedRbm<Space>>) {
      if (exact) log_z_exact = estimators::rbm_log_z_exact(m.rbm, as.beta, comm, "ais.exact");
      return estimators::run_ais(m.rbm, m.base_bias, as, seed, range, on_stage);
    } else {
      return estimators::run_ais(m, smp, as, seed, range, on_stage);
    }
  });

  AisResult r;
  static_cast<estimators::AisEstimate&>(r) = estimators::estimate(o, range, comm);
  r.base_log_z = o.base_log_z;
  r.log_z_exact = log_z_exact;
  if (out) estimators::write_ais(*out, as, o, range, comm);
  r.wall_s = timer.seconds();
  r.chain_steps_per_s = double(as.chains) * double(o.moves) / r.wall_s;
  auto& j = r.json;
  io::add_json_header(j, "ais", "ok", r.wall_s, comm, ms.type, smp.name);
  j.add("chains", as.chains);
  j.add("steps", T);
  j.add("beta", as.beta);
  j.add("log_z", r.log_z);
  j.add("log_z_stderr", r.log_z_stderr);
  j.add("ess", r.ess);
  j.add("log_weight_var", r.log_weight_var);
  j.add("base_log_z", r.base_log_z);
  if (exact) j.add("log_z_exact", log_z_exact);
  if (as.reverse) {
    j.add("log_z_lower", r.log_z);
    j.add("log_z_upper", r.log_z_upper);
    j.add("log_z_upper_stderr", r.log_z_upper_stderr);
  }
  j.add("chain_steps_per_s", r.chain_steps_per_s);
  if (out) r.output = io::publish(*out, j, comm);
  return r;
}

}  // namespace zeta::apps
