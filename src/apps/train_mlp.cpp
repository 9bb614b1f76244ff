//! `zeta train` for model.type = mlp: data-parallel denoising score matching, and
//! contrastive divergence (cd, pcd) with short-run Langevin negatives.
//!
//! The loop is the RBM trainer's (train.cpp): the same global batches (BatchPlan),
//! the same two reductions, optimizer, divergence handling, checkpoints and
//! progress. Step s of dsm:
//!   noise       example i of the training split (global id, as the RBM monitors
//!               key it) draws from Philox Stream(seed, i, s, kDsmNoise) its
//!               normals z (blocks 0, 1, …) and, with several σ, its σ = σ_k,
//!               k = ⌊K u⌋ with u from block kSigmaBlock; x̃ = x + σ z;
//!   loss        L = (1/B) Σ_n σ_n² ½ ‖∇x E(x̃_n) − z_n/σ_n‖² over the global batch: the
//!               model's score −∇x E matched to the noise kernel's −(x̃ − x)/σ², i.e.
//!               Mlp::dsm_loss_and_grad with the offset c = (x − x̃)/σ² = −z/σ
//!               (σ² weighting as in Song & Ermon, for one σ too: L is then ½‖σ∇E + z‖²
//!               per example, of order one at every scale).
//! Step s of cd / pcd (the recipe of IGEBM and JEM):
//!   negatives   one per batch row, global row r = p·b + j of partition p (b = B/D):
//!               cd: the data row itself; pcd: a state of the partition's share of the
//!               replay buffer (train.buffer_size / D states, global slot p·M + m),
//!               slot m = ⌊M u₀⌋ with replacement, or with probability
//!               train.reinit_prob (u₁ < p) fresh noise, u₀, u₁ from Stream(seed, r, s,
//!               kReplay) blocks 0 and 1. Fresh noise (and the initial buffer) is
//!               U(sampler.clamp)^d when the sampler clamps, else N(0, init_scale²)^d,
//!               from Stream(seed, r, s + 1, kReplayNoise) (initial slot q: (seed, q, 0));
//!   Langevin    train.k moves x ← clamp(x − (ε/2) clip(∇x E) + √ε z) (samplers.hpp), the
//!               noise of move t keyed by (seed, r, s·k + t); pcd writes the states back
//!               to their slots (a slot drawn twice keeps its last row's state);
//!   loss        L = ⟨E(x₊)⟩ − ⟨E(x₋)⟩ + α(⟨E(x₊)²⟩ + ⟨E(x₋)²⟩) over the global batch
//!               (α = train.energy_reg), Mlp::contrastive_grad.
//! Both then:
//!   reduction   deterministic: one gradient per partition, a pairwise tree, then
//!               Comm::tree_allreduce (bitwise the same on 1, 2, 4 ranks); otherwise
//!               one gradient over the rank's rows and one MPI_Allreduce;
//!   update      training::Optimizer on Mlp::theta(), then Mlp::params_updated().
//! Everything random is a function of (seed, example or row, step), so a checkpoint
//! needs only θ, the optimizer state, s and (pcd) the replay buffer.
//!
//! Monitors (train.eval_every, and the held-out NLL also after the last step): the
//! batch loss and ‖g‖ (cd / pcd also the mean energies of data and negatives); on
//! 2-D data with a held-out split the NLL of the held-out points with ln Z from a
//! grid (estimators/grid.hpp), and for synthetic data with a closed-form density
//! the exact NLL of those points for comparison. cd / pcd end with the seed's check
//! (output /eval): energies of a fresh batch of data, of model samples drawn as at
//! step run.steps (without touching the buffer) and of noise, and those samples.
//! With the NLL grid and an output file, /landscape holds the final energy at the
//! grid's cell centres (as `zeta sample`'s landscape, with its .xmf sidecar): the
//! energies the last NLL evaluation normalised, gathered by it.
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include "train_common.hpp"
#include "apps/apps.hpp"
#include "zeta/io/output.hpp"
#include "zeta/core/progress.hpp"
#include "zeta/estimators/grid.hpp"
#include "zeta/io/checkpoint.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/io/params.hpp"
#include "zeta/models/mlp.hpp"
#include "zeta/rng/philox.hpp"
#include "zeta/samplers/samplers.hpp"

