//! `zeta train`: data-parallel training of an RBM by CD-k or PCD (here), or of
//! an MLP energy by denoising score matching (train_mlp.cpp, same loop shape).
//!
//! Every rank holds its data partitions (data::load) and, for PCD, the
//! persistent chains of those partitions; parameter replicas stay identical
//! because every rank applies the same optimizer step to the same reduced
//! gradient. Step s:
//!   positive phase  the rows of global batch s (BatchPlan), weight +1/B;
//!   negative phase  CD-k: k Gibbs sweeps from those rows; PCD: k sweeps of the
//!                   persistent chains (global chain id p·(chains/D) + j); weight −1/M;
//!   reduction       deterministic: one gradient per partition, a pairwise tree
//!                   over the rank's partitions, then Comm::tree_allreduce, so the
//!                   parameters are bitwise the same on 1, 2, 4 ranks; otherwise one
//!                   gradient over the rank's rows and one MPI_Allreduce;
//!   update          training::Optimizer (schedule, clipping, weight decay).
//! The Gibbs counter is s·k + sweep and the batch is a function of s, so a
//! checkpoint needs only θ, the optimizer state, the PCD chains and s.
#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstdio>
#include <memory>

#include "apps/apps.hpp"
#include "zeta/io/output.hpp"
#include "zeta/config.hpp"
#include "zeta/core/error.hpp"
#include "zeta/core/math.hpp"
#include "zeta/core/progress.hpp"
#include "zeta/data/dataset.hpp"
#include "zeta/estimators/ais_stats.hpp"
#include "zeta/estimators/ais.hpp"
#include "zeta/io/checkpoint.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/io/params.hpp"
#include "zeta/models/factory.hpp"
#include "zeta/models/rbm.hpp"
#include "zeta/rng/philox.hpp"
#include "zeta/training/optimizer.hpp"
#include "train_common.hpp"

namespace zeta::apps {

using Space = Kokkos::DefaultExecutionSpace;

void declare_train_app_keys(Config& cfg) {
  cfg.declare("run.seed", "1", "seed of the counter-based RNG: data order, Gibbs draws, monitors (0 .. 2^32-1)");
  cfg.declare("run.steps", "1000", "optimizer steps in total (a restart runs on until this many)");
  cfg.declare("run.max_hours", "0", "stop cleanly (status interrupted) after this many hours (0 = no limit)");
  declare_progress_key(cfg);
  declare_model_keys(cfg);
  data::declare_data_keys(cfg);
  cfg.declare("train.objective", "pcd",
              "rbm: cd (k Gibbs sweeps from the data rows) | pcd (persistent chains); mlp: dsm (denoising score "
              "matching) | cd (k Langevin steps from the data rows) | pcd (k Langevin steps from a replay buffer)");
  cfg.declare("train.sigma", "0.1",
              "dsm: the noise scale sigma > 0, or a comma list of them (multi-sigma DSM: each example's sigma drawn "
              "uniformly from the list); every example's loss is weighted by sigma^2");
  cfg.declare(
      "train.grid_points", "128",
      "mlp on 2-D data with a held-out split: cells per axis of the grid that normalises the model for the "
      "held-out NLL monitor (0 = no NLL monitor); with output.file the final energy on its cell centres goes to "
      "/landscape (+ .xmf for ParaView)");
  cfg.declare("train.k", "1", "rbm: Gibbs sweeps, mlp cd / pcd: Langevin steps of the negative phase per step");
  cfg.declare("train.buffer_size", "10000",
              "mlp pcd: replay-buffer states over all ranks, buffer_size / data.partitions kept with each partition "
              "(must divide, and be at least train.batch); each step draws its negatives from it with replacement");
  cfg.declare("train.reinit_prob", "0.05",
              "mlp pcd: probability that a drawn buffer state restarts from noise (U(sampler.clamp) when the "
              "sampler clamps, else N(0, sampler.init_scale^2)), 0 .. 1");
  cfg.declare("train.energy_reg", "0",
              "mlp cd / pcd: alpha >= 0 of the energy regulariser alpha (<E(data)^2> + <E(negatives)^2>)");
  cfg.declare("sampler.type", "langevin",
              "mlp cd / pcd: the negative phase's move; langevin only (x - (eps/2) clip(grad E) + sqrt(eps) z, clamped)");
  declare_langevin_keys(cfg);
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
              "monitor (rbm: reconstruction error, pseudo-log-likelihood, free energies; dsm: the batch loss, and "
              "on 2-D data the grid held-out NLL; both: gradient norm) at every step that is a multiple of this, on "
              "that step's batch before its update (0 = never; dsm also evaluates the NLL after the last step)");
  cfg.declare("train.ais_every", "0",
              "at every step that is a multiple of this (before its update; the final parameters when run.steps "
              "is one) an AIS estimate of ln Z and of the held-out log-likelihood −⟨F(v)⟩ − ln Z with its "
              "standard error (0 = never; needs a held-out split)");
  cfg.declare("train.ais_steps", "1000", "intermediate distributions of that AIS (base-rate path, linear schedule)");
  cfg.declare("train.ais_chains", "100", "AIS chains over all ranks");
  training::declare_optimizer_keys(cfg);
  cfg.declare("output.file", "zeta_train.h5",
              "HDF5 output file (empty = none): /model/rbm or /model/layer_l, and the /train series");
  io::declare_checkpoint_keys(cfg);
}

