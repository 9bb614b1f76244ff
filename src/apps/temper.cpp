//! `zeta temper`: parallel tempering over MPI ranks (the loop is tempering/tempering.hpp's
//! Tempering): reads [run], [model], [sampler], [temper], [checkpoint], builds the
//! chain system and writes the JSON summary.
#include <Kokkos_Core.hpp>

#include "apps/apps.hpp"
#include "zeta/core/error.hpp"
#include "zeta/io/checkpoint.hpp"
#include "zeta/io/output.hpp"
#include "zeta/models/factory.hpp"
#include "zeta/samplers/system.hpp"
#include "zeta/tempering/ladder.hpp"
#include "zeta/tempering/tempering.hpp"

namespace zeta::apps {

using Space = Kokkos::DefaultExecutionSpace;

void declare_temper_app_keys(Config& cfg) {
  declare_run_keys(cfg);
  models::declare_model_keys(cfg);
  samplers::declare_sampler_keys(cfg);
  tempering::declare_temper_keys(cfg);
  cfg.declare("output.file", "zeta_temper.h5", "HDF5 output file (empty = none)");
  io::declare_output_backups_key(cfg);
  io::declare_checkpoint_keys(cfg);
}

namespace {

void add_summary(JsonSummary& j, const tempering::TemperResult& res, const tempering::TemperSpec& ts, bool lattice) {
  j.add("levels", ts.levels());
  j.add("copies", ts.copies);
  j.add("scheme", ts.scheme == tempering::SwapScheme::deo ? "deo" : "random");
  j.add("steps", res.steps_done);
  j.add("betas", res.betas);
  j.add("acceptance", res.acceptance);
  j.add("round_trips", res.total_round_trips);
  j.add("round_trip_rate", res.round_trip_rate);
  j.add("barrier", res.barrier);
  j.add("flow", res.flow);
  j.add("mean_energy", res.mean_energy);
  j.add("mean_energy_stderr", res.mean_energy_stderr);
  j.add("tau_int", res.tau_int);
  if (lattice) {
    j.add("mean_abs_magnetization", res.mean_abs_magnetization);
    j.add("mean_abs_magnetization_stderr", res.mean_abs_magnetization_stderr);
  }
  if (!res.log_z_bar.empty()) {
    j.add("log_z_bar", res.log_z_bar);
    j.add("log_z_bar_stderr", res.log_z_bar_stderr);
    j.add("log_z_reference", res.log_z_absolute ? "absolute (beta_0 = 0)" : "relative to betas[0]");
  }
  j.add("move_acceptance", res.move_acceptance);
  j.add("sweeps_per_s", res.sweeps_per_s);
  j.add("exchange_fraction", res.exchange_fraction);
  j.add("sync_wait_fraction", res.sync_wait_fraction);
}

}  // namespace

tempering::TemperResult temper(const Config& cfg, const parallel::Comm& comm) {
  // Everything is validated before any file is created.
  const RunSpec run = read_run_spec(cfg);
  const models::ModelSpec ms = models::read_model_spec(cfg);
  const samplers::SamplerSpec smp =
      samplers::sampler_for_model(samplers::read_sampler_spec(cfg), ms.type, ms.lattice());
  samplers::refuse_annealed(smp, "temper");
  samplers::refuse_cluster_window(smp, "temper");
  const tempering::TemperSpec ts = tempering::read_temper_spec(cfg, ms.lattice());
  const io::CheckpointSpec ck = io::read_checkpoint_spec(cfg);
  io::check_checkpoint_vs_output(ck, cfg.get_string("output.file"));
  io::apply_output_backups(cfg);
  const parallel::ChainRange range = comm.chains(std::int64_t(ts.levels()) * ts.copies);
  // RBM replicas exchange on the joint energy E(v, h) that the Gibbs sweep leaves invariant.
  const samplers::SystemOptions opt{1.0, samplers::RbmEnergy::joint, "temper.copies"};
  const tempering::TemperingSetup setup{
      run, ts, ck, cfg.get_string("output.file"), cfg.resolved_ini(), cfg.defaults_ini()};
  const models::ModelParams params = models::load_model_params(cfg, ms, comm);
  samplers::check_system_memory(ms, params, range, opt, comm);
  return samplers::with_system<Space>(ms, params, smp, range, run.seed, opt, [&](auto& sys) {
    tempering::Tempering<std::decay_t<decltype(sys)>> pt(sys, setup, range, comm);
    return pt.run([&](tempering::TemperResult& r) {
      io::add_json_header(r.json, "temper", r.status, r.wall_s, comm, sys.name(), smp.name);
      add_summary(r.json, r, ts, ms.lattice());
    });
  });
}

}  // namespace zeta::apps