namespace zeta::apps::train_detail {

namespace {

using Space = Kokkos::DefaultExecutionSpace;

//! The Philox block of an example's σ choice: far above the blocks its normals use.
constexpr std::uint32_t kSigmaBlock = 0x80000000u;

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
// batches, the noise, the buffer and the optimizer state (not the learning rate
// or the sampler's step).
const std::vector<std::string> kSignatureKeys = {"model.",      "data.",           "train.objective",   "train.batch",
                                                 "train.sigma", "train.optimizer", "train.buffer_size", "run.seed"};

//! What both objectives share: the batches, the optimizer, the gradient buffers and
//! the two reductions of per-partition gradients and monitor sums.
//! The energies of the check after training (cd / pcd): means of data, samples and noise.
struct EvalFigures {
  bool done = false;
  double data = NAN, model = NAN, noise = NAN;
};

class MlpTrainer {
 public:
  MlpTrainer(const TrainSpec& ts, const data::Dataset& d, Mlp<Space>& mlp, const Comm& comm)
      : ts_(ts),
        data_(d),
        mlp_(mlp),
        comm_(comm),
        plan_(d.train, d.partitions, ts.batch, ts.seed),
        opt_(ts.opt, std::int64_t(mlp.n_params())),
        grad_(comm, mlp, ts.shared_reduction),
        mine_(data::partitions_of(comm.rank(), comm.size(), d.partitions)) {
    if (d.dim != mlp.dim())
      config_error("model.layers", "the first layer has " + std::to_string(mlp.dim()) + " inputs but the data have " +
                                       std::to_string(d.dim) + " features");
    dim_ = d.dim;
    D_ = d.partitions;
    b_ = ts.batch / D_;
    nloc_ = std::int64_t(d.train.local.size());
  }

  training::Optimizer<Space>& optimizer() { return opt_; }
  //! Seconds this rank spent summing gradients over ranks, waiting included.
  const train_detail::ReduceClock& reduce_clock() const { return grad_.clock(); }

  //! ‖g‖ of the reduced gradient and whether it is finite (GradientSum::norm).
  double gradient_norm(bool& finite) { return grad_.norm(finite); }

  //! The optimizer step on θ in place (GradientSum::update, with the norm of
  //! gradient_norm() where that ran this step), the model told so; null, or what
  //! holds NaN or ±Inf.
  const char* update(std::int64_t s) {
    const char* bad = grad_.update(opt_, mlp_.theta(), s, ts_.steps);
    mlp_.params_updated();
    return bad;
  }

 protected:
  //! The global gradient into grad_.g() (GradientSum::reduce).
  template <class Leaf, class All>
  void reduce_gradient(Leaf&& leaf, All&& all) {
    grad_.reduce(ts_.deterministic, nloc_, leaf, all);
  }

  //! Global sums of m monitor values given per local partition (nloc × m):
  //! deterministic, summed partition by partition in order (the same bits on any
  //! rank count); otherwise summed here and over ranks by one allreduce.
  std::vector<double> reduce_sums(const std::vector<double>& per_partition, int m) const {
    std::vector<double> out(m, 0.0);
    if (ts_.deterministic) {
      const auto all = comm_.allgather_chain_rows(per_partition, m, mine_);
      for (std::size_t k = 0; k < all.size(); ++k) out[k % m] += all[k];
      return out;
    }
    for (std::size_t k = 0; k < per_partition.size(); ++k) out[k % m] += per_partition[k];
    comm_.allreduce_sum(out);
    return out;
  }

  //! This rank's data rows of batch s into the host rows `hx` (row l·b + j: partition l's j-th), through `f`
  //! which gets (row, the example's global id in the split, its values).
  template <class F>
  void for_batch_rows(std::int64_t s, F&& f) {
    for (std::int64_t l = 0; l < nloc_; ++l) {
      const auto& part = data_.train.local[l];
      plan_.rows(s, part, ids_);
      for (std::int64_t j = 0; j < b_; ++j)
        f(l * b_ + j, std::uint64_t(part.begin + ids_[j]), part.x.data() + std::size_t(ids_[j]) * dim_);
    }
  }

  const TrainSpec& ts_;
  const data::Dataset& data_;
  Mlp<Space>& mlp_;
  const Comm& comm_;
  data::BatchPlan plan_;
  training::Optimizer<Space> opt_;
  train_detail::GradientSum<Space> grad_;
  ChainRange mine_;
  int dim_ = 0, D_ = 1;
  std::int64_t b_ = 0, nloc_ = 0;
  std::vector<std::int64_t> ids_;
};

class DsmTrainer : public MlpTrainer {
 public:
  //! The batch monitors, one entry per train.eval_every step.
  struct Series {
    std::vector<double> step, loss, gnorm;
    std::vector<std::vector<double>*> all() { return {&step, &loss, &gnorm}; }
    static const std::vector<std::string>& names() {
      static const std::vector<std::string> n = {"step", "dsm_loss", "grad_norm"};
      return n;
    }
  };