namespace train_detail {

void diverged(std::int64_t step, const std::string& what, const TrainSpec& ts, const io::CheckpointSpec& ck) {
  std::string msg = "training diverged at step " + std::to_string(step) + ": " + what +
                    " holds NaN or Inf (train.lr = " + json_number(ts.opt.lr) +
                    " may be too large); nothing was written from this state";
  if (!ck.file.empty()) msg += ", checkpoint '" + ck.file + "' still holds the last good one";
  throw Error(msg);
}

}  // namespace train_detail

namespace {

using io::CheckpointSpec;
using train_detail::diverged;
using train_detail::row_block;
using train_detail::TrainSpec;

//! The monitor series, one entry per evaluation.
struct Series {
  std::vector<double> step, recon, pll, fdata, fmodel, gnorm;
  std::vector<std::vector<double>*> all() { return {&step, &recon, &pll, &fdata, &fmodel, &gnorm}; }
  static const std::vector<std::string>& names() {
    static const std::vector<std::string> n = {"step",      "recon_error",       "pseudo_loglik",
                                               "free_energy_data", "free_energy_model", "grad_norm"};
    return n;
  }
};

//! The AIS evaluations (train.ais_every), one entry each.
struct AisSeries {
  std::vector<double> step, log_z, log_z_stderr, heldout, heldout_stderr;
  std::vector<std::vector<double>*> all() { return {&step, &log_z, &log_z_stderr, &heldout, &heldout_stderr}; }
  static const std::vector<std::string>& names() {
    static const std::vector<std::string> n = {"ais_step", "log_z", "log_z_stderr", "heldout_loglik",
                                               "heldout_loglik_stderr"};
    return n;
  }
};

// The configuration a checkpoint must agree with: the model, the data, and what
// shapes the chains, the batches and the optimizer state (not the learning rate).
const std::vector<std::string> kSignatureKeys = {"model.",          "data.",     "train.objective", "train.k",
                                                 "train.batch",     "train.chains", "train.optimizer", "run.seed"};

class Trainer {
 public:
  Trainer(const TrainSpec& ts, const data::Dataset& d, const ChainRange& mine, Rbm<Space>& rbm, const Comm& comm)
      : ts_(ts),
        data_(d),
        mine_(mine),
        rbm_(rbm),
        comm_(comm),
        plan_(d.train, d.partitions, ts.batch, ts.seed),
        opt_(ts.opt, std::int64_t(rbm.n_params())),
        grad_(comm, rbm, ts.shared_reduction) {
    nv_ = rbm.visible();
    nh_ = rbm.hidden();
    D_ = d.partitions;
    b_ = ts.batch / D_;
    cp_ = ts.pcd ? ts.chains / D_ : b_;
    nloc_ = std::int64_t(d.train.local.size());
    // Data rows, then chain rows, in one buffer: the fused gradient takes them as one matrix.
    vall_ = Matrix<Space>("zeta::train::v_data_and_negative", nloc_ * (b_ + cp_), nv_);
    vdata_ = row_block<Space>(vall_, 0, nloc_ * b_);
    vneg_ = row_block<Space>(vall_, nloc_ * b_, nloc_ * cp_);
    hneg_ = Matrix<Space>("zeta::train::h_negative", nloc_ * cp_, nh_);
  }

  std::int64_t chain_offset() const { return mine_.offset * cp_; }
  std::int64_t chains_per_partition() const { return cp_; }
  const Matrix<Space>& negatives() const { return vneg_; }
  training::Optimizer<Space>& optimizer() { return opt_; }

  void initialize_chains() {
    if (ts_.pcd) rbm_.initialize_visible(vneg_, ts_.seed, chain_offset());
  }

