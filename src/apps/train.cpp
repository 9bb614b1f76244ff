//! `zeta train`: data-parallel training of an RBM by CD-k or PCD
//! (training/rbm_contrastive.hpp; tempered: training/rbm_tempered.hpp), or of an MLP
//! energy by denoising score matching (training/mlp_dsm.hpp; noise-conditional:
//! training/mlp_ncsn.hpp), by CD / PCD with Langevin negatives
//! (training/mlp_contrastive.hpp; tempered: training/mlp_tempered.hpp), by short-run CD
//! from noise (training/mlp_short_run.hpp), by NCE (training/mlp_nce.hpp) or by sliced
//! score matching (training/mlp_ssm.hpp), or of a layer-stack energy by CD / PCD
//! (training/net_contrastive.hpp) or DSM (training/net_dsm.hpp), all through the one loop of training/trainer.hpp.
#include <Kokkos_Core.hpp>
#include <vector>

#include "apps/apps.hpp"
#include "zeta/data/dataset.hpp"
#include "zeta/io/output.hpp"
#include "zeta/models/mlp.hpp"
#include "zeta/models/rbm.hpp"
#include "zeta/training/jem.hpp"
#include "zeta/training/mlp_contrastive.hpp"
#include "zeta/training/mlp_dsm.hpp"
#include "zeta/training/mlp_nce.hpp"
#include "zeta/training/mlp_ncsn.hpp"
#include "zeta/training/mlp_short_run.hpp"
#include "zeta/training/mlp_ssm.hpp"
#include "zeta/training/mlp_tempered.hpp"
#include "zeta/training/net_contrastive.hpp"
#include "zeta/training/net_dsm.hpp"
#include "zeta/training/rbm_contrastive.hpp"
#include "zeta/training/rbm_tempered.hpp"
#include "zeta/training/spec.hpp"
#include "zeta/training/trainer.hpp"

namespace zeta::apps {

using Space = Kokkos::DefaultExecutionSpace;

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
  auto run = [&](training::Objective& objective) {
    training::Trainer trainer(setup, comm, objective);
    return trainer.run(timer, [&](TrainResult& res) { add_summary(res, trainer, objective, setup, comm); });
  };
  if (setup.mlp()) {
    models::Mlp<Space> mlp(models::loaded_params<io::MlpParams>(params), setup.model.activation);
    if (ts.ncsn) {
      training::MlpNcsn ncsn(ts, setup.data, d, mlp, comm);
      return run(ncsn);
    }
    if (ts.dsm) {
      training::MlpDsm dsm(ts, setup.data, d, mlp, comm);
      return run(dsm);
    }
    if (ts.nce) {
      training::MlpNce nce(ts, setup.data, d, mlp, comm);
      return run(nce);
    }
    if (ts.ssm) {
      training::MlpSsm ssm(ts, setup.data, d, mlp, comm);
      return run(ssm);
    }
    if (ts.short_run) {
      training::MlpShortRunCd short_run(ts, setup.data, d, mlp, comm);
      return run(short_run);
    }
    if (ts.pt_pcd) {
      training::MlpTempered tempered(ts, setup.data, d, mlp, comm);
      return run(tempered);
    }
    training::MlpContrastive contrastive(ts, setup.data, d, mlp, comm);
    return run(contrastive);
  }
  if (setup.net()) {
    const auto& p = models::loaded_params<models::NetParams>(params);
    models::Net<Space> net(setup.model.net, p.theta, p.spectral);
    if (ts.jem) {
      training::JemObjective jem(ts, setup.data, d, net, comm);
      return run(jem);
    }
    if (ts.dsm) {
      training::NetDsm dsm(ts, d, net, comm);
      return run(dsm);
    }
    training::NetContrastive contrastive(ts, d, net, comm);
    return run(contrastive);
  }
  std::vector<double> base_bias;
  models::Rbm<Space> rbm = training::initial_rbm(setup, d, params, comm, base_bias);
  if (ts.pt_pcd) {
    training::RbmTempered tempered(ts, d, rbm, base_bias, comm);
    return run(tempered);
  }
  training::RbmContrastive contrastive(ts, d, rbm, base_bias, comm);
  return run(contrastive);
}

}  // namespace zeta::apps