  DsmTrainer(const TrainSpec& ts, const data::Dataset& d, Mlp<Space>& mlp, const Comm& comm)
      : MlpTrainer(ts, d, mlp, comm) {
    xt_ = Matrix<Space>("zeta::train::dsm_noisy", nloc_ * b_, dim_);
    c_ = Matrix<Space>("zeta::train::dsm_offset", nloc_ * b_, dim_);
    w_ = Vector<Space>("zeta::train::dsm_weight", nloc_ * b_);
    z_.resize(std::size_t(dim_));
  }

  //! Step s's noisy batch, offsets and weights, its loss and the reduced gradient (grad_.g()).
  void gradient(std::int64_t s) {
    noisy_batch(s);
    local_loss_.assign(nloc_, 0.0);
    reduce_gradient(
        [&](std::int64_t l, const Vector<Space>& g) {
          local_loss_[l] = mlp_.dsm_loss_and_grad(row_block<Space>(xt_, l * b_, b_), row_block<Space>(c_, l * b_, b_),
                                                  PerChain<Space>(Vector<Space>(w_.data() + l * b_, b_)), g);
        },
        [&](const Vector<Space>& g) { local_loss_[0] = mlp_.dsm_loss_and_grad(xt_, c_, PerChain<Space>(w_), g); });
  }

  //! The monitors of the last gradient() at step s (collective); returns the loss.
  double record(Series& series, std::int64_t s, double gnorm) const {
    const double loss = reduce_sums(local_loss_, 1)[0];
    series.step.push_back(double(s));
    series.loss.push_back(loss);
    series.gnorm.push_back(gnorm);
    return loss;
  }

  const char* loss_name() const { return "the DSM loss"; }
  void gather_state() {}
  void write_state(hid_t) {}
  void read_state(hid_t, const std::string&) {}
  void broadcast_state() {}
  void add_json(JsonSummary& j, const Series&) const { j.add("sigma", ts_.sigma); }
  EvalFigures evaluate(io::OutputFile*) { return {}; }

 private:
  //! x̃ = x + σ z, c = −z / σ and the weight σ² / B of this rank's rows of batch s, in double, rounded once.
  void noisy_batch(std::int64_t s) {
    auto hx = Kokkos::create_mirror_view(xt_);
    auto hc = Kokkos::create_mirror_view(c_);
    auto hw = Kokkos::create_mirror_view(w_);
    const std::int64_t K = std::int64_t(ts_.sigma.size());
    const double B = double(ts_.batch);
    for_batch_rows(s, [&](std::int64_t n, std::uint64_t id, const Real* x) {
      const rng::Stream st(ts_.seed, id, std::uint64_t(s), rng::kDsmNoise);
      const double sigma =
          K == 1 ? ts_.sigma[0] : ts_.sigma[std::min<std::int64_t>(K - 1, std::int64_t(st.uniform(kSigmaBlock) * K))];
      rng::host_normals(ts_.seed, id, std::uint64_t(s), rng::kDsmNoise, dim_, [&](int i, Real z) { z_[i] = z; });
      Real* KOKKOS_RESTRICT xr = &hx(n, 0);
      Real* KOKKOS_RESTRICT cr = &hc(n, 0);
      const Real* KOKKOS_RESTRICT z = z_.data();
      for (int i = 0; i < dim_; ++i) {  // a loop that vectorizes, not a store per call of the sink
        xr[i] = Real(double(x[i]) + sigma * double(z[i]));
        cr[i] = Real(-double(z[i]) / sigma);
      }
      hw(n) = Real(sigma * sigma / B);
    });
    Kokkos::deep_copy(xt_, hx);
    Kokkos::deep_copy(c_, hc);
    Kokkos::deep_copy(w_, hw);
  }