  //! This rank's PCD chain states, row-major, in global chain order.
  std::vector<double> local_chains() const { return host_copy(vneg_); }
  //! Loads this rank's rows from all chains (global order).
  void load_chains(const std::vector<double>& all) {
    auto h = Kokkos::create_mirror_view(vneg_);
    const std::size_t at = std::size_t(chain_offset()) * nv_;
    for (std::size_t i = 0; i < h.size(); ++i) h.data()[i] = Real(all[at + i]);
    Kokkos::deep_copy(vneg_, h);
  }

  //! Positive and negative phase of step s and the reduced gradient (in grad_.g()).
  void gradient(std::int64_t s) {
    auto hv = Kokkos::create_mirror_view(vdata_);
    for (std::int64_t l = 0; l < nloc_; ++l)
      plan_.copy_rows(s, data_.train.local[l], nv_, hv.data() + std::size_t(l * b_) * nv_);
    Kokkos::deep_copy(vdata_, hv);
    const double wpos = 1.0 / double(ts_.batch), wneg = -1.0 / double(ts_.pcd ? ts_.chains : ts_.batch);
    if (!ts_.deterministic && rbm_.fused_contrastive()) {
      // One rank-local gradient: Gibbs sweeps, both phases and ∇W in one fused call, then
      // one allreduce of the flat buffer (in place where the host can reach it).
      Kokkos::deep_copy(grad_.g(), Real(0));
      rbm_.contrastive_gradient(vall_, static_cast<int>(nloc_ * b_), hneg_, ts_.k, !ts_.pcd, wpos, wneg, ts_.seed,
                                chain_offset(), s * ts_.k, grad_.g());
      grad_.allreduce();
      return;
    }
    if (!ts_.pcd) Kokkos::deep_copy(vneg_, vdata_);
    for (int sweep = 0; sweep < ts_.k; ++sweep)
      rbm_.gibbs_step(vneg_, hneg_, PerChain<Space>(1.0), ts_.seed, chain_offset(), s * ts_.k + sweep);
    grad_.reduce(
        ts_.deterministic, nloc_,
        [&](std::int64_t l, const Vector<Space>& g) {
          rbm_.grad_free_energy(row_block<Space>(vdata_, l * b_, b_), wpos, 1.0, g);
          rbm_.grad_free_energy(row_block<Space>(vneg_, l * cp_, cp_), wneg, 1.0, g);
        },
        [&](const Vector<Space>& g) {
          rbm_.grad_free_energy(vdata_, wpos, 1.0, g);
          rbm_.grad_free_energy(vneg_, wneg, 1.0, g);
        });
  }

  //! Seconds this rank spent summing gradients over ranks, waiting included.
  const train_detail::ReduceClock& reduce_clock() const { return grad_.clock(); }

  //! ‖g‖ of the reduced gradient and whether it is finite (GradientSum::norm).
  double gradient_norm(bool& finite) { return grad_.norm(finite); }

  //! The optimizer step on θ in place (GradientSum::update, with the norm of
  //! gradient_norm() where that ran this step), the model told so; null, or what
  //! holds NaN or ±Inf.
  const char* update(std::int64_t s) {
    const char* bad = grad_.update(opt_, rbm_.theta(), s, ts_.steps);
    rbm_.params_updated();
    return bad;
  }

