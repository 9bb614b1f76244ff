//! `zeta train` for model.type = mlp: data-parallel denoising score matching.
//!
//! The loop is the RBM trainer's (train.cpp): the same global batches (BatchPlan),
//! the same two reductions, optimizer, divergence handling, checkpoints and
//! progress. Step s:
//!   noise       example i of the training split (global id, as the RBM monitors
//!               key it) draws from Philox Stream(seed, i, s, kDsmNoise) its
//!               normals z (blocks 0, 1, …) and, with several σ, its σ = σ_k,
//!               k = ⌊K u⌋ with u from block kSigmaBlock; x̃ = x + σ z;
//!   loss        L = (1/B) Σ_n σ_n² ½ ‖∇x E(x̃_n) − z_n/σ_n‖² over the global batch: the
//!               model's score −∇x E matched to the noise kernel's −(x̃ − x)/σ², i.e.
//!               Mlp::dsm_loss_and_grad with the offset c = (x − x̃)/σ² = −z/σ
//!               (σ² weighting as in Song & Ermon, for one σ too: L is then ½‖σ∇E + z‖²
//!               per example, of order one at every scale);
//!   reduction   deterministic: one gradient per partition, a pairwise tree, then
//!               Comm::tree_allreduce (bitwise the same on 1, 2, 4 ranks); otherwise
//!               one gradient over the rank's rows and one MPI_Allreduce;
//!   update      training::Optimizer on Mlp::theta(), then Mlp::params_updated().
//! Everything random is a function of (seed, example, step), so a checkpoint needs
//! only θ, the optimizer state and s.
//!
//! Monitors (train.eval_every, and the held-out NLL also after the last step): the
//! batch loss and ‖g‖; on 2-D data with a held-out split the NLL of the held-out
//! points with ln Z from a grid (estimators/grid.hpp), and for synthetic data
//! with a closed-form density the exact NLL of those points for comparison.
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include "train_common.hpp"
#include "zeta/apps/apps.hpp"
#include "zeta/apps/output.hpp"
#include "zeta/core/progress.hpp"
#include "zeta/estimators/grid.hpp"
#include "zeta/io/checkpoint.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/io/params.hpp"
#include "zeta/models/mlp.hpp"
#include "zeta/rng/philox.hpp"

namespace zeta::apps::train_detail {

namespace {

using Space = Kokkos::DefaultExecutionSpace;

//! The Philox block of an example's σ choice: far above the blocks its normals use.
constexpr std::uint32_t kSigmaBlock = 0x80000000u;

//! The batch monitors, one entry per train.eval_every step.
struct DsmSeries {
  std::vector<double> step, loss, gnorm;
  std::vector<std::vector<double>*> all() { return {&step, &loss, &gnorm}; }
  static const std::vector<std::string>& names() {
    static const std::vector<std::string> n = {"step", "dsm_loss", "grad_norm"};
    return n;
  }
};

//! The held-out NLL evaluations: at the train.eval_every steps and after the last step.
struct NllSeries {
  std::vector<double> step, log_z, nll, nll_stderr;
  std::vector<std::vector<double>*> all() { return {&step, &log_z, &nll, &nll_stderr}; }
  static const std::vector<std::string>& names() {
    static const std::vector<std::string> n = {"nll_step", "grid_log_z", "heldout_nll", "heldout_nll_stderr"};
    return n;
  }
};

// What a checkpoint must agree with: the model, the data, and what shapes the
// batches, the noise and the optimizer state (not the learning rate).
const std::vector<std::string> kSignatureKeys = {"model.",      "data.",           "train.objective", "train.batch",
                                                 "train.sigma", "train.optimizer", "run.seed"};

class DsmTrainer {
 public:
  DsmTrainer(const TrainSpec& ts, const data::Dataset& d, Mlp<Space>& mlp, const Comm& comm)
      : ts_(ts),
        data_(d),
        mlp_(mlp),
        comm_(comm),
        plan_(d.train, d.partitions, ts.batch, ts.seed),
        opt_(ts.opt, std::int64_t(mlp.n_params())),
        mine_(data::partitions_of(comm.rank(), comm.size(), d.partitions)) {
    if (d.dim != mlp.dim())
      config_error("model.layers", "the first layer has " + std::to_string(mlp.dim()) + " inputs but the data have " +
                                       std::to_string(d.dim) + " features");
    dim_ = d.dim;
    D_ = d.partitions;
    b_ = ts.batch / D_;
    nloc_ = std::int64_t(d.train.local.size());
    xt_ = Matrix<Space>("zeta::train::dsm_noisy", nloc_ * b_, dim_);
    c_ = Matrix<Space>("zeta::train::dsm_offset", nloc_ * b_, dim_);
    w_ = Vector<Space>("zeta::train::dsm_weight", nloc_ * b_);
    g_ = mlp.gradient_buffer();
    host_g_.assign(mlp.n_params(), Real(0));
  }

