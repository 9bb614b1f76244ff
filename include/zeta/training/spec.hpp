//! `zeta train`'s settings: the [train] keys (with the [run], [model], [data],
//! [sampler], [output] and [checkpoint] keys it reads), declared and validated once,
//! before any file is created.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/core/config.hpp"
#include "zeta/data/dataset.hpp"
#include "zeta/io/checkpoint.hpp"
#include "zeta/models/factory.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/samplers/samplers.hpp"
#include "zeta/tempering/ladder.hpp"
#include "zeta/training/optimizer.hpp"

namespace zeta::training {

struct TrainSpec {
  std::uint32_t seed = 1;
  std::int64_t steps = 0;
  double max_hours = 0, progress_every = 5;
  bool pcd = true;
  bool jem = false;  //!< train.objective = jem: cross-entropy + the pcd term (pcd is set too)
  bool dsm = false;
  //! ncsn (training/mlp_ncsn.hpp): noise-conditional DSM, dsm set too; `annealed` is the
  //! sampler of its eval samples (the ladder is `sigma`).
  bool ncsn = false;
  samplers::SamplerSpec annealed;
  //! ncsn with train.ncsn_energy = conditional: E(x, σ), ln σ the MLP's last input
  //! (models/noise_conditional_mlp.hpp); false: one E(x) for every level.
  bool sigma_input = false;
  //! ncsn: the annealed Langevin samples after training (0: train.batch).
  std::int64_t eval_samples = 0;
  //! pt_pcd (training/rbm_tempered.hpp): pcd set too; the ladder's β (increasing, last 1).
  bool pt_pcd = false;
  std::vector<double> temper_betas;
  //! pt_pcd's ladder adaptation (training/tempered.hpp TemperedLadder): the rule, and its
  //! windows of doubling length over the first temper_adapt_steps steps.
  tempering::LadderAdapt temper_adapt = tempering::LadderAdapt::none;
  std::int64_t temper_adapt_steps = 0;
  int temper_adapt_rounds = 6;
  int k = 1;
  std::int64_t batch = 0, chains = 0, eval_every = 0;
  std::int64_t ais_every = 0, ais_steps = 0, ais_chains = 0;
  bool deterministic = true;
  bool shared_reduction = true;  //!< train.reduction = shared (else mpi)
  //! dsm: the noise scales (one, or several for multi-σ DSM) and the grid of the NLL monitor.
  std::vector<double> sigma;
  std::int64_t grid_points = 0;
  //! mlp cd / pcd: the Langevin negatives (step size, clip, clamp, fresh-state scale),
  //! the replay buffer over all ranks, its re-initialisation probability, and the
  //! energy regulariser α.
  samplers::SamplerSpec langevin;
  std::int64_t buffer_size = 0;
  double reinit_prob = 0.05, energy_reg = 0;
  OptimizerSpec opt;
  std::string file;
  //! train.objective as given: cd | pcd | dsm | short_run_cd | nce | ssm | ssm_vr.
  std::string objective = "pcd";
  //! mlp short_run_cd (training/mlp_short_run.hpp): negatives from fresh noise every step.
  bool short_run = false;
  //! mlp nce (training/mlp_nce.hpp): noise samples per data sample ν, the noise
  //! distribution (a Gaussian fitted to the data, or uniform on a box: [lo, hi] per
  //! coordinate; empty = the data's bounding box widened by a tenth of its range).
  bool nce = false;
  std::int64_t nce_ratio = 4;
  bool nce_uniform = false;
  std::vector<double> nce_box;
  //! mlp ssm / ssm_vr (training/mlp_ssm.hpp): the projections v (Rademacher or Gaussian)
  //! and the variance-reduced form ½‖∇x E‖² for SSM's ½ (vᵀ∇x E)².
  bool ssm = false, ssm_vr = false, rademacher = false;
  //! ssm / ssm_vr: independent projections v per example and step, the loss their mean.
  int projections = 1;
};

//! Everything `zeta train` reads: the training settings, the model, the data, the checkpoints.
struct TrainSetup {
  TrainSpec train;
  models::ModelSpec model;
  data::DataSpec data;
  io::CheckpointSpec checkpoint;
  std::string config;  //!< the resolved INI: the outputs' root attribute and the checkpoints' signature
  std::string defaults;  //!< every key at its default (Config::defaults_ini): keys newer than a checkpoint
  //! Run by Mlp: an mlp of one output (the energy).
  bool mlp() const { return model.type == "mlp" && !model.mlp_logits; }
  //! Run by Net: a net, or an mlp of K >= 2 outputs (JEM).
  bool net() const { return model.hosted_net(); }
};

//! Declares every key `zeta train` takes.
void declare_train_keys(Config& cfg);
//! Declares train.optimizer, train.lr and train.momentum again with defaults per
//! model.type (rbm: SGD, mlp: Adam); a value given always wins.
void declare_per_kind_defaults(Config& cfg);
//! The keys of the nce, ssm and ssm_vr objectives (spec_nce_ssm.cpp): declared, and
//! read and checked for train.objective = `objective` (errors name the key).
void declare_nce_ssm_keys(Config& cfg);
void read_nce_ssm_keys(const Config& cfg, TrainSpec& ts, const std::string& objective);
//! Reads and validates them for a run on `comm` (errors name the key).
TrainSetup read_train_setup(const Config& cfg, const parallel::Comm& comm);

}  // namespace zeta::training