  Matrix<Space> xt_, c_;
  Vector<Space> w_;
  std::vector<double> local_loss_;
  std::vector<Real> z_;  //!< one row's noise
};

//! The distribution of fresh negative states: U(lo, hi)^d (one Philox block per
//! coordinate) when the sampler clamps, else N(0, scale²)^d.
struct FreshState {
  bool uniform;
  double lo, hi, scale;
  template <class Row>
  KOKKOS_INLINE_FUNCTION void operator()(const rng::Stream& st, int d, const Row& row) const {
    if (uniform) {
      for (int i = 0; i < d; ++i) row(i, Real(lo + (hi - lo) * st.uniform(std::uint32_t(i))));
    } else {
      const Real sc = Real(scale);
      st.normals(d, [&](int i, Real z) { row(i, sc * z); });
    }
  }
};

//! The kReplayNoise step of the noise rows of the check after training (above any training step's).
constexpr std::uint64_t kEvalNoiseStep = std::uint64_t(1) << 62;

//! Fills rows [0, n) of `x` with fresh states, row r from Stream(seed, first + r, step, kReplayNoise).
void fresh_rows(const Matrix<Space>& x, std::int64_t n, const FreshState& fresh, std::uint32_t seed,
                std::int64_t first, std::uint64_t step) {
  const int d = static_cast<int>(x.extent(1));
  Kokkos::parallel_for(
      "zeta::train::fresh_states", RangePolicy<Space>(0, n), KOKKOS_LAMBDA(const std::int64_t r) {
        const rng::Stream st(seed, std::uint64_t(first + r), step, rng::kReplayNoise);
        fresh(st, d, [&](int i, Real v) { x(r, i) = v; });
      });
}

//! Negatives of slot-drawn rows: fresh noise where `fresh_row` says so, else the buffer's slot state.
void draw_from_buffer(const Matrix<Space>& x, const Matrix<Space>& buf, const Kokkos::View<std::int64_t*, Space>& slot,
                      const Kokkos::View<int*, Space>& flags, const FreshState& fresh, std::uint32_t seed,
                      std::int64_t first, std::int64_t step) {
  const int d = static_cast<int>(x.extent(1));
  Kokkos::parallel_for(
      "zeta::train::replay_draw", RangePolicy<Space>(0, std::int64_t(x.extent(0))), KOKKOS_LAMBDA(const std::int64_t r) {
        if (flags(r) & 1) {
          const rng::Stream st(seed, std::uint64_t(first + r), std::uint64_t(step + 1), rng::kReplayNoise);
          fresh(st, d, [&](int i, Real v) { x(r, i) = v; });
        } else {
          for (int i = 0; i < d; ++i) x(r, i) = buf(slot(r), i);
        }
      });
}

//! The states back to their slots, from the rows whose flag bit 2 marks the slot's last draw.
void return_to_buffer(const Matrix<Space>& x, const Matrix<Space>& buf, const Kokkos::View<std::int64_t*, Space>& slot,
                      const Kokkos::View<int*, Space>& flags) {
  const int d = static_cast<int>(x.extent(1));
  Kokkos::parallel_for(
      "zeta::train::replay_return", RangePolicy<Space>(0, std::int64_t(x.extent(0))),
      KOKKOS_LAMBDA(const std::int64_t r) {
        if (flags(r) & 2)
          for (int i = 0; i < d; ++i) buf(slot(r), i) = x(r, i);
      });
}

class ContrastiveTrainer : public MlpTrainer {
 public:
  //! The batch monitors, one entry per train.eval_every step.
  struct Series {
    std::vector<double> step, loss, edata, emodel, gnorm;
    std::vector<std::vector<double>*> all() { return {&step, &loss, &edata, &emodel, &gnorm}; }
    static const std::vector<std::string>& names() {
      static const std::vector<std::string> n = {"step", "loss", "energy_data", "energy_model", "grad_norm"};
      return n;
    }
  };

  ContrastiveTrainer(const TrainSpec& ts, const data::Dataset& d, Mlp<Space>& mlp, const Comm& comm)
      : MlpTrainer(ts, d, mlp, comm),
        neg_(ChainRange{D_ * b_, mine_.offset * b_, nloc_ * b_}, d.dim, 1.0),
        fresh_{ts.langevin.clamp, ts.langevin.clamp_min, ts.langevin.clamp_max, ts.langevin.init_scale} {
    const std::int64_t n = nloc_ * b_;
    x_ = Matrix<Space>("zeta::train::contrastive_rows", 2 * n, dim_);
    neg_.x = row_block<Space>(x_, n, n);  // the negatives move in place, in x_'s second half
    E_ = Vector<Space>("zeta::train::contrastive_energy", 2 * n);
    sign_ = Vector<Space>("zeta::train::contrastive_sign", 2 * n);
    Kokkos::deep_copy(Kokkos::subview(sign_, std::make_pair(std::int64_t(0), n)), Real(1.0 / double(ts.batch)));
    Kokkos::deep_copy(Kokkos::subview(sign_, std::make_pair(n, 2 * n)), Real(-1.0 / double(ts.batch)));
    if (ts_.pcd) {
      M_ = ts.buffer_size / D_;
      buffer_ = Matrix<Space>("zeta::train::replay_buffer", nloc_ * M_, dim_);
      slot_ = Kokkos::View<std::int64_t*, Space>("zeta::train::replay_slot", n);
      flags_ = Kokkos::View<int*, Space>("zeta::train::replay_flags", n);
      fresh_rows(buffer_, nloc_ * M_, fresh_, ts.seed, mine_.offset * M_, 0);
    }
  }

