//! Denoising score matching of a layer-stack energy (model.type = net, models/net.hpp;
//! train.objective = dsm), an Objective of the training loop: training/dsm.hpp's
//! noise, loss and partition-block gradient (DsmBatch, as the MLP's) on
//! Net::dsm_loss_and_grad, which needs smooth activations (silu, softplus; a
//! lrelu / relu layer is refused naming model.net and its index). The keys are the
//! MLP's DSM keys (train.sigma, one value or a list). Spectral-norm layers: one power
//! iteration per step before the loss, as PyTorch's training-mode forward (none while
//! the state is held). A checkpoint holds θ (/model/net/layer_i with the sn layers'
//! u and v, training/net_state.hpp), the optimizer state and the step: the noise is a
//! function of (seed, example, step). A finished run ends with the check of the trained
//! model (output /eval): the energies of a batch of data (batch run.steps), of the same
//! rows with their DSM noise, and of uniform noise on [0, 1] (the images' range).
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/data/dataset.hpp"
#include "zeta/models/net.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/training/dsm.hpp"
#include "zeta/training/net_state.hpp"
#include "zeta/training/objective.hpp"
#include "zeta/training/spec.hpp"

namespace zeta::training {

class NetDsm : public NetObjective {
 public:
  using Series = DsmBatch::Series;
  //! The check after training: mean energies of data, noisy data and uniform noise.
  struct EvalFigures {
    bool done = false;
    double data = NAN, noisy = NAN, noise = NAN;
  };

  //! Refuses (naming model.net and the layer) a net with a kinked activation.
  NetDsm(const TrainSpec& ts, const data::Dataset& d, models::Net<Space>& net, const parallel::Comm& comm);

  void gradient(std::int64_t s, GradientSum<Space>& g) override;
  const char* record(std::int64_t s, double grad_norm) override;
  TableRef monitor_table() override { return table_ref(series_); }

  //! The model, the data, the batches, the noise (train.sigma) and the optimizer: no buffer.
  const std::vector<std::string>& signature_keys() const override;

  void check(io::OutputFile* out) override;
  void summarize(TrainResult& res) const override;
  const char* sampler_name() const override { return "none"; }
  void add_json(JsonSummary& j, const TrainResult& res) const override;

 private:
  //! E of the rows of x into E, partition-sized blocks at a time when deterministic.
  void energies(const Matrix<Space>& x, const Vector<Space>& E);

  data::BatchPlan plan_;
  parallel::Share mine_;
  int dim_ = 0;
  std::int64_t b_ = 0, nloc_ = 0;
  DsmBatch batch_;
  Series series_;
  EvalFigures eval_;
};

}  // namespace zeta::training
