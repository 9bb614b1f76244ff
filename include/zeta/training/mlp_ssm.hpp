//! Sliced score matching of an MLP energy (train.objective = ssm or ssm_vr; Song,
//! Garg, Shi & Ermon 2019), an Objective of the training loop. Step s:
//!   projection  example i of the training split (global id, as DSM keys it) draws its
//!               v from Philox Stream(seed, i, s, kProjection): N(0, I)
//!               (train.projection = gaussian) or independent ±1 (rademacher);
//!               with train.projections = M, M independent v's per example, v_m
//!               from Stream(seed, i, s + m·2^32, kProjection) (v_0 is the M = 1 one);
//!   loss        L = (1/B) Σ_n [−v_nᵀ H(x_n) v_n + ½ (v_nᵀ∇x E(x_n))²] over the global
//!               batch (ssm), the sliced Fisher divergence up to a constant: with the
//!               model's score s = −∇x E, vᵀ∇x(vᵀ s) + ½ (vᵀ s)²; ssm_vr replaces
//!               ½ (vᵀ∇x E)² by its mean over v, ½ ‖∇x E‖² (E[v vᵀ] = I), which removes
//!               that term's variance;
//!   gradient    SlicedScore (training/sliced_score.hpp): a second-order forward pass
//!               along v and reverse mode through it, on the GEMMs of the MLP.
//! Everything random is a function of (seed, example, step): a checkpoint needs no
//! state beyond θ, the optimizer and s.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/training/mlp_objective.hpp"
#include "zeta/training/sliced_score.hpp"

namespace zeta::training {

class MlpSsm : public MlpObjective {
 public:
  //! The batch monitors, one entry per train.eval_every step.
  struct Series {
    std::vector<double> step, loss, gnorm;
    std::vector<std::vector<double>*> all() { return {&step, &loss, &gnorm}; }
    static const std::vector<std::string>& names();
  };

  MlpSsm(const TrainSpec& ts, const data::DataSpec& dspec, const data::Dataset& d, models::Mlp<Space>& mlp,
         const parallel::Comm& comm);

  void gradient(std::int64_t s, GradientSum<Space>& g) override;
  const char* record(std::int64_t s, double grad_norm) override;
  TableRef monitor_table() override { return table_ref(series_); }
  //! Nothing to hold: a step's projections are a function of (seed, example, step).
  void hold_state(bool) override {}
  const std::vector<std::string>& signature_keys() const override;
  //! The loss of the last gradient() over the global batch (one rank's sum when called on MPI_COMM_SELF).
  double batch_loss() const { return reduce_sums(local_loss_, 1)[0]; }
  //! This rank's rows of batch s and their projections.
  void projected_batch(std::int64_t s);

 protected:
  void summarize_monitors(TrainResult& res) const override;
  void add_objective_json(JsonSummary& j) const override;

 private:
  SlicedScore<Space> sliced_;
  Matrix<Space> x_, v_;
  std::vector<double> local_loss_;
  Series series_;
};

}  // namespace zeta::training