  //! Step s's data rows and negatives, the loss terms and the reduced gradient.
  void gradient(std::int64_t s) {
    const std::int64_t n = nloc_ * b_;
    data_rows(s, row_block<Space>(x_, 0, n));
    negatives(s, true);
    const double a = ts_.energy_reg / double(ts_.batch), inv = 1.0 / double(ts_.batch);
    reduce_gradient(
        [&](std::int64_t l, const Vector<Space>& g) {
          mlp_.contrastive_grad(row_block<Space>(x_, l * b_, b_), inv, a, g, Vector<Space>(E_.data() + l * b_, b_));
          mlp_.contrastive_grad(row_block<Space>(x_, n + l * b_, b_), -inv, a, g,
                                Vector<Space>(E_.data() + n + l * b_, b_));
        },
        [&](const Vector<Space>& g) { mlp_.contrastive_grad(x_, PerChain<Space>(sign_), a, g, E_); });
  }

  //! The monitors of the last gradient() at step s (collective); returns the loss.
  double record(Series& series, std::int64_t s, double gnorm) const {
    const auto e = host_copy(E_);
    const std::int64_t n = nloc_ * b_;
    const double a = ts_.energy_reg, B = double(ts_.batch);
    std::vector<double> local(3 * nloc_, 0.0);  // per partition: Σ E₊, Σ E₋, Σ (E₊² + E₋²)
    for (std::int64_t l = 0; l < nloc_; ++l)
      for (std::int64_t j = 0; j < b_; ++j) {
        const double ep = e[l * b_ + j], em = e[n + l * b_ + j];
        local[3 * l] += ep;
        local[3 * l + 1] += em;
        local[3 * l + 2] += ep * ep + em * em;
      }
    const auto sum = reduce_sums(local, 3);
    const double loss = (sum[0] - sum[1] + a * sum[2]) / B;
    series.step.push_back(double(s));
    series.loss.push_back(loss);
    series.edata.push_back(sum[0] / B);
    series.emodel.push_back(sum[1] / B);
    series.gnorm.push_back(gnorm);
    return loss;
  }

  const char* loss_name() const { return "the contrastive loss"; }

  //! pcd: the replay buffer, /train/replay_buffer (buffer_size × dim, global slot order).
  void write_state(hid_t f) {
    if (!ts_.pcd) return;
    io::write_array(f, "/train/replay_buffer", {hsize_t(ts_.buffer_size), hsize_t(dim_)}, buffer_all_.data());
    buffer_all_.clear();
  }
  //! Collective: gathers the buffer to rank 0 for write_state.
  void gather_state() {
    if (!ts_.pcd) return;
    const ChainRange range{ts_.buffer_size, mine_.offset * M_, nloc_ * M_};
    buffer_all_ = comm_.gather_chain_rows(host_copy(buffer_), dim_, range);
  }
  void read_state(hid_t f, const std::string& file) {
    if (!ts_.pcd) return;
    buffer_all_ =
        io::read_array<double>(f, file, "/train/replay_buffer", {hsize_t(ts_.buffer_size), hsize_t(dim_)});
    for (double v : buffer_all_)
      if (!std::isfinite(v)) throw Error("checkpoint '" + file + "' holds a non-finite replay buffer (corrupt)", false);
  }
  void broadcast_state() {
    if (!ts_.pcd) return;
    comm_.broadcast(buffer_all_);
    auto h = Kokkos::create_mirror_view(buffer_);
    const std::size_t first = std::size_t(mine_.offset * M_) * dim_;
    for (std::size_t k = 0; k < h.size(); ++k) h.data()[k] = Real(buffer_all_[first + k]);
    Kokkos::deep_copy(buffer_, h);
    buffer_all_.clear();
  }

  void add_json(JsonSummary& j, const Series& series) const {
    j.add("k", ts_.k);
    if (ts_.pcd) {
      j.add("buffer_size", ts_.buffer_size);
      j.add("reinit_prob", ts_.reinit_prob);
    }
    j.add("energy_reg", ts_.energy_reg);
    j.add("step_size", ts_.langevin.step_size);
    if (!series.step.empty()) {
      j.add("energy_data", series.edata.back());
      j.add("energy_model", series.emodel.back());
    }
  }

