//! Denoising score matching of an MLP energy (train.objective = dsm), an Objective
//! of the training loop: training/dsm.hpp's noise, loss and gradient (DsmBatch) on
//! Mlp::dsm_loss_and_grad, with the MLP objectives' monitors and checkpoints
//! (training/mlp_objective.hpp).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/training/dsm.hpp"
#include "zeta/training/mlp_objective.hpp"

namespace zeta::training {

class MlpDsm : public MlpObjective {
 public:
  using Series = DsmBatch::Series;

  //! `conditional`: the noise-conditional form of training/mlp_ncsn.hpp (c = −z, weight 1/B).
  MlpDsm(const TrainSpec& ts, const data::DataSpec& dspec, const data::Dataset& d, models::Mlp<Space>& mlp,
         const parallel::Comm& comm, bool conditional = false);

  void gradient(std::int64_t s, GradientSum<Space>& g) override;
  const char* record(std::int64_t s, double grad_norm) override;
  TableRef monitor_table() override { return table_ref(series_); }
  //! Nothing to hold: a step's noise is a function of (seed, example, step).
  void hold_state(bool) override {}
  //! DsmBatch::noisy of this rank's rows of batch s.
  void noisy_batch(std::int64_t s);

 protected:
  void summarize_monitors(TrainResult& res) const override;
  void add_objective_json(JsonSummary& j) const override { j.add("sigma", ts_.sigma); }

 private:
  DsmBatch batch_;
  Series series_;
};

}  // namespace zeta::training
