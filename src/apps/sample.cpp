//! `zeta sample`: a batch of chains at one β, with batch-means statistics (those of
//! `zeta temper`, estimators/timeseries.hpp) and HDF5 output.
//! Continuous models move with [sampler]; lattice models (Ising) by Metropolis or
//! heat-bath sweeps, with /samples/x the spins; RBMs (model.params) by block Gibbs,
//! with /samples/x the visible units and /samples/energy the free energy F_β(v).
#include <Kokkos_Core.hpp>

#include "apps/apps.hpp"
#include "zeta/core/error.hpp"
#include "zeta/io/output.hpp"
#include "zeta/models/factory.hpp"
#include "zeta/samplers/sampling.hpp"
#include "zeta/samplers/system.hpp"

namespace zeta::apps {

using Space = Kokkos::DefaultExecutionSpace;

void declare_sample_keys(Config& cfg) {
  declare_run_keys(cfg);
  models::declare_model_keys(cfg);
  samplers::declare_sampler_keys(cfg);
  cfg.declare("output.file", "zeta_sample.h5", "HDF5 output file (empty = none)");
  io::declare_output_backups_key(cfg);
  cfg.declare("output.landscape", "false", "2-D models: also write /landscape/energy on a grid with an .xmf sidecar");
  cfg.declare("output.landscape_range", "-3,3,-3,3", "landscape grid range xmin,xmax,ymin,ymax");
  cfg.declare("output.landscape_n", "128", "landscape grid points per axis");
}

samplers::SampleResult sample(const Config& cfg, const parallel::Comm& comm) {
  // Everything is validated before any file is created.
  const RunSpec run = read_run_spec(cfg);
  const models::ModelSpec ms = models::read_model_spec(cfg);
  const samplers::SamplerSpec smp =
      samplers::sampler_for_model(samplers::read_sampler_spec(cfg), ms.type, ms.lattice());
  const parallel::ChainRange range = comm.chains(smp.chains);
  if (ms.type == "rbm" && cfg.get_bool("output.landscape"))
    config_error("output.landscape", "does not apply to model.type = rbm");
  const io::LandscapeSpec land = ms.type == "rbm" ? io::LandscapeSpec{} : io::read_landscape_spec(cfg, ms.dim);
  io::apply_output_backups(cfg);
  // RBM chains report the free energy F_β(v) of the saved x = v.
  const samplers::SystemOptions opt{smp.beta, samplers::RbmEnergy::free};
  const samplers::SamplingSetup setup{run, smp.chains, land, cfg.get_string("output.file"), cfg.resolved_ini()};
  const models::ModelParams params = models::load_model_params(cfg, ms, comm);
  samplers::check_system_memory(ms, params, range, opt, comm);
  return samplers::with_system<Space>(ms, params, smp, range, run.seed, opt, [&](auto& sys) {
    return samplers::run_sampling(sys, setup, range, comm, [&](samplers::SampleResult& r) {
      auto& j = r.json;
      io::add_json_header(j, "sample", r.status, r.wall_s, comm, sys.name(), smp.name);
      j.add("chains", smp.chains);
      j.add("steps", r.steps_done);
      j.add("mean_energy", r.mean_energy);
      j.add("mean_energy_stderr", r.mean_energy_stderr);
      j.add("tau_int", r.tau_int);
      j.add("acceptance", r.acceptance);
      j.add("acceptance_min", r.acceptance_min);
      j.add("chain_steps_per_s", r.chain_steps_per_s);
    });
  });
}

}  // namespace zeta::apps