  //! The monitors on batch s (after gradient(s), before its update), reduced over ranks
  //! per partition in partition order: recon, pll, F data, F model.
  std::vector<double> monitor(std::int64_t s) {
    const std::int64_t rows_n = nloc_ * b_;
    Matrix<Space> ph("zeta::train::monitor_h", rows_n, nh_), vr("zeta::train::monitor_v", rows_n, nv_);
    Vector<Space> fd("zeta::train::monitor_fdata", rows_n), ff("zeta::train::monitor_fflip", rows_n),
        fm("zeta::train::monitor_fmodel", nloc_ * cp_);
    // Partition by partition, as the deterministic gradient: a row's products then do not
    // depend on how many partitions its rank holds (BLAS may round by the row count).
    for (std::int64_t l = 0; l < nloc_; ++l) {
      const auto v = row_block<Space>(vdata_, l * b_, b_), h = row_block<Space>(ph, l * b_, b_);
      rbm_.hidden_probabilities(v, 1.0, h);
      rbm_.visible_means(h, 1.0, row_block<Space>(vr, l * b_, b_));
      rbm_.free_energy(v, 1.0, Vector<Space>(fd.data() + l * b_, b_));
      rbm_.free_energy(row_block<Space>(vneg_, l * cp_, cp_), 1.0, Vector<Space>(fm.data() + l * cp_, cp_));
    }
    const bool bern = rbm_.kind() == RbmKind::bernoulli;
    auto hv = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), vdata_);
    auto hr = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), vr);
    auto hfd = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), fd);
    auto hfm = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), fm);
    std::vector<std::int64_t> flip(rows_n, 0), ids;
    if (bern) {
      // One bit per example, chosen by the counter RNG keyed by the example's id in the split.
      Matrix<Space> vf("zeta::train::monitor_flipped", rows_n, nv_);
      auto hf = Kokkos::create_mirror_view(vf);
      for (std::int64_t l = 0; l < nloc_; ++l) {
        const auto& part = data_.train.local[l];
        plan_.rows(s, part, ids);
        for (std::int64_t j = 0; j < b_; ++j) {
          const std::int64_t n = l * b_ + j;
          const rng::Stream st(ts_.seed, std::uint64_t(part.begin + ids[j]), std::uint64_t(s), rng::kMonitor);
          flip[n] = std::min<std::int64_t>(nv_ - 1, std::int64_t(st.uniform() * nv_));
          for (int i = 0; i < nv_; ++i) hf(n, i) = hv(n, i);
          hf(n, flip[n]) = Real(1) - hv(n, flip[n]);
        }
      }
      Kokkos::deep_copy(vf, hf);
      for (std::int64_t l = 0; l < nloc_; ++l)
        rbm_.free_energy(row_block<Space>(vf, l * b_, b_), 1.0, Vector<Space>(ff.data() + l * b_, b_));
    }
    auto hff = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ff);
    std::vector<double> local(4 * nloc_, 0.0);
    for (std::int64_t l = 0; l < nloc_; ++l) {
      double re = 0, pll = 0, fdat = 0, fmod = 0;
      for (std::int64_t j = 0; j < b_; ++j) {
        const std::int64_t n = l * b_ + j;
        double e = 0;
        for (int i = 0; i < nv_; ++i) {
          const double d = double(hv(n, i)) - double(hr(n, i));
          e += d * d;
        }
        re += e / nv_;
        fdat += double(hfd(n));
        // ln σ(F(ṽ) − F(v)) = −softplus(F(v) − F(ṽ)), finite for finite energies.
        if (bern) pll -= double(nv_) * kmath::softplus(double(hfd(n)) - double(hff(n)));
      }
      for (std::int64_t j = 0; j < cp_; ++j) fmod += double(hfm(l * cp_ + j));
      local[4 * l] = re, local[4 * l + 1] = pll, local[4 * l + 2] = fdat, local[4 * l + 3] = fmod;
    }
    const auto all = comm_.allgather_chain_rows(local, 4, comm_.chains(D_));
    std::vector<double> sum(4, 0.0);
    for (int p = 0; p < D_; ++p)
      for (int q = 0; q < 4; ++q) sum[q] += all[4 * p + q];
    const double B = double(ts_.batch), M = double(D_) * double(cp_);
    return {sum[0] / B, bern ? sum[1] / B : NAN, sum[2] / B, sum[3] / M};
  }

 private:

  const TrainSpec& ts_;
  const data::Dataset& data_;
  ChainRange mine_;
  Rbm<Space>& rbm_;
  const Comm& comm_;
  data::BatchPlan plan_;
  training::Optimizer<Space> opt_;
  train_detail::GradientSum<Space> grad_;
  int nv_ = 0, nh_ = 0, D_ = 1;
  std::int64_t b_ = 0, cp_ = 0, nloc_ = 0;
  Matrix<Space> vall_, vdata_, vneg_, hneg_;
};

void write_train_checkpoint(const Comm& comm, const CheckpointSpec& ck, const Config& cfg, std::int64_t step,
                            const Rbm<Space>& rbm, const std::vector<double>& base_bias, Trainer& tr,
                            const TrainSpec& ts, const Series& series, const AisSeries& ais) {
  std::vector<double> chains;
  if (ts.pcd) {
    const auto local = tr.local_chains();
    const ChainRange range{ts.chains, tr.chain_offset(), std::int64_t(local.size()) / rbm.visible()};
    chains = comm.gather_chain_rows(local, rbm.visible(), range);
  }
  auto params = io::RbmParams::from_flat(rbm.kind(), rbm.visible(), rbm.hidden(), rbm.params());
  params.base_bias = base_bias;
  io::write_checkpoint(comm, ck.file, [&](hid_t f) {
    io::write_checkpoint_header(f, "train", cfg.resolved_ini(), kSignatureKeys);
    train_detail::write_train_state(f, step, tr.optimizer());
    io::write_rbm_params(f, params);
    if (ts.pcd) io::write_array(f, "/train/chains", {hsize_t(ts.chains), hsize_t(rbm.visible())}, chains.data());
    train_detail::write_series(f, series);
    train_detail::write_series(f, ais);
  });
}