  training::Optimizer<Space>& optimizer() { return opt_; }

  //! Step s's noisy batch, offsets and weights, its loss and the reduced gradient (g_, host_g_).
  void gradient(std::int64_t s) {
    noisy_batch(s);
    if (ts_.deterministic) {
      leaves_.resize(nloc_);
      local_loss_.assign(nloc_, 0.0);
      for (std::int64_t l = 0; l < nloc_; ++l) {
        Kokkos::deep_copy(g_, Real(0));
        local_loss_[l] = mlp_.dsm_loss_and_grad(row_block<Space>(xt_, l * b_, b_), row_block<Space>(c_, l * b_, b_),
                                                PerChain<Space>(Vector<Space>(w_.data() + l * b_, b_)), g_);
        copy_to_host<Space>(g_, leaves_[l]);
      }
      tree_sum(leaves_, 0, leaves_.size());
      host_g_.swap(leaves_[0]);
      comm_.tree_allreduce(host_g_);
      copy_to_device<Space>(host_g_, g_);
    } else {
      Kokkos::deep_copy(g_, Real(0));
      local_loss_.assign(1, mlp_.dsm_loss_and_grad(xt_, c_, PerChain<Space>(w_), g_));
      allreduce_in_place<Space>(comm_, g_, host_g_);
    }
  }

  //! The loss of the last gradient() over the global batch: per partition in partition
  //! order (deterministic, the same bits on any rank count) or one allreduce.
  double batch_loss() const {
    if (ts_.deterministic) {
      const auto all = comm_.allgather_chain_rows(local_loss_, 1, mine_);
      double sum = 0;
      for (double v : all) sum += v;
      return sum;
    }
    std::vector<double> v = local_loss_;
    comm_.allreduce_sum(v);
    return v[0];
  }

  //! ‖g‖ of the reduced gradient and whether it is finite (as the RBM trainer's).
  double gradient_norm(bool& finite) {
    const double sq = training::squared_norm<Space>(g_);
    finite = !comm_.any(!std::isfinite(sq));
    norm_ = std::sqrt(sq);
    return norm_;
  }

  //! The optimizer step on θ in place, the MLP told so, and whether θ is finite.
  bool update(std::int64_t s) {
    opt_.apply(mlp_.theta(), g_, s, ts_.steps, norm_);
    mlp_.params_updated();
    return !comm_.any(opt_.non_finite() > 0);
  }