  //! The seed's check after training: energies of batch run.steps's data, of
  //! negatives drawn as at that step (the buffer is left as it is) and of fresh
  //! noise, and the negatives themselves: /eval/{energy_data, energy_model,
  //! energy_noise, samples} (global row order), and their means.
  EvalFigures evaluate(io::OutputFile* out) {
    const std::int64_t n = nloc_ * b_, s = ts_.steps;
    data_rows(s, row_block<Space>(x_, 0, n));
    negatives(s, false);
    energies(x_, E_, 2 * nloc_);
    const auto e = host_copy(E_);
    Matrix<Space> noise("zeta::train::eval_noise", n, dim_);
    fresh_rows(noise, n, fresh_, ts_.seed, neg_.range.offset, kEvalNoiseStep | std::uint64_t(s));
    Vector<Space> en("zeta::train::eval_noise_energy", n);
    energies(noise, en, nloc_);
    const auto noise_e = host_copy(en);
    const ChainRange rows{D_ * b_, mine_.offset * b_, n};
    const auto ed = comm_.gather_chain_rows(std::vector<double>(e.begin(), e.begin() + n), 1, rows);
    const auto em = comm_.gather_chain_rows(std::vector<double>(e.begin() + n, e.end()), 1, rows);
    const auto ez = comm_.gather_chain_rows(noise_e, 1, rows);
    const auto xs = comm_.gather_chain_rows(host_copy(neg_.x), dim_, rows);
    const auto mean = [](const std::vector<double>& v) {
      double t = 0;
      for (double x : v) t += x;
      return v.empty() ? NAN : t / double(v.size());
    };
    EvalFigures fig{true, mean(ed), mean(em), mean(ez)};
    comm_.broadcast(fig.data);
    comm_.broadcast(fig.model);
    comm_.broadcast(fig.noise);
    if (!out) return fig;
    const hsize_t B = hsize_t(ts_.batch);
    out->write_root_double("/eval/energy_data", {B}, ed.data());
    out->write_root_double("/eval/energy_model", {B}, em.data());
    out->write_root_double("/eval/energy_noise", {B}, ez.data());
    out->write_root_double("/eval/samples", {B, hsize_t(dim_)}, xs.data());
    return fig;
  }

 private:
  void data_rows(std::int64_t s, const Matrix<Space>& x) {
    auto h = Kokkos::create_mirror_view(x);
    for_batch_rows(s, [&](std::int64_t r, std::uint64_t, const Real* v) {
      for (int i = 0; i < dim_; ++i) h(r, i) = v[i];
    });
    Kokkos::deep_copy(x, h);
  }

  //! neg_.x ← step s's negatives after train.k Langevin moves; pcd with `keep`
  //! writes them back to the buffer.
  void negatives(std::int64_t s, bool keep) {
    const std::int64_t n = nloc_ * b_;
    if (!ts_.pcd) {
      Kokkos::deep_copy(neg_.x, row_block<Space>(x_, 0, n));
    } else {
      draw_slots(s);
      draw_from_buffer(neg_.x, buffer_, slot_, flags_, fresh_, ts_.seed, neg_.range.offset, s);
    }
    negative_gradients();
    for (int t = 0; t < ts_.k; ++t) {
      langevin_move(neg_, ts_.langevin, ts_.seed, s * ts_.k + t);
      if (t + 1 < ts_.k) negative_gradients();
    }
    if (ts_.pcd && keep) return_to_buffer(neg_.x, buffer_, slot_, flags_);
  }

  //! E and ∇x E of the negatives: deterministic, partition by partition, so that every
  //! GEMM has the same rows on any rank count (float sgemm is not row-stable).
  void negative_gradients() {
    if (!ts_.deterministic) return mlp_.energy_and_grad(neg_.x, neg_.E, neg_.g);
    for (std::int64_t l = 0; l < nloc_; ++l)
      mlp_.energy_and_grad(row_block<Space>(neg_.x, l * b_, b_), Vector<Space>(neg_.E.data() + l * b_, b_),
                           row_block<Space>(neg_.g, l * b_, b_));
  }

  //! E of the first blocks·b rows of x, partition-sized blocks at a time when deterministic.
  void energies(const Matrix<Space>& x, const Vector<Space>& E, std::int64_t blocks) {
    if (!ts_.deterministic) return mlp_.energy(x, E);
    for (std::int64_t q = 0; q < blocks; ++q)
      mlp_.energy(row_block<Space>(x, q * b_, b_), Vector<Space>(E.data() + q * b_, b_));
  }

