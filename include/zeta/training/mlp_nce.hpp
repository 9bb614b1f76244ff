//! Noise-contrastive estimation of an MLP energy (train.objective = nce; Gutmann &
//! Hyvärinen 2010), an Objective of the training loop. The model is the normalised
//! density ln p(x) = −E(x) − c with c, the model's ln Z, a parameter learnt with θ
//! (the last entry of the flat parameter vector). Step s:
//!   data        the global batch's B rows, as every MLP objective draws them;
//!   noise       ν·B points from the noise q (training/nce_noise.hpp), ν·b per
//!               partition, global row p·ν·b + j of partition p keyed by
//!               Stream(seed, row, s, kNceNoise);
//!   loss        u = −E(x) − c − ln q(x) − ln ν, the log-odds that x is data, and
//!                 J = (1/B) [Σ_data softplus(−u) + Σ_noise softplus(u)],
//!               the logistic loss of classifying data against noise (Gutmann &
//!               Hyvärinen's J, per data point). ∂J/∂E_n = ∂J/∂c = w_n with
//!               w = σ(−u)/B on data rows and −σ(u)/B on noise rows, so
//!               ∇θ J = Σ_n w_n ∇θ E(x_n) (Mlp::grad_energy_params) and ∂J/∂c = Σ_n w_n.
//! At the optimum with a model that can hold the data density, c is the true ln Z of
//! E: the held-out NLL monitor's grid ln Z on 2-D data checks it (JSON nce_log_z next
//! to grid_log_z). Everything random is a function of (seed, row, step): a checkpoint
//! holds θ, c (/nce/log_z), the optimizer and s.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/training/mlp_objective.hpp"
#include "zeta/training/nce_noise.hpp"

namespace zeta::training {

class MlpNce : public MlpObjective {
 public:
  //! The batch monitors, one entry per train.eval_every step.
  struct Series {
    std::vector<double> step, loss, log_z, accuracy, gnorm;
    std::vector<std::vector<double>*> all() { return {&step, &loss, &log_z, &accuracy, &gnorm}; }
    static const std::vector<std::string>& names();
  };

  MlpNce(const TrainSpec& ts, const data::DataSpec& dspec, const data::Dataset& d, models::Mlp<Space>& mlp,
         const parallel::Comm& comm);

  // θ = [the MLP's θ | c]
  std::size_t n_params() const override { return mlp_.n_params() + 1; }
  const Vector<Space>& theta() const override { return theta_; }
  void params_updated() override;
  std::vector<double> params() const override { return host_copy(theta_); }
  //! The learnt ln Z.
  double log_z() const { return c_; }

  void gradient(std::int64_t s, GradientSum<Space>& g) override;
  const char* record(std::int64_t s, double grad_norm) override;
  TableRef monitor_table() override { return table_ref(series_); }
  void hold_state(bool) override {}
  const std::vector<std::string>& signature_keys() const override;
  std::vector<double> read_state(hid_t f, const std::string& file) override;
  void restore(const std::vector<double>& theta) override;
  //! The MLP, the monitors, and /nce: log_z and the noise (mean and cholesky, or lo and hi).
  void write_output(io::OutputFile& out, std::int64_t step) override;

  //! This rank's data and noise rows of step s with their ln q.
  void batch(std::int64_t s);
  //! J of the last gradient()'s batch (collective).
  double batch_loss() const { return reduce_sums(local_, 3)[0] / double(ts_.batch); }
  const NceNoise& noise() const { return noise_; }

 protected:
  void summarize_monitors(TrainResult& res) const override;
  void add_objective_json(JsonSummary& j) const override;
  void gather_extra() override { saved_c_ = c_; }
  void write_extra(hid_t f) override;
  void read_extra(hid_t f, const std::string& file) override;

 private:
  //! The gradient of partitions [l0, l0 + count) into gm (the MLP's part of g): one
  //! forward pass over their rows, weights(), one backward pass (Mlp::grad_energy_params_weighted).
  void block_gradient(std::int64_t l0, std::int64_t count, const Vector<Space>& gm);
  //! J per partition of partitions [l0, l0 + count) into local_, and their rows' weights w_n.
  void weights(std::int64_t l0, std::int64_t count);

  NceNoise noise_;
  std::int64_t nb_ = 0;    //!< noise rows per partition, ν·b
  std::int64_t rows_ = 0;  //!< rows per partition, (1 + ν)·b
  Vector<Space> theta_;
  double c_ = 0, saved_c_ = 0;
  //! Per partition l, rows [l·rows_, (l + 1)·rows_): its b data rows, then its ν·b noise
  //! rows, so that one forward and one backward pass take the partition's whole block.
  Matrix<Space> x_;
  Vector<Space> E_, w_;
  std::vector<double> lq_;          //!< ln q of each row
  std::vector<double> local_;       //!< per partition: Σ J terms, correct classifications, Σ w
  Series series_;
};

}  // namespace zeta::training