 private:
  //! x̃ = x + σ z, c = −z / σ and the weight σ² / B of this rank's rows of batch s, in double, rounded once.
  void noisy_batch(std::int64_t s) {
    auto hx = Kokkos::create_mirror_view(xt_);
    auto hc = Kokkos::create_mirror_view(c_);
    auto hw = Kokkos::create_mirror_view(w_);
    const std::int64_t K = std::int64_t(ts_.sigma.size());
    const double B = double(ts_.batch);
    for (std::int64_t l = 0; l < nloc_; ++l) {
      const auto& part = data_.train.local[l];
      plan_.rows(s, part, ids_);
      for (std::int64_t j = 0; j < b_; ++j) {
        const std::int64_t n = l * b_ + j;
        const rng::Stream st(ts_.seed, std::uint64_t(part.begin + ids_[j]), std::uint64_t(s), rng::kDsmNoise);
        const double sigma =
            K == 1 ? ts_.sigma[0] : ts_.sigma[std::min<std::int64_t>(K - 1, std::int64_t(st.uniform(kSigmaBlock) * K))];
        const Real* x = part.x.data() + std::size_t(ids_[j]) * dim_;
        st.normals(dim_, [&](int i, Real z) {
          hx(n, i) = Real(double(x[i]) + sigma * double(z));
          hc(n, i) = Real(-double(z) / sigma);
        });
        hw(n) = Real(sigma * sigma / B);
      }
    }
    Kokkos::deep_copy(xt_, hx);
    Kokkos::deep_copy(c_, hc);
    Kokkos::deep_copy(w_, hw);
  }