void read_train_checkpoint(const Comm& comm, const CheckpointSpec& ck, const Config& cfg, std::int64_t& step,
                           Rbm<Space>& rbm, Trainer& tr, const TrainSpec& ts, Series& series, AisSeries& ais) {
  std::vector<double> theta, chains;
  train_detail::TrainState st;
  const int nv = rbm.visible(), nh = rbm.hidden();
  io::read_checkpoint(comm, ck.file, [&](hid_t f) {
    io::check_checkpoint_header(f, ck.file, "train", cfg.resolved_ini(), kSignatureKeys);
    st = train_detail::read_train_state(f, ck.file, rbm.n_params(), ts.opt.type == training::OptimizerType::adam);
    const auto W = io::read_array<double>(f, ck.file, "/model/rbm/W", {hsize_t(nv), hsize_t(nh)});
    const auto b = io::read_array<double>(f, ck.file, "/model/rbm/b", {hsize_t(nv)});
    const auto c = io::read_array<double>(f, ck.file, "/model/rbm/c", {hsize_t(nh)});
    theta = W;
    theta.insert(theta.end(), b.begin(), b.end());
    theta.insert(theta.end(), c.begin(), c.end());
    if (ts.pcd) chains = io::read_array<double>(f, ck.file, "/train/chains", {hsize_t(ts.chains), hsize_t(nv)});
    train_detail::read_series(f, ck.file, series, "monitor");
    train_detail::read_series(f, ck.file, ais, "AIS");
    train_detail::check_train_state(st, theta, ck.file);
  });
  train_detail::broadcast_train_state(comm, st);
  comm.broadcast(theta);
  comm.broadcast(chains);
  train_detail::broadcast_series(comm, series);
  train_detail::broadcast_series(comm, ais);
  step = st.head[0];
  rbm.set_params(theta);
  tr.optimizer().load(st.m, st.v, st.head[1]);
  if (ts.pcd) tr.load_chains(chains);
}

//! The data mean per feature over the whole training split: per-partition sums
//! gathered and added in partition order, the same on any rank count.
std::vector<double> data_mean(const data::Dataset& d, const Comm& comm) {
  const int nv = d.dim;
  std::vector<double> local;
  for (const auto& p : d.train.local) {
    std::vector<double> s(nv, 0.0);
    for (std::int64_t r = 0; r < p.count; ++r)
      for (int i = 0; i < nv; ++i) s[i] += double(p.x[std::size_t(r) * nv + i]);
    local.insert(local.end(), s.begin(), s.end());
  }
  const auto all = comm.allgather_chain_rows(local, nv, comm.chains(d.partitions));
  std::vector<double> mean(nv, 0.0);
  for (int p = 0; p < d.partitions; ++p)
    for (int i = 0; i < nv; ++i) mean[i] += all[std::size_t(p) * nv + i];
  for (auto& x : mean) x /= double(d.train.n);
  return mean;
}

}  // namespace