  //! Row r's buffer slot (local index), and flags: bit 1 fresh noise, bit 2 the slot's last draw.
  void draw_slots(std::int64_t s) {
    auto hs = Kokkos::create_mirror_view(slot_);
    auto hf = Kokkos::create_mirror_view(flags_);
    std::vector<char> seen(M_);
    for (std::int64_t l = 0; l < nloc_; ++l) {
      std::fill(seen.begin(), seen.end(), 0);
      for (std::int64_t j = b_ - 1; j >= 0; --j) {
        const std::int64_t r = l * b_ + j;
        const rng::Stream st(ts_.seed, std::uint64_t(neg_.range.offset + r), std::uint64_t(s), rng::kReplay);
        const std::int64_t m = std::min<std::int64_t>(M_ - 1, std::int64_t(st.uniform(0) * double(M_)));
        hs(r) = l * M_ + m;
        hf(r) = (st.uniform(1) < ts_.reinit_prob ? 1 : 0) | (seen[m] ? 0 : 2);
        seen[m] = 1;
      }
    }
    Kokkos::deep_copy(slot_, hs);
    Kokkos::deep_copy(flags_, hf);
  }

  Chains<Space> neg_;  //!< the negatives: global row p·b + j of partition p
  FreshState fresh_;
  std::int64_t M_ = 0;  //!< buffer states per partition
  Matrix<Space> x_;     //!< [data rows; negatives], nloc·b each (neg_.x views the second half)
  Vector<Space> E_, sign_;
  Matrix<Space> buffer_;
  Kokkos::View<std::int64_t*, Space> slot_;
  Kokkos::View<int*, Space> flags_;
  std::vector<double> buffer_all_;  //!< the whole buffer, between gather / read and write / scatter
};

template <class Trainer, class Series>
void write_checkpoint(const Comm& comm, const io::CheckpointSpec& ck, const Config& cfg, std::int64_t step,
                      const Mlp<Space>& mlp, Trainer& tr, const Series& series, const NllSeries& nll) {
  const MlpParams params = mlp.mlp_params();
  tr.gather_state();
  io::write_checkpoint(comm, ck.file, [&](hid_t f) {
    io::write_checkpoint_header(f, "train", cfg.resolved_ini(), kSignatureKeys);
    write_train_state(f, step, tr.optimizer());
    io::write_mlp_params(f, params);
    write_series(f, series);
    write_series(f, nll);
    tr.write_state(f);
  });
}

template <class Trainer, class Series>
void read_checkpoint(const Comm& comm, const io::CheckpointSpec& ck, const Config& cfg, const TrainSpec& ts,
                     std::int64_t& step, Mlp<Space>& mlp, Trainer& tr, Series& series, NllSeries& nll) {
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
    tr.read_state(f, ck.file);
    check_train_state(st, theta, ck.file);
  });
  broadcast_train_state(comm, st);
  comm.broadcast(theta);
  broadcast_series(comm, series);
  broadcast_series(comm, nll);
  tr.broadcast_state();
  step = st.head[0];
  mlp.set_params(theta);
  tr.optimizer().load(st.m, st.v, st.head[1]);
}