  const TrainSpec& ts_;
  const data::Dataset& data_;
  Mlp<Space>& mlp_;
  const Comm& comm_;
  data::BatchPlan plan_;
  training::Optimizer<Space> opt_;
  ChainRange mine_;
  int dim_ = 0, D_ = 1;
  std::int64_t b_ = 0, nloc_ = 0;
  Matrix<Space> xt_, c_;
  Vector<Space> w_, g_;
  double norm_ = 0;
  std::vector<Real> host_g_;
  std::vector<std::vector<Real>> leaves_;
  std::vector<double> local_loss_;
  std::vector<std::int64_t> ids_;
};

void write_checkpoint(const Comm& comm, const io::CheckpointSpec& ck, const Config& cfg, std::int64_t step,
                      const Mlp<Space>& mlp, DsmTrainer& tr, const DsmSeries& series, const NllSeries& nll) {
  const MlpParams params = mlp.mlp_params();
  io::write_checkpoint(comm, ck.file, [&](hid_t f) {
    io::write_checkpoint_header(f, "train", cfg.resolved_ini(), kSignatureKeys);
    write_train_state(f, step, tr.optimizer());
    io::write_mlp_params(f, params);
    write_series(f, series);
    write_series(f, nll);
  });
}

void read_checkpoint(const Comm& comm, const io::CheckpointSpec& ck, const Config& cfg, const TrainSpec& ts,
                     std::int64_t& step, Mlp<Space>& mlp, DsmTrainer& tr, DsmSeries& series, NllSeries& nll) {
  std::vector<double> theta;
  TrainState st;
  const auto& layers = mlp.layers();
  io::read_checkpoint(comm, ck.file, [&](hid_t f) {
    io::check_checkpoint_header(f, ck.file, "train", cfg.resolved_ini(), kSignatureKeys);
    st = read_train_state(f, ck.file, mlp.n_params(), ts.opt.type == training::OptimizerType::adam);
    for (std::size_t l = 0; l + 1 < layers.size(); ++l) {
      const std::string base = "/model/layer_" + std::to_string(l);
      const auto w = io::read_array<double>(f, ck.file, base + "/weight", {hsize_t(layers[l + 1]), hsize_t(layers[l])});
      const auto b = io::read_array<double>(f, ck.file, base + "/bias", {hsize_t(layers[l + 1])});
      theta.insert(theta.end(), w.begin(), w.end());
      theta.insert(theta.end(), b.begin(), b.end());
    }
    read_series(f, ck.file, series, "monitor");
    read_series(f, ck.file, nll, "NLL");
    check_train_state(st, theta, ck.file);
  });
  broadcast_train_state(comm, st);
  comm.broadcast(theta);
  broadcast_series(comm, series);
  broadcast_series(comm, nll);
  step = st.head[0];
  mlp.set_params(theta);
  tr.optimizer().load(st.m, st.v, st.head[1]);
}

}  // namespace

TrainResult train_mlp(const Config& cfg, const Comm& comm, const TrainSpec& ts, const ModelSpec& ms,
                      const data::DataSpec& dspec, const io::CheckpointSpec& ck, Kokkos::Timer& timer) {
  const data::Dataset d = data::load(dspec, ts.seed, comm);
  Mlp<Space> mlp(ms.mlp, ms.activation);
  DsmTrainer tr(ts, d, mlp, comm);

  // The NLL monitor: 2-D data with a held-out split, a grid around both splits; the
  // exact NLL of the same points where the synthetic density has a closed form.
  const bool grid = ts.grid_points > 0 && d.dim == 2 && d.heldout.n > 0;
  Grid2d box;
  if (grid) box = grid_around(d, comm, ts.grid_points);
  double true_nll = NAN;
  if (grid && dspec.type == data::FileType::synthetic && data::has_log_density(dspec.synthetic.shape))
    true_nll = data::synthetic_nll(dspec, d, comm).mean;

  DsmSeries series;
  NllSeries nll;
  auto evaluate_nll = [&](std::int64_t s) {
    const GridNll r = grid_nll(mlp, box, d.heldout, d.partitions, comm);
    if (!std::isfinite(r.nll)) diverged(s, "the held-out NLL", ts, ck);
    nll.step.push_back(double(s));
    nll.log_z.push_back(r.log_z);
    nll.nll.push_back(r.nll);
    nll.nll_stderr.push_back(r.nll_stderr);
    if (comm.root()) {
      std::fprintf(stderr, "zeta train: step %lld: held-out NLL %.4f +- %.4f nats (grid ln Z %.4f)",
                   static_cast<long long>(s), r.nll, r.nll_stderr, r.log_z);
      if (std::isfinite(true_nll)) std::fprintf(stderr, ", true density %.4f", true_nll);
      std::fprintf(stderr, "\n");
    }
  };

  std::int64_t step = 0;
  if (ck.restart) {
    read_checkpoint(comm, ck, cfg, ts, step, mlp, tr, series, nll);
    require_steps_left(ts, ck, step);
  }

  std::unique_ptr<io::OutputFile> out;
  if (!ts.file.empty()) {
    out = std::make_unique<io::OutputFile>(comm, ts.file);
    write_root_attributes(*out, "train", cfg, comm);
  }

  TrainResult res;
  Progress progress("zeta train", ts.steps - step, double(ts.batch), "examples", comm.root(), ts.progress_every);
  StopControl stop(comm, ts.max_hours);
  const std::int64_t first = step;
  for (; step < ts.steps;) {
    const std::int64_t s = step;
    tr.gradient(s);
    bool finite = true;
    const double gnorm = tr.gradient_norm(finite);
    if (!finite) diverged(s, "the parameter gradient", ts, ck);
    if (ts.eval_every > 0 && s % ts.eval_every == 0) {
      const double loss = tr.batch_loss();
      if (!std::isfinite(loss)) diverged(s, "the DSM loss", ts, ck);
      series.step.push_back(double(s));
      series.loss.push_back(loss);
      series.gnorm.push_back(gnorm);
      // The parameters before step s's update: those a run ending at s evaluated last.
      if (grid && (nll.step.empty() || nll.step.back() != double(s))) evaluate_nll(s);
    }
    if (!tr.update(s)) diverged(s, "the updated parameter vector", ts, ck);
    step = s + 1;
    progress.update(step - first);
    if (!ck.file.empty() && ck.every > 0 && step % ck.every == 0 && step < ts.steps)
      write_checkpoint(comm, ck, cfg, step, mlp, tr, series, nll);
    if (step < ts.steps && stop.should_stop()) {
      res.status = "interrupted";
      break;
    }
  }
  Kokkos::fence();
  res.steps_done = step;
  // The final parameters (once: a restart from here finds the entry).
  if (grid && step == ts.steps && (nll.step.empty() || nll.step.back() != double(step))) evaluate_nll(step);
  if (!ck.file.empty()) write_checkpoint(comm, ck, cfg, step, mlp, tr, series, nll);
  res.params = mlp.params();
  if (!series.step.empty()) {
    res.evaluated_at = std::int64_t(series.step.back());
    res.loss = res.dsm_loss = series.loss.back();
    res.grad_norm = series.gnorm.back();
  }
  if (!nll.step.empty()) {
    res.nll_at = std::int64_t(nll.step.back());
    res.grid_log_z = nll.log_z.back();
    res.heldout_nll = nll.nll.back();
    res.heldout_nll_stderr = nll.nll_stderr.back();
  }
  res.true_nll = true_nll;

  if (out) {
    const bool r0 = comm.root();
    auto write_vec = [&](const std::string& name, const std::vector<hsize_t>& dims, const std::vector<double>& v) {
      const hid_t ds = out->create_double(name, dims);
      std::vector<hsize_t> start(dims.size(), 0), count = dims;
      if (!r0) count.assign(dims.size(), 0);
      out->write_double(ds, start, count, v.data());
    };
    const MlpParams p = mlp.mlp_params();
    for (int l = 0; l < mlp.nlayers(); ++l) {
      const std::string base = "/model/layer_" + std::to_string(l);
      write_vec(base + "/weight", {hsize_t(p.layers[l + 1]), hsize_t(p.layers[l])}, p.weight[l]);
      write_vec(base + "/bias", {hsize_t(p.layers[l + 1])}, p.bias[l]);
    }
    auto cols = series.all();
    for (std::size_t q = 0; q < cols.size(); ++q)
      write_vec("/train/" + DsmSeries::names()[q], {hsize_t(cols[q]->size())}, *cols[q]);
    auto ncols = nll.all();
    for (std::size_t q = 0; q < ncols.size(); ++q)
      write_vec("/train/" + NllSeries::names()[q], {hsize_t(ncols[q]->size())}, *ncols[q]);
    if (std::isfinite(true_nll)) write_vec("/train/true_nll", {1}, {true_nll});
    out->attribute("steps", res.steps_done);
    out->finish();
  }

  res.wall_s = timer.seconds();
  const double run_s = progress.elapsed_s();
  res.updates_per_s = run_s > 0 ? double(res.steps_done - first) / run_s : 0;
  res.examples_per_s = res.updates_per_s * double(ts.batch);
  auto& j = res.json;
  add_json_header(j, "train", res.status, res.wall_s, comm, "mlp", "none");
  j.add("objective", "dsm");
  j.add("sigma", ts.sigma);
  j.add("activation", activation_name(mlp.activation()));
  j.add("examples", d.train.n);
  j.add("batch", ts.batch);
  j.add("partitions", d.partitions);
  j.add("deterministic", ts.deterministic);
  j.add("steps", res.steps_done);
  j.add("loss", res.loss);
  j.add("dsm_loss", res.dsm_loss);
  j.add("grad_norm", res.grad_norm);
  j.add("evaluated_at", res.evaluated_at);
  if (!nll.step.empty()) {
    j.add("heldout_nll", res.heldout_nll);
    j.add("heldout_nll_stderr", res.heldout_nll_stderr);
    j.add("grid_log_z", res.grid_log_z);
    j.add("nll_at", res.nll_at);
  }
  if (std::isfinite(true_nll)) j.add("true_nll", true_nll);
  j.add("updates_per_s", res.updates_per_s);
  j.add("examples_per_s", res.examples_per_s);
  if (!ts.file.empty()) j.add("output", ts.file);
  if (!ck.file.empty()) j.add("checkpoint", ck.file);
  return res;
}

}  // namespace zeta::apps::train_detail
