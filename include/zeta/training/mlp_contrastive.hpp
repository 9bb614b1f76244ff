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
#include "zeta/training/contrastive_term.hpp"
#include "zeta/training/mlp_objective.hpp"

namespace zeta::training {

class MlpContrastive : public MlpObjective {
 public:
  using Series = ContrastiveTerm<models::Mlp<Space>>::Series;

  MlpContrastive(const TrainSpec& ts, const data::DataSpec& dspec, const data::Dataset& d, models::Mlp<Space>& mlp,
                 const parallel::Comm& comm);

  void gradient(std::int64_t s, GradientSum<Space>& g) override;
  const char* record(std::int64_t s, double grad_norm) override { return term_.record(s, grad_norm); }
  TableRef monitor_table() override { return table_ref(term_.series()); }
  //! The negatives' move.
  const char* sampler_name() const override { return "langevin"; }
  //! pcd: gradient() leaves the replay buffer as it is while held.
  void hold_state(bool on) override { hold_ = on; }
  //! The seed's check after training: energies of batch run.steps's data, of
  //! negatives drawn as at that step (the buffer is left as it is) and of fresh
  //! noise, and the negatives themselves: /eval/{energy_data, energy_model,
  //! energy_noise, samples} (global row order), and their means.
  void check(io::OutputFile* out) override;

  //! neg().x ← step s's negatives after train.k Langevin moves; pcd with `keep`
  //! writes them back to the buffer (pt_pcd: training/mlp_tempered.hpp).
  virtual void negatives(std::int64_t s, bool keep);
  //! The shared contrastive steps (training/contrastive_term.hpp).
  ContrastiveTerm<models::Mlp<Space>>& term() { return term_; }

 protected:
  void summarize_monitors(TrainResult& res) const override { term_.summarize(res); }
  void add_objective_json(JsonSummary& j) const override {
    term_.add_settings_json(j);
    term_.add_energy_json(j);
  }
  void gather_extra() override { term_.gather_buffer(); }
  void write_extra(hid_t f) override { term_.write_buffer(f); }
  void read_extra(hid_t f, const std::string& file) override { term_.read_buffer(f, file); }
  void restore_extra() override { term_.scatter_buffer(); }
  //! neg().x ← step s's starting negatives: cd the data rows (in x's first half), pcd
  //! draws from the buffer.
  virtual void start_negatives(std::int64_t s) { term_.start_negatives(s); }

  ContrastiveTerm<models::Mlp<Space>> term_;

 private:
  bool hold_ = false;
};

}  // namespace zeta::training
