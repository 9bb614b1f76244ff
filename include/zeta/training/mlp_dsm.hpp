//! Denoising score matching of an MLP energy (train.objective = dsm), an Objective
//! of the training loop. Step s:
//!   noise       example i of the training split (global id, as the RBM monitors
//!               key it) draws from Philox Stream(seed, i, s, kDsmNoise) its
//!               normals z (blocks 0, 1, …) and, with several σ, its σ = σ_k,
//!               k = ⌊K u⌋ with u from block kSigmaBlock; x̃ = x + σ z;
//!   loss        L = (1/B) Σ_n σ_n² ½ ‖∇x E(x̃_n) − z_n/σ_n‖² over the global batch: the
//!               model's score −∇x E matched to the noise kernel's −(x̃ − x)/σ², i.e.
//!               Mlp::dsm_loss_and_grad with the offset c = (x − x̃)/σ² = −z/σ
//!               (σ² weighting as in Song & Ermon, for one σ too: L is then ½‖σ∇E + z‖²
//!               per example, of order one at every scale).
//! Everything random is a function of (seed, example, step): a checkpoint needs no
//! state beyond θ, the optimizer and s.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/training/mlp_objective.hpp"

namespace zeta::training {

class MlpDsm : public MlpObjective {
 public:
  //! The batch monitors, one entry per train.eval_every step.
  struct Series {
    std::vector<double> step, loss, gnorm;
    std::vector<std::vector<double>*> all() { return {&step, &loss, &gnorm}; }
    static const std::vector<std::string>& names();
  };

  //! `conditional`: the noise-conditional form of training/mlp_ncsn.hpp (c = −z, weight 1/B).
  MlpDsm(const TrainSpec& ts, const data::DataSpec& dspec, const data::Dataset& d, models::Mlp<Space>& mlp,
         const parallel::Comm& comm, bool conditional = false);

  void gradient(std::int64_t s, GradientSum<Space>& g) override;
  const char* record(std::int64_t s, double grad_norm) override;
  TableRef monitor_table() override { return table_ref(series_); }
  //! Nothing to hold: a step's noise is a function of (seed, example, step).
  void hold_state(bool) override {}
  //! x̃ = x + σ z, c = −z / σ and the weight σ² / B of this rank's rows of batch s, in double, rounded once
  //! (noise-conditional: c = −z, weight 1 / B).
  void noisy_batch(std::int64_t s);

 protected:
  void summarize_monitors(TrainResult& res) const override;
  void add_objective_json(JsonSummary& j) const override { j.add("sigma", ts_.sigma); }

 private:
  bool conditional_ = false;
  Matrix<Space> xt_, c_;
  Vector<Space> w_;
  std::vector<double> local_loss_;
  std::vector<Real> z_;  //!< one row's noise
  Series series_;
};

}  // namespace zeta::training