template <class Trainer>
TrainResult run(const Config& cfg, const Comm& comm, const TrainSpec& ts, const data::DataSpec& dspec,
                const data::Dataset& d, const io::CheckpointSpec& ck, Mlp<Space>& mlp, Kokkos::Timer& timer) {
  using Series = typename Trainer::Series;
  Trainer tr(ts, d, mlp, comm);

  // The NLL monitor: 2-D data with a held-out split, a grid around both splits; the
  // exact NLL of the same points where the synthetic density has a closed form.
  const bool grid = ts.grid_points > 0 && d.dim == 2 && d.heldout.n > 0;
  Grid2d box;
  if (grid) box = grid_around(d, comm, ts.grid_points);
  double true_nll = NAN;
  if (grid && dspec.type == data::FileType::synthetic && data::has_log_density(dspec.synthetic.shape))
    true_nll = data::synthetic_nll(dspec, d, comm).mean;

  Series series;
  NllSeries nll;
  std::vector<double> cells;  // E at the grid's cells for the final θ, on rank 0 (the /landscape)
  GridOptions keep;
  keep.keep_energy = true;
  auto evaluate_nll = [&](std::int64_t s, bool keep_cells) {
    GridNll r = grid_nll(mlp, box, d.heldout, d.partitions, comm, keep_cells ? keep : GridOptions());
    if (keep_cells) cells = std::move(r.energy);
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
      if (!std::isfinite(tr.record(series, s, gnorm))) diverged(s, tr.loss_name(), ts, ck);
      // The parameters before step s's update: those a run ending at s evaluated last.
      if (grid && (nll.step.empty() || nll.step.back() != double(s))) evaluate_nll(s, false);
    }
    if (const char* bad = tr.update(s)) diverged(s, bad, ts, ck);
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
  const double run_s = progress.elapsed_s();
  res.steps_done = step;
  // The final parameters (once: a restart from here finds the entry).
  if (grid && step == ts.steps && (nll.step.empty() || nll.step.back() != double(step))) evaluate_nll(step, bool(out));
  if (!ck.file.empty()) write_checkpoint(comm, ck, cfg, step, mlp, tr, series, nll);
  res.params = mlp.params();
  if (!series.step.empty()) {
    res.evaluated_at = std::int64_t(series.step.back());
    res.loss = series.loss.back();
    if (ts.dsm) res.dsm_loss = res.loss;
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
    const MlpParams p = mlp.mlp_params();
    for (int l = 0; l < mlp.nlayers(); ++l) {
      const std::string base = "/model/layer_" + std::to_string(l);
      out->write_root_double(base + "/weight", {hsize_t(p.layers[l + 1]), hsize_t(p.layers[l])}, p.weight[l].data());
      out->write_root_double(base + "/bias", {hsize_t(p.layers[l + 1])}, p.bias[l].data());
    }
    write_series(*out, series);
    write_series(*out, nll);
    if (std::isfinite(true_nll)) out->write_root_double("/train/true_nll", {1}, &true_nll);
    if (grid) {
      // An interrupted run had no final evaluation: the grid at the θ it stopped with.
      if (step != ts.steps) cells = grid_log_z(mlp, box, comm, keep).energy;
      std::vector<double> xs(std::size_t(box.nx)), ys(std::size_t(box.ny));
      for (std::int64_t i = 0; i < box.nx; ++i) xs[std::size_t(i)] = box.x(i);
      for (std::int64_t j = 0; j < box.ny; ++j) ys[std::size_t(j)] = box.y(j);
      io::write_landscape_values(*out, xs, ys, cells, comm);
    }
  }
  EvalFigures eval;
  if (res.status == "ok") eval = tr.evaluate(out.get());
  if (out) {
    out->attribute("steps", res.steps_done);
    out->finish();
  }

  res.wall_s = timer.seconds();
  res.updates_per_s = run_s > 0 ? double(res.steps_done - first) / run_s : 0;
  res.examples_per_s = res.updates_per_s * double(ts.batch);
  auto& j = res.json;
  io::add_json_header(j, "train", res.status, res.wall_s, comm, "mlp", "none");
  j.add("objective", ts.dsm ? "dsm" : ts.pcd ? "pcd" : "cd");
  tr.add_json(j, series);
  j.add("activation", activation_name(mlp.activation()));
  j.add("examples", d.train.n);
  j.add("batch", ts.batch);
  j.add("partitions", d.partitions);
  j.add("deterministic", ts.deterministic);
  j.add("steps", res.steps_done);
  j.add("loss", res.loss);
  if (ts.dsm) j.add("dsm_loss", res.dsm_loss);
  j.add("grad_norm", res.grad_norm);
  j.add("evaluated_at", res.evaluated_at);
  if (!nll.step.empty()) {
    j.add("heldout_nll", res.heldout_nll);
    j.add("heldout_nll_stderr", res.heldout_nll_stderr);
    j.add("grid_log_z", res.grid_log_z);
    j.add("nll_at", res.nll_at);
  }
  if (std::isfinite(true_nll)) j.add("true_nll", true_nll);
  if (eval.done) {
    j.add("eval_energy_data", eval.data);
    j.add("eval_energy_model", eval.model);
    j.add("eval_energy_noise", eval.noise);
  }
  j.add("updates_per_s", res.updates_per_s);
  j.add("examples_per_s", res.examples_per_s);
  train_detail::add_reduce_json(j, comm, tr.reduce_clock(), run_s);
  if (!ts.file.empty()) j.add("output", ts.file);
  if (!ck.file.empty()) j.add("checkpoint", ck.file);
  return res;
}

}  // namespace

TrainResult train_mlp(const Config& cfg, const Comm& comm, const TrainSpec& ts, const ModelSpec& ms,
                      const data::DataSpec& dspec, const io::CheckpointSpec& ck, Kokkos::Timer& timer) {
  const data::Dataset d = data::load(dspec, ts.seed, comm);
  Mlp<Space> mlp(ms.mlp, ms.activation);
  if (ts.dsm) return run<DsmTrainer>(cfg, comm, ts, dspec, d, ck, mlp, timer);
  return run<ContrastiveTrainer>(cfg, comm, ts, dspec, d, ck, mlp, timer);
}

}  // namespace zeta::apps::train_detail
