#include "zeta/training/spec.hpp"

#include <cmath>
#include <string>

#include "zeta/core/error.hpp"
#include "zeta/core/json.hpp"
#include "zeta/core/run.hpp"
#include "zeta/models/mlp.hpp"
#include "zeta/training/mlp_ncsn.hpp"
#include "zeta/training/tempered.hpp"

namespace zeta::training {

void declare_train_keys(Config& cfg) {
  cfg.declare("run.seed", "1", "seed of the counter-based RNG: data order, Gibbs draws, monitors (0 .. 2^32-1)");
  cfg.declare("run.steps", "1000", "optimizer steps in total (a restart runs on until this many)");
  cfg.declare("run.max_hours", "0", "stop cleanly (status interrupted) after this many hours (0 = no limit)");
  declare_progress_key(cfg);
  models::declare_model_keys(cfg);
  cfg.declare("model.type", "rbm",
              "rbm (Bernoulli or Gaussian visible units, model.visible) | mlp (a neural energy, model.layers) | net (a "
              "layer stack with conv layers, model.net); "
              "the train keys whose default reads 'rbm: X, mlp: Y' take the one of this kind");
  data::declare_data_keys(cfg);
  cfg.declare(
      "train.objective", "pcd",
      "rbm: cd (k Gibbs sweeps from the data rows) | pcd (persistent chains) | pt_pcd (persistent chains, each a "
      "ladder of train.temper_count tempered replicas); mlp: dsm (denoising score "
      "matching) | ncsn (noise-conditional DSM over the train.sigma ladder, s(x, sigma) = -grad E / sigma) | "
      "cd (k Langevin steps from the data rows) | pcd (k Langevin steps from a replay buffer) | pt_pcd (k Langevin "
      "steps of persistent chains, each a ladder of train.temper_count tempered replicas) | short_run_cd (k "
      "Langevin steps from fresh noise) | nce (noise-contrastive estimation) | ssm | ssm_vr (sliced score "
      "matching, and its variance-reduced form) | jem (model.layers ending in K logits, as a net's); net: cd | pcd | dsm, as an mlp's (dsm: silu / softplus layers "
      "only) | jem (a classifier p(y|x) = softmax f(x) of model.net's K outputs and the energy E(x) = "
      "-logsumexp f(x): cross-entropy on data.labels plus pcd's term on E)");
  declare_nce_ssm_keys(cfg);
  cfg.declare("train.sigma", "0.1",
              "dsm: the noise scale sigma > 0, or a comma list of them (multi-sigma DSM: each example's sigma drawn "
              "uniformly from the list); every example's loss is weighted by sigma^2");
  cfg.declare(
      "train.grid_points", "128",
      "mlp on 2-D data with a held-out split: cells per axis of the grid that normalises the model for the "
      "held-out NLL monitor (0 = no NLL monitor); with output.file the final energy on its cell centres goes to "
      "/landscape (+ .xmf for ParaView)");
  declare_ncsn_keys(cfg);
  declare_tempered_keys(cfg);
  cfg.declare("train.k", "1", "rbm: Gibbs sweeps, mlp cd / pcd: Langevin steps of the negative phase per step");
  cfg.declare("train.buffer_size", "10000",
              "mlp pcd: replay-buffer states over all ranks, buffer_size / data.partitions kept with each partition "
              "(must divide, and be at least train.batch); each step draws its negatives from it with replacement");
  cfg.declare("train.reinit_prob", "0.05",
              "mlp pcd: probability that a drawn buffer state restarts from noise (U(sampler.clamp) when the "
              "sampler clamps, else N(0, sampler.init_scale^2)), 0 .. 1");
  cfg.declare("train.energy_reg", "0",
              "mlp cd / pcd: alpha >= 0 of the energy regulariser alpha (<E(data)^2> + <E(negatives)^2>)");
  cfg.declare_per_value("sampler.type", "model.type", {{"rbm", "gibbs"}}, "langevin",
                        "the negative phase's move: rbm: block Gibbs (train.k sweeps); mlp cd / pcd: langevin only "
                        "(x - (eps/2) clip(grad E) + sqrt(eps) z, clamped)");
  samplers::declare_langevin_keys(cfg);
  cfg.declare("sampler.noise_scale", "1",
              "mlp, net cd / pcd: the noise scale eta > 0 of the negatives' moves x - (eps/2) grad E + eta sqrt(eps) z "
              "(1: Langevin at the model's temperature; noise 0.005 at step_size 10 is eta = 0.0016)");
  cfg.declare("train.batch", "64",
              "global mini-batch (examples per step over all ranks): >= the number of ranks and a multiple of "
              "data.partitions");
  cfg.declare("train.chains", "64",
              "pcd: persistent chains over all ranks, chains / data.partitions per partition (must divide)");
  cfg.declare(
      "train.deterministic", "true",
      "true: per-partition gradients summed in a fixed pairwise tree, bitwise-identical parameters on any "
      "power-of-two rank count that divides data.partitions; false: one sum of the flat gradient over the ranks "
      "per step (train.reduction)");
  cfg.declare("train.reduction", "shared",
              "train.deterministic = false: shared (the ranks of a node sum the flat gradient in memory they share, "
              "an MPI-3 window; node leaders add the node sums by one MPI_Allreduce) | mpi (one MPI_Allreduce of the "
              "flat gradient over all ranks)");
  cfg.declare("train.eval_every", "10",
              "monitor (rbm: reconstruction error, pseudo-log-likelihood (Bernoulli visible units only), free "
              "energies; mlp: the batch loss (cd / pcd: and mean energies), and on 2-D data the grid held-out NLL; "
              "all: gradient norm) at every step that is a multiple of this, on that step's batch before its update, "
              "and once more at run.steps on the final parameters (0 = never, but for the NLL at run.steps)");
  cfg.declare("train.ais_every", "0",
              "at every step that is a multiple of this (before its update) and on the final parameters at "
              "run.steps, an AIS estimate of ln Z and of the held-out log-likelihood −⟨F(v)⟩ − ln Z with its "
              "standard error (0 = never; needs a held-out split)");
  cfg.declare("train.ais_steps", "1000", "intermediate distributions of that AIS (base-rate path, linear schedule)");
  cfg.declare("train.ais_chains", "100", "AIS chains over all ranks");
  declare_optimizer_keys(cfg);
  declare_per_kind_defaults(cfg);
  cfg.declare("output.file", "zeta_train.h5",
              "HDF5 output file (empty = none): /model/rbm or /model/layer_l, and the /train series");
  io::declare_checkpoint_keys(cfg);
}

void declare_per_kind_defaults(Config& cfg) {
  // An RBM learns fastest by plain SGD at a large rate with a little momentum (Hinton's
  // recipe; measured against scikit-learn's BernoulliRBM in docs/train.md); an MLP
  // energy by Adam at 1e-3.
  const auto per_kind = [&](const char* key, const char* rbm, const char* mlp, const std::string& help) {
    cfg.declare_per_value(key, "model.type", {{"rbm", rbm}, {"mlp", mlp}, {"net", mlp}}, "", help);
  };
  per_kind("train.optimizer", "sgd", "adam", "sgd (with momentum) or adam");
  per_kind("train.lr", "0.1", "1e-3", "learning rate (the schedule's starting value)");
  per_kind("train.momentum", "0.5", "0.9", "sgd momentum μ (0 = plain SGD)");
}

namespace {

//! The keys of an mlp's objectives: the Langevin negatives, the replay buffer and the
//! energy regulariser (cd / pcd), the noise scales and the NLL grid (all).
void read_mlp_keys(const Config& cfg, TrainSpec& ts, const std::string& objective, int D) {
  read_nce_ssm_keys(cfg, ts, objective);
  if (!ts.dsm && !ts.nce && !ts.ssm) {
    if (cfg.differs_from_default("train.sigma"))
      config_error("train.sigma", "is the DSM noise scale; " + objective + " takes none");
    if (cfg.differs_from_default("train.chains") && !ts.pt_pcd)
      config_error("train.chains", "is the RBM's persistent chains; an mlp's negatives come from train.buffer_size");
    cfg.get_choice("sampler.type", {"langevin"});
    samplers::read_langevin_keys(cfg, ts.langevin);
    ts.langevin.type = samplers::SamplerType::langevin;
    ts.langevin.noise_scale = cfg.get_positive("sampler.noise_scale");
    ts.buffer_size = cfg.get_int_at_least("train.buffer_size", 1);
    if (ts.short_run)
      for (const char* key : {"train.buffer_size", "train.reinit_prob"})
        if (cfg.differs_from_default(key))
          config_error(key, "applies to train.objective = pcd; short_run_cd starts from noise every step");
    if (ts.pcd && ts.buffer_size < ts.batch)
      config_error("train.buffer_size", std::to_string(ts.buffer_size) + " states are fewer than train.batch = " +
                                            std::to_string(ts.batch) + ": each step draws a batch of negatives from the buffer");
    if (ts.pcd && ts.buffer_size % D != 0)
      config_error("train.buffer_size", std::to_string(ts.buffer_size) + " states do not divide over data.partitions = " +
                                            std::to_string(D) + " (needs a multiple)");
    ts.reinit_prob = cfg.get_nonnegative("train.reinit_prob");
    if (ts.reinit_prob > 1) config_error("train.reinit_prob", "is a probability, at most 1");
    ts.energy_reg = cfg.get_nonnegative("train.energy_reg");
  }
  ts.sigma = cfg.get_doubles("train.sigma");
  if (ts.sigma.empty()) config_error("train.sigma", "needs at least one noise scale");
  for (double sg : ts.sigma)
    if (!(sg > 0) || !std::isfinite(sg))
      config_error("train.sigma", "noise scales must be finite and > 0 (got " + json_number(sg) + ")");
  ts.grid_points = cfg.get_int_at_least("train.grid_points", 0);
  if (ts.ais_every > 0) config_error("train.ais_every", "is the RBM's AIS monitor; the mlp is monitored on a grid");
}

//! The global batch, the persistent chains and the reduction against the ranks and partitions.
void read_batch_keys(const Config& cfg, TrainSpec& ts, const parallel::Comm& comm, int D) {
  ts.batch = cfg.get_int_at_least("train.batch", 1);
  const int R = comm.size();
  if (ts.batch < R)
    config_error("train.batch", std::to_string(ts.batch) + " is smaller than the number of ranks (" +
                                    std::to_string(R) + "): every rank needs examples");
  if (ts.batch % D != 0)
    config_error("train.batch", std::to_string(ts.batch) + " is not a multiple of data.partitions = " +
                                    std::to_string(D));
  ts.chains = cfg.get_int_at_least("train.chains", 1);
  if (ts.pcd && ts.chains % D != 0)
    config_error("train.chains", std::to_string(ts.chains) + " persistent chains do not divide over data.partitions = " +
                                     std::to_string(D) + " (needs a multiple)");
  ts.deterministic = cfg.get_bool("train.deterministic");
  ts.shared_reduction = cfg.get_choice("train.reduction", {"shared", "mpi"}) == "shared";
  if (ts.deterministic && cfg.differs_from_default("train.reduction"))
    config_error("train.reduction",
                 "applies to train.deterministic = false (the deterministic mode sums in a fixed tree)");
  if (ts.deterministic && (!comm.power_of_two() || D % R != 0))
    config_error("train.deterministic", "needs a power-of-two number of ranks that divides data.partitions (here " +
                                            std::to_string(R) + " ranks, " + std::to_string(D) +
                                            " partitions); set train.deterministic = false to train on any rank count");
}

}  // namespace

TrainSetup read_train_setup(const Config& cfg, const parallel::Comm& comm) {
  TrainSetup setup;
  TrainSpec& ts = setup.train;
  ts.seed = read_seed(cfg);
  ts.steps = cfg.get_int_at_least("run.steps", 1);
  ts.max_hours = cfg.get_nonnegative("run.max_hours");
  ts.progress_every = cfg.get_nonnegative("run.progress_every");
  const models::ModelSpec& ms = setup.model = models::read_model_spec(cfg);
  if (ms.type != "rbm" && ms.type != "mlp" && ms.type != "net")
    config_error("model.type", "zeta train trains model.type = rbm, mlp or net (got '" + ms.type + "')");
  // A net takes an mlp's cd / pcd keys (Langevin negatives, replay buffer, energy regulariser).
  const bool mlp = ms.type == "mlp" || ms.type == "net";
  const data::DataSpec& dspec = setup.data = data::read_data_spec(cfg);
  const std::string objective = cfg.get_choice(
      "train.objective", {"cd", "pcd", "dsm", "ncsn", "pt_pcd", "short_run_cd", "nce", "ssm", "ssm_vr", "jem"});
  if (!mlp && objective != "cd" && objective != "pcd" && objective != "pt_pcd")
    config_error("train.objective", objective + " trains model.type = mlp; an rbm takes cd, pcd or pt_pcd");
  ts.objective = objective;
  ts.ncsn = objective == "ncsn";
  ts.dsm = objective == "dsm" || ts.ncsn;
  ts.pt_pcd = objective == "pt_pcd";
  ts.jem = objective == "jem";
  // an mlp's pt_pcd keeps no replay buffer; jem's generative term is pcd's
  ts.pcd = objective == "pcd" || (ts.pt_pcd && !mlp) || ts.jem;
  ts.short_run = objective == "short_run_cd";
  ts.nce = objective == "nce";
  ts.ssm = objective == "ssm" || objective == "ssm_vr";
  ts.ssm_vr = objective == "ssm_vr";
  if (ts.jem && !ms.hosted_net())
    config_error("train.objective", "jem trains model.type = net or mlp (a classifier: model.net ending in "
                                    "linear(K), model.layers ending in K)");
  if (ms.type == "net" && objective != "cd" && objective != "pcd" && objective != "dsm" && !ts.jem)
    config_error("train.objective", objective +
                                        " trains model.type = mlp; a net takes cd, pcd, dsm or jem (the "
                                        "other objectives of conv nets are to come)");
  if (ts.jem && !dspec.labelled())
    config_error("data.labels", "is required by train.objective = jem (the class of every example)");
  // DSM differentiates ∇x E once more: refuse a kinked layer before any other key.
  if (ms.type == "net" && ts.dsm) models::require_smooth_net(ms.net);
  const auto k = cfg.get_int_at_least("train.k", 1);
  if (k > 100000) config_error("train.k", "is impossibly large");
  ts.k = int(k);
  const int D = dspec.partitions;
  read_batch_keys(cfg, ts, comm, D);
  ts.eval_every = cfg.get_int_at_least("train.eval_every", 0);
  ts.ais_every = cfg.get_int_at_least("train.ais_every", 0);
  ts.ais_steps = cfg.get_int_at_least("train.ais_steps", 1);
  ts.ais_chains = cfg.get_int_at_least("train.ais_chains", 2);
  ts.opt = read_optimizer_spec(cfg);
  const io::CheckpointSpec& ck = setup.checkpoint = io::read_checkpoint_spec(cfg);
  ts.file = cfg.get_string("output.file");
  io::check_checkpoint_vs_output(ck, ts.file);
  if (!mlp)
    for (const char* key : {"train.buffer_size", "train.reinit_prob", "train.energy_reg", "sampler.type",
                            "sampler.step_size", "sampler.clip_grad", "sampler.clamp", "sampler.init_scale",
                            "sampler.noise_scale"})
      if (cfg.differs_from_default(key))
        config_error(key, "applies to model.type = mlp (an rbm's negatives come from block Gibbs)");
  if (mlp) {
    read_mlp_keys(cfg, ts, objective, D);
    // DSM differentiates ∇x E once more: refuse a kinked activation before any work.
    if (ts.dsm && ms.type == "mlp") models::require_smooth_activation(ms.activation);
    if (ms.type == "net" && cfg.differs_from_default("model.activation"))
      config_error("model.activation", "is the mlp's; a net's activations are layers of model.net");
  }
  read_ncsn_keys(cfg, ts);
  read_tempered_keys(cfg, ts, mlp);
  setup.config = cfg.resolved_ini();
  setup.defaults = cfg.defaults_ini();
  return setup;
}

}  // namespace zeta::training
