//! Contrastive divergence of an MLP energy with short-run Langevin negatives
//! (train.objective = cd or pcd, the recipe of IGEBM and JEM), an Objective of the
//! training loop. Step s:
//!   negatives   one per batch row, global row r = p·b + j of partition p (b = B/D):
//!               cd: the data row itself; pcd: a state of the partition's share of the
//!               replay buffer (training/replay_buffer.hpp), or fresh noise;
//!   Langevin    train.k moves x ← clamp(x − (ε/2) clip(∇x E) + √ε z) (samplers.hpp), the
//!               noise of move t keyed by (seed, r, s·k + t); pcd writes the states back
//!               to their slots;
//!   loss        L = ⟨E(x₊)⟩ − ⟨E(x₋)⟩ + α(⟨E(x₊)²⟩ + ⟨E(x₋)²⟩) over the global batch
//!               (α = train.energy_reg), Mlp::contrastive_grad.
//! A checkpoint needs θ, the optimizer state, s and (pcd) the replay buffer. A run
//! that finishes ends with the seed's check (output /eval): energies of a fresh batch
//! of data, of model samples drawn as at step run.steps (without touching the buffer)
//! and of noise, and those samples.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/samplers/samplers.hpp"
#include "zeta/training/mlp_objective.hpp"
#include "zeta/training/replay_buffer.hpp"

namespace zeta::training {

class MlpContrastive : public MlpObjective {
 public:
  //! The batch monitors, one entry per train.eval_every step.
  struct Series {
    std::vector<double> step, loss, edata, emodel, gnorm;
    std::vector<std::vector<double>*> all() { return {&step, &loss, &edata, &emodel, &gnorm}; }
    static const std::vector<std::string>& names();
  };

  MlpContrastive(const TrainSpec& ts, const data::DataSpec& dspec, const data::Dataset& d, models::Mlp<Space>& mlp,
                 const parallel::Comm& comm);

  void gradient(std::int64_t s, GradientSum<Space>& g) override;
  const char* record(std::int64_t s, double grad_norm) override;
  TableRef monitor_table() override { return table_ref(series_); }
  //! The negatives' move.
  const char* sampler_name() const override { return "langevin"; }
  //! pcd: gradient() leaves the replay buffer as it is while held.
  void hold_state(bool on) override { hold_ = on; }
  //! The seed's check after training: energies of batch run.steps's data, of
  //! negatives drawn as at that step (the buffer is left as it is) and of fresh
  //! noise, and the negatives themselves: /eval/{energy_data, energy_model,
  //! energy_noise, samples} (global row order), and their means.
  void check(io::OutputFile* out) override;

  //! This rank's data rows of batch s into x.
  void data_rows(std::int64_t s, const Matrix<Space>& x);
  //! neg_.x ← step s's negatives after train.k Langevin moves; pcd with `keep`
  //! writes them back to the buffer (pt_pcd: training/mlp_tempered.hpp).
  virtual void negatives(std::int64_t s, bool keep);
  //! E and ∇x E of the negatives: deterministic, partition by partition, so that every
  //! GEMM has the same rows on any rank count (float sgemm is not row-stable).
  void negative_gradients();
  //! E of the first blocks·b rows of x, partition-sized blocks at a time when deterministic.
  void energies(const Matrix<Space>& x, const Vector<Space>& E, std::int64_t blocks);

 protected:
  void summarize_monitors(TrainResult& res) const override;
  void add_objective_json(JsonSummary& j) const override;
  void gather_extra() override;
  void write_extra(hid_t f) override;
  void read_extra(hid_t f, const std::string& file) override;
  void restore_extra() override;
  //! neg_.x ← step s's starting negatives: cd the data rows (in x_'s first half), pcd
  //! draws from the buffer.
  virtual void start_negatives(std::int64_t s);

 protected:
  samplers::Chains<Space> neg_;  //!< the negatives: global row p·b + j of partition p
  FreshState fresh_;

 private:
  Matrix<Space> x_;  //!< [data rows; negatives], nloc·b each (neg_.x views the second half)
  Vector<Space> E_, sign_;
  ReplayBuffer buffer_;  //!< pcd
  Series series_;
  bool hold_ = false;
};

}  // namespace zeta::training