TrainResult train(const Config& cfg, const Comm& comm) {
  Kokkos::Timer timer;
  // Everything is validated before any file is created.
  TrainSpec ts;
  ts.seed = read_seed(cfg);
  ts.steps = cfg.get_int_at_least("run.steps", 1);
  ts.max_hours = cfg.get_nonnegative("run.max_hours");
  ts.progress_every = cfg.get_nonnegative("run.progress_every");
  const ModelSpec ms = read_model_spec(cfg);
  if (ms.type != "rbm" && ms.type != "mlp")
    config_error("model.type", "zeta train trains model.type = rbm or mlp (got '" + ms.type + "')");
  const bool mlp = ms.type == "mlp";
  const data::DataSpec dspec = data::read_data_spec(cfg);
  const std::string objective = cfg.get_choice("train.objective", {"cd", "pcd", "dsm"});
  if (!mlp && objective == "dsm")
    config_error("train.objective", "dsm trains model.type = mlp; an rbm takes cd or pcd");
  ts.dsm = objective == "dsm";
  ts.pcd = objective == "pcd";
  const auto k = cfg.get_int_at_least("train.k", 1);
  if (k > 100000) config_error("train.k", "is impossibly large");
  ts.k = int(k);
  ts.batch = cfg.get_int_at_least("train.batch", 1);
  const int R = comm.size(), D = dspec.partitions;
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
  if (ts.deterministic && cfg.given("train.reduction"))
    config_error("train.reduction",
                 "applies to train.deterministic = false (the deterministic mode sums in a fixed tree)");
  if (ts.deterministic && (!comm.power_of_two() || D % R != 0))
    config_error("train.deterministic", "needs a power-of-two number of ranks that divides data.partitions (here " +
                                            std::to_string(R) + " ranks, " + std::to_string(D) +
                                            " partitions); set train.deterministic = false to train on any rank count");
  ts.eval_every = cfg.get_int_at_least("train.eval_every", 0);
  ts.ais_every = cfg.get_int_at_least("train.ais_every", 0);
  ts.ais_steps = cfg.get_int_at_least("train.ais_steps", 1);
  ts.ais_chains = cfg.get_int_at_least("train.ais_chains", 2);
  ts.opt = training::read_optimizer_spec(cfg);
  const CheckpointSpec ck = io::read_checkpoint_spec(cfg);
  ts.file = cfg.get_string("output.file");
  if (!ck.file.empty() && ck.file == ts.file) config_error("checkpoint.file", "must differ from output.file");
  if (!mlp)
    for (const char* key : {"train.buffer_size", "train.reinit_prob", "train.energy_reg", "sampler.type",
                            "sampler.step_size", "sampler.clip_grad", "sampler.clamp", "sampler.init_scale"})
      if (cfg.given(key)) config_error(key, "applies to model.type = mlp (an rbm's negatives come from block Gibbs)");
  if (mlp && !ts.dsm) {
    if (cfg.given("train.sigma")) config_error("train.sigma", "is the DSM noise scale; " + objective + " takes none");
    if (cfg.given("train.chains"))
      config_error("train.chains", "is the RBM's persistent chains; an mlp's negatives come from train.buffer_size");
    cfg.get_choice("sampler.type", {"langevin"});
    read_langevin_keys(cfg, ts.langevin);
    ts.langevin.type = SamplerType::langevin;
    ts.buffer_size = cfg.get_int_at_least("train.buffer_size", 1);
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
  if (mlp) {
    ts.sigma = cfg.get_doubles("train.sigma");
    if (ts.sigma.empty()) config_error("train.sigma", "needs at least one noise scale");
    for (double sg : ts.sigma)
      if (!(sg > 0) || !std::isfinite(sg))
        config_error("train.sigma", "noise scales must be finite and > 0 (got " + json_number(sg) + ")");
    ts.grid_points = cfg.get_int_at_least("train.grid_points", 0);
    if (ts.ais_every > 0) config_error("train.ais_every", "is the RBM's AIS monitor; the mlp is monitored on a grid");
    // DSM differentiates ∇x E once more: refuse a kinked activation before any work.
    if (ts.dsm) require_smooth_activation(ms.activation);
    return train_detail::train_mlp(cfg, comm, ts, ms, dspec, ck, timer);
  }
  const ChainRange mine = data::partitions_of(comm.rank(), R, D);

  const data::Dataset d = data::load(dspec, ts.seed, comm);
  const int nv = d.dim;

  // Initial parameters: model.params (its W must match the data) or random W, b from the data mean.
  std::vector<double> theta0;
  if (!ms.params.empty()) {
    const io::RbmParams p = load_rbm_params(cfg, ms, comm, RbmExpect{nv, dspec.path, true});
    theta0 = p.flat();
  }
  std::vector<double> sigma;
  if (ms.rbm_kind == RbmKind::gaussian) {
    sigma = ms.rbm_sigma;
    if (sigma.size() != 1 && int(sigma.size()) != nv)
      config_error("model.sigma", "needs 1 or " + std::to_string(nv) + " values (the data's features), got " +
                                      std::to_string(sigma.size()));
  }
  Rbm<Space> rbm(ms.rbm_kind, nv, ms.hidden, sigma);
  // The training data's visible marginals: the initial b, and the AIS base-rate model stored with the parameters.
  const std::vector<double> mean = data_mean(d, comm);
  const std::vector<double> base_bias = Rbm<Space>::visible_bias_from_mean(ms.rbm_kind, mean);
  if (theta0.empty()) theta0 = Rbm<Space>::initial_params(ms.rbm_kind, nv, ms.hidden, ms.init_seed, mean);
  rbm.set_params(theta0);

  Trainer tr(ts, d, mine, rbm, comm);
  Series series;
  AisSeries ais;
  if (ts.ais_every > 0 && d.heldout.n == 0)
    config_error("train.ais_every", "needs a held-out split (data.heldout_path or data.holdout)");
  // The AIS evaluation: ln Z on the base-rate path, and the held-out −⟨F(v)⟩ summed per
  // partition and added in partition order (the same bits on any rank count).
  // The held-out partitions on the device, copied once for every evaluation.
  std::vector<Matrix<Space>> heldout_dev;
  if (ts.ais_every > 0)
    for (const auto& P : d.heldout.local) {
      heldout_dev.emplace_back("zeta::train::heldout", P.count, nv);
      auto hv = Kokkos::create_mirror_view(heldout_dev.back());
      for (std::int64_t r = 0; r < P.count; ++r)
        for (int i = 0; i < nv; ++i) hv(r, i) = P.x[std::size_t(r) * nv + i];
      Kokkos::deep_copy(heldout_dev.back(), hv);
    }
  auto evaluate_ais = [&](std::int64_t s) {
    std::vector<double> a(ts.ais_steps + 1);
    for (std::int64_t t = 0; t <= ts.ais_steps; ++t) a[t] = double(t) / double(ts.ais_steps);
    const ChainRange chains = comm.chains(ts.ais_chains);
    // Draws keyed apart from the training chains: a seed mixed with the step (splitmix32-style).
    std::uint32_t z = ts.seed ^ (0x9E3779B9u * std::uint32_t(s + 1));
    z = (z ^ (z >> 16)) * 0x85EBCA6Bu;
    z = (z ^ (z >> 13)) * 0xC2B2AE35u;
    z ^= z >> 16;
    estimators::AisSpec as;  // β = 1, one Gibbs sweep per distribution, forward only
    as.a = a;
    const estimators::AisRun run = estimators::run_ais(rbm, base_bias, as, z, chains);
    const LogMeanExp lme = log_mean_exp(run.log_w, chains, comm);
    const double log_z = run.base_log_z + lme.log_mean;
    std::vector<double> part(2 * d.heldout.local.size(), 0.0);
    for (std::size_t q = 0; q < d.heldout.local.size(); ++q) {
      const auto& P = d.heldout.local[q];
      if (P.count == 0) continue;
      const Matrix<Space>& v = heldout_dev[q];
      Accum<Space> F("zeta::train::heldout_F", P.count);
      rbm.free_energy(v, 1.0, F);
      auto hF = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), F);
      for (std::int64_t r = 0; r < P.count; ++r) part[2 * q] += hF(r), part[2 * q + 1] += hF(r) * hF(r);
    }
    const ChainRange mine_p = data::partitions_of(comm.rank(), comm.size(), d.partitions);
    const auto allp = comm.allgather_chain_rows(part, 2, mine_p);
    double sf = 0, sf2 = 0;
    for (int q = 0; q < d.partitions; ++q) sf += allp[2 * q], sf2 += allp[2 * q + 1];
    const double n = double(d.heldout.n), mf = sf / n;
    const double se_f = std::sqrt(std::max(0.0, sf2 / n - mf * mf) / std::max(1.0, n - 1));
    ais.step.push_back(double(s));
    ais.log_z.push_back(log_z);
    ais.log_z_stderr.push_back(lme.stderr);
    ais.heldout.push_back(-mf - log_z);
    ais.heldout_stderr.push_back(std::sqrt(se_f * se_f + lme.stderr * lme.stderr));
    if (comm.root())
      std::fprintf(stderr, "zeta train: step %lld: AIS ln Z = %.3f +- %.3f, held-out log-likelihood %.3f +- %.3f nats\n",
                   static_cast<long long>(s), log_z, lme.stderr, ais.heldout.back(), ais.heldout_stderr.back());
  };
  std::int64_t step = 0;
  if (ck.restart) {
    read_train_checkpoint(comm, ck, cfg, step, rbm, tr, ts, series, ais);
    train_detail::require_steps_left(ts, ck, step);
  } else {
    tr.initialize_chains();
  }

  std::unique_ptr<io::OutputFile> out;
  if (!ts.file.empty()) {
    out = std::make_unique<io::OutputFile>(comm, ts.file);
    io::write_root_attributes(*out, "train", cfg, comm);
  }

  TrainResult res;
  Progress progress("zeta train", ts.steps - step, double(ts.batch), "examples", comm.root(), ts.progress_every);
  StopControl stop(comm, ts.max_hours);
  const std::int64_t first = step;
  for (; step < ts.steps;) {
    const std::int64_t s = step;
    tr.gradient(s);
    if (ts.eval_every > 0 && s % ts.eval_every == 0) {
      bool finite = true;
      const double gnorm = tr.gradient_norm(finite);
      if (!finite) diverged(s, "the parameter gradient", ts, ck);
      const auto mv = tr.monitor(s);
      if (!std::isfinite(mv[0]) || !std::isfinite(mv[2]) || !std::isfinite(mv[3]))
        diverged(s, "a monitor (reconstruction error or free energy)", ts, ck);
      series.step.push_back(double(s));
      series.recon.push_back(mv[0]);
      series.pll.push_back(mv[1]);
      series.fdata.push_back(mv[2]);
      series.fmodel.push_back(mv[3]);
      series.gnorm.push_back(gnorm);
    }
    if (ts.ais_every > 0 && s > 0 && s % ts.ais_every == 0 && (ais.step.empty() || ais.step.back() != double(s)))
      evaluate_ais(s);
    if (const char* bad = tr.update(s)) diverged(s, bad, ts, ck);
    step = s + 1;
    progress.update(step - first);
    if (!ck.file.empty() && ck.every > 0 && step % ck.every == 0 && step < ts.steps)
      write_train_checkpoint(comm, ck, cfg, step, rbm, base_bias, tr, ts, series, ais);
    if (step < ts.steps && stop.should_stop()) {
      res.status = "interrupted";
      break;
    }
  }
  Kokkos::fence();
  res.steps_done = step;
  // The final parameters when the last step is a multiple of train.ais_every (a restart
  // from this point finds the entry and does not repeat it).
  if (ts.ais_every > 0 && step == ts.steps && step % ts.ais_every == 0 &&
      (ais.step.empty() || ais.step.back() != double(step)))
    evaluate_ais(step);
  if (!ck.file.empty()) write_train_checkpoint(comm, ck, cfg, step, rbm, base_bias, tr, ts, series, ais);
  res.params = rbm.params();
  if (!series.step.empty()) {
    res.evaluated_at = std::int64_t(series.step.back());
    res.recon_error = res.loss = series.recon.back();
    res.pseudo_loglik = series.pll.back();
    res.free_energy_data = series.fdata.back();
    res.free_energy_model = series.fmodel.back();
    res.grad_norm = series.gnorm.back();
  }

  if (out) {
    const auto p = io::RbmParams::from_flat(rbm.kind(), nv, rbm.hidden(), res.params);
    out->write_root_double("/model/rbm/W", {hsize_t(nv), hsize_t(rbm.hidden())}, p.W.data());
    out->write_root_double("/model/rbm/b", {hsize_t(nv)}, p.b.data());
    out->write_root_double("/model/rbm/c", {hsize_t(rbm.hidden())}, p.c.data());
    out->write_root_double("/model/rbm/base_bias", {hsize_t(nv)}, base_bias.data());
    {
      io::Handle g(H5Gopen2(out->id(), "/model/rbm", H5P_DEFAULT), H5Gclose);
      if (g.id() < 0) throw Error("cannot open /model/rbm in '" + ts.file + "'");
      io::write_string_attribute(g.id(), "kind", rbm_kind_name(rbm.kind()));
    }
    train_detail::write_series(*out, series);
    train_detail::write_series(*out, ais);
    out->attribute("steps", res.steps_done);
    out->finish();
  }

  res.wall_s = timer.seconds();
  const double run_s = progress.elapsed_s();
  res.updates_per_s = run_s > 0 ? double(res.steps_done - first) / run_s : 0;
  res.examples_per_s = res.updates_per_s * double(ts.batch);
  auto& j = res.json;
  io::add_json_header(j, "train", res.status, res.wall_s, comm, "rbm", "gibbs");
  j.add("objective", ts.pcd ? "pcd" : "cd");
  j.add("k", ts.k);
  j.add("visible", nv);
  j.add("hidden", rbm.hidden());
  j.add("visible_units", rbm_kind_name(rbm.kind()));
  j.add("examples", d.train.n);
  j.add("batch", ts.batch);
  if (ts.pcd) j.add("chains", ts.chains);
  j.add("partitions", D);
  j.add("deterministic", ts.deterministic);
  j.add("steps", res.steps_done);
  j.add("loss", res.loss);
  j.add("recon_error", res.recon_error);
  j.add("pseudo_loglik", res.pseudo_loglik);
  j.add("free_energy_data", res.free_energy_data);
  j.add("free_energy_model", res.free_energy_model);
  j.add("grad_norm", res.grad_norm);
  j.add("evaluated_at", res.evaluated_at);
  if (!ais.step.empty()) {
    j.add("log_z", ais.log_z.back());
    j.add("log_z_stderr", ais.log_z_stderr.back());
    j.add("heldout_loglik", ais.heldout.back());
    j.add("heldout_loglik_stderr", ais.heldout_stderr.back());
    j.add("ais_at", std::int64_t(ais.step.back()));
  }
  j.add("updates_per_s", res.updates_per_s);
  j.add("examples_per_s", res.examples_per_s);
  train_detail::add_reduce_json(j, comm, tr.reduce_clock(), run_s);
  if (!ts.file.empty()) j.add("output", ts.file);
  if (!ck.file.empty()) j.add("checkpoint", ck.file);
  return res;
}

}  // namespace zeta::apps
