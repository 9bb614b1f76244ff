//! `zeta train`: data-parallel training of an RBM (CD-k, PCD, PT-PCD), an MLP energy
//! (DSM, NCSN, CD / PCD, PT-PCD, short-run CD, NCE, SSM) or a layer-stack energy (CD /
//! PCD, DSM, JEM): training/objectives.hpp picks the objective, training/trainer.hpp
//! runs the one loop.
#include <Kokkos_Core.hpp>
#include <vector>

#include "apps/apps.hpp"
#include "zeta/data/dataset.hpp"
#include "zeta/io/output.hpp"
#include "zeta/training/objectives.hpp"
#include "zeta/training/spec.hpp"
#include "zeta/training/trainer.hpp"

namespace zeta::apps {

void declare_train_app_keys(Config& cfg) {
  training::declare_train_keys(cfg);
  io::declare_output_backups_key(cfg);
}

namespace {

//! The JSON line (collective): the header, the objective's figures, the rates and the
//! share of the step loop spent summing gradients over ranks (the output's name is
//! added when it is published).
void add_summary(TrainResult& res, const training::Trainer& trainer, const training::Objective& objective,
                 const training::TrainSetup& setup, const parallel::Comm& comm) {
  auto& j = res.json;
  io::add_json_header(j, "train", res.status, res.wall_s, comm, objective.model_name(), objective.sampler_name());
  objective.add_json(j, res);
  j.add("updates_per_s", res.updates_per_s);
  j.add("examples_per_s", res.examples_per_s);
  training::add_reduce_json(j, comm, trainer.reduce_clock(), trainer.loop_s());
  if (!setup.checkpoint.file.empty()) j.add("checkpoint", setup.checkpoint.file);
}

}  // namespace

TrainResult train(const Config& cfg, const parallel::Comm& comm) {
  Kokkos::Timer timer;
  // Everything is validated before any file is created.
  const training::TrainSetup setup = training::read_train_setup(cfg, comm);
  const training::TrainSpec& ts = setup.train;
  io::apply_output_backups(cfg);
  const data::Dataset d = data::load(setup.data, ts.seed, comm);
  const models::ModelParams params =
      models::load_model_params(cfg, setup.model, comm, models::ParamsExpect{d.dim, setup.data.path, true});
  return training::with_objective(setup, d, params, comm, [&](training::Objective& objective) {
    training::Trainer trainer(setup, comm, objective);
    return trainer.run(timer, [&](TrainResult& res) { add_summary(res, trainer, objective, setup, comm); });
  });
}

}  // namespace zeta::apps
