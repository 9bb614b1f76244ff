//! Contrastive training of a layer-stack energy (model.type = net, models/net.hpp) by
//! CD or PCD with short-run Langevin negatives, the recipe of the PyTorch EBM tutorial
//! and IGEBM, an Objective of the training loop. The same steps as the MLP's
//! (training/mlp_contrastive.hpp), on the same keys:
//!   negatives   one per batch row, global row r = p·b + j of partition p (b = B/D):
//!               cd: the data row itself; pcd: a state of the partition's share of the
//!               replay buffer (training/replay_buffer.hpp), or fresh noise;
//!   Langevin    train.k moves x ← clamp(x − (ε/2) clip(∇x E) + √ε z), the noise of move
//!               t keyed by (seed, r, s·k + t); pcd writes the states back to their slots;
//!   loss        L = ⟨E(x₊)⟩ − ⟨E(x₋)⟩ + α(⟨E(x₊)²⟩ + ⟨E(x₋)²⟩) over the global batch
//!               (α = train.energy_reg), Net::contrastive_grad; train.clip_norm clips
//!               the gradient's global norm (the tutorial's clip_grad_norm_);
//!   sn layers   one power iteration between the negatives and the loss, as PyTorch's
//!               training-mode forward after the tutorial's eval-mode sampling (none
//!               while the state is held).
//! Every pass over rows goes partition block by partition block when deterministic, so
//! each GEMM sees the same rows on any rank count. A checkpoint holds θ
//! (/model/net/layer_i, with the sn layers' u and v), the optimizer state, the step and
//! (pcd) the replay buffer. A
//! finished run ends with the check of the trained model (output /eval): energies of a
//! batch of data, of negatives drawn as at step run.steps and of uniform noise.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/data/dataset.hpp"
#include "zeta/models/net.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/samplers/chains.hpp"
#include "zeta/training/objective.hpp"
#include "zeta/training/replay_buffer.hpp"
#include "zeta/training/spec.hpp"

namespace zeta::training {

class NetContrastive : public Objective {
 public:
  //! The batch monitors, one entry per train.eval_every step.
  struct Series {
    std::vector<double> step, loss, edata, emodel, gnorm;
    std::vector<std::vector<double>*> all() { return {&step, &loss, &edata, &emodel, &gnorm}; }
    static const std::vector<std::string>& names();
  };
  //! The check after training: mean energies of data, model samples and noise.
  struct EvalFigures {
    bool done = false;
    double data = NAN, model = NAN, noise = NAN;
  };

  NetContrastive(const TrainSpec& ts, const data::Dataset& d, models::Net<Space>& net, const parallel::Comm& comm);

  std::size_t n_params() const override { return net_.n_params(); }
  const Vector<Space>& theta() const override { return net_.theta(); }
  void params_updated() override { net_.params_updated(); }
  std::vector<double> params() const override { return net_.params(); }

  void gradient(std::int64_t s, GradientSum<Space>& g) override;
  const char* record(std::int64_t s, double grad_norm) override;
  const char* monitor(std::int64_t, bool) override { return nullptr; }
  TableRef monitor_table() override { return table_ref(series_); }
  std::vector<MonitorTable> monitor_tables() override { return {{table_ref(series_), ts_.eval_every}}; }
  void hold_state(bool on) override { hold_ = on; }
  const char* finish(std::int64_t, bool) override { return nullptr; }

  const std::vector<std::string>& signature_keys() const override;
  void gather_state() override;
  void write_state(hid_t f) override;
  std::vector<double> read_state(hid_t f, const std::string& file) override;
  void restore(const std::vector<double>& theta) override;

  void write_output(io::OutputFile& out, std::int64_t step) override;
  void check(io::OutputFile* out) override;
  void summarize(TrainResult& res) const override;
  const char* model_name() const override { return "net"; }
  const char* sampler_name() const override { return "langevin"; }
  void add_json(JsonSummary& j, const TrainResult& res) const override;

  //! This rank's data rows of batch s into x.
  void data_rows(std::int64_t s, const Matrix<Space>& x);
  //! neg_.x ← step s's negatives after train.k Langevin moves; pcd with `keep` writes
  //! them back to the buffer.
  void negatives(std::int64_t s, bool keep);

 private:
  //! E and ∇x E of the negatives, partition block by partition block when deterministic.
  void negative_gradients();
  //! E of the first blocks·b rows of x, partition-sized blocks at a time when deterministic.
  void energies(const Matrix<Space>& x, const Vector<Space>& E, std::int64_t blocks);
  //! Global sums of m values per local partition (nloc × m), rank-count independent when deterministic.
  std::vector<double> reduce_sums(const std::vector<double>& per_partition, int m) const;

  const TrainSpec& ts_;
  const data::Dataset& data_;
  models::Net<Space>& net_;
  const parallel::Comm& comm_;
  data::BatchPlan plan_;
  parallel::Share mine_;
  int dim_ = 0, D_ = 1;
  std::int64_t b_ = 0, nloc_ = 0;
  std::vector<std::int64_t> ids_;
  samplers::Chains<Space> neg_;  //!< the negatives: global row p·b + j of partition p
  FreshState fresh_;
  Matrix<Space> x_;  //!< [data rows; negatives], nloc·b each (neg_.x views the second half)
  Vector<Space> E_, sign_;
  ReplayBuffer buffer_;  //!< pcd
  Series series_;
  EvalFigures eval_;
  std::vector<double> theta_, spectral_;  //!< θ and the sn vectors at gather_state / read_state
  bool hold_ = false;
};

}  // namespace zeta::training
