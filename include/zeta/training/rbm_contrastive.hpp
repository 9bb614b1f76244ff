//! Contrastive divergence of an RBM: CD-k (train.objective = cd) or PCD
//! (persistent chains), an Objective of the training loop (training/trainer.hpp).
//!
//! Every rank holds its data partitions and, for PCD, the persistent chains of those
//! partitions. Step s:
//!   positive phase  the rows of global batch s (BatchPlan), weight +1/B;
//!   negative phase  CD-k: k Gibbs sweeps from those rows; PCD: k sweeps of the
//!                   persistent chains (global chain id p·(chains/D) + j); weight −1/M;
//!   gradient        deterministic: one gradient per partition (GradientSum::reduce);
//!                   otherwise the rank's rows at once, fused with the Gibbs sweeps
//!                   where the model can (Rbm::contrastive_gradient).
//! The Gibbs counter is s·k + sweep and the batch is a function of s, so a checkpoint
//! needs only θ, the optimizer state, the PCD chains and s. Monitors: reconstruction
//! error, pseudo-log-likelihood and free energies at the train.eval_every steps, and
//! AIS estimates of ln Z and the held-out log-likelihood at the train.ais_every steps.
#pragma once
#include <Kokkos_Core.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "zeta/core/config.hpp"
#include "zeta/data/dataset.hpp"
#include "zeta/models/factory.hpp"
#include "zeta/models/rbm.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/training/objective.hpp"
#include "zeta/training/spec.hpp"

namespace zeta::training {

//! The data mean per feature over the whole training split: per-partition sums
//! added in partition order (Comm::ordered_sum), the same on any rank count.
std::vector<double> data_mean(const data::Dataset& d, const parallel::Comm& comm);

//! The RBM to train on `d`: θ from model.params (`params`, load_model_params, which
//! checked W against the data) or random W and b from the data mean; `base_bias` gets
//! the visible biases of the data's marginals (the AIS base-rate model stored with the
//! parameters).
models::Rbm<Kokkos::DefaultExecutionSpace> initial_rbm(const TrainSetup& setup, const data::Dataset& d,
                                                       const models::ModelParams& params, const parallel::Comm& comm,
                                                       std::vector<double>& base_bias);

class RbmContrastive : public Objective {
 public:
  //! The monitor series, one entry per evaluation. The pseudo-log-likelihood is a
  //! Bernoulli RBM's only (`with_pll`): a Gaussian unit's conditional density has no
  //! closed form, so a Gaussian RBM's table has no such column.
  struct Series {
    bool with_pll = true;
    std::vector<double> step, recon, pll, fdata, fmodel, gnorm;
    std::vector<std::vector<double>*> all();
    std::vector<std::string> names() const;
  };
  //! The AIS evaluations (train.ais_every), one entry each.
  struct AisSeries {
    std::vector<double> step, log_z, log_z_stderr, heldout, heldout_stderr;
    std::vector<std::vector<double>*> all() { return {&step, &log_z, &log_z_stderr, &heldout, &heldout_stderr}; }
    static const std::vector<std::string>& names();
  };

  RbmContrastive(const TrainSpec& ts, const data::Dataset& d, models::Rbm<Space>& rbm, std::vector<double> base_bias,
                 const parallel::Comm& comm);

  std::size_t n_params() const override { return rbm_.n_params(); }
  const Vector<Space>& theta() const override { return rbm_.theta(); }
  void params_updated() override { rbm_.params_updated(); }
  std::vector<double> params() const override { return rbm_.params(); }

  void start() override;
  void gradient(std::int64_t s, GradientSum<Space>& g) override;
  const char* record(std::int64_t s, double grad_norm) override;
  TableRef monitor_table() override { return table_ref(series_); }
  //! pcd: the persistent chains are copied and put back.
  void hold_state(bool on) override;
  const char* monitor(std::int64_t s, bool eval_step) override;
  const char* finish(std::int64_t step, bool to_output) override;
  //! The monitors on train.eval_every, the AIS on train.ais_every.
  std::vector<MonitorTable> monitor_tables() override;

  const std::vector<std::string>& signature_keys() const override;
  void gather_state() override;
  void write_state(hid_t f) override;
  std::vector<double> read_state(hid_t f, const std::string& file) override;
  void restore(const std::vector<double>& theta) override;

  void write_output(io::OutputFile& out, std::int64_t step) override;
  void summarize(TrainResult& res) const override;
  const char* model_name() const override { return "rbm"; }
  const char* sampler_name() const override { return "gibbs"; }
  void add_json(JsonSummary& j, const TrainResult& res) const override;

  //! The monitors on batch s (after gradient(s), before its update), summed over ranks
  //! per partition in partition order: recon, pll, F data, F model.
  std::vector<double> monitors(std::int64_t s);
  //! The AIS estimate of ln Z and the held-out log-likelihood at step s, appended to the table.
  void evaluate_ais(std::int64_t s);

 protected:
  std::int64_t chain_offset() const { return mine_.offset * cp_; }
  //! This rank's rows of batch s into the data rows.
  void load_batch(std::int64_t s);
  //! The gradient of the data rows (+1/B) and the chain rows vneg_ (−1/M) into g, summed over ranks.
  void reduce_gradient(GradientSum<Space>& grad);

 private:
  //! Loads this rank's rows from all chains (global order).
  void load_chains(const std::vector<double>& all);
  //! The Bernoulli monitor's free energies of the batch with one bit flipped per example, into ff.
  template <class HostView>
  void flipped_free_energies(std::int64_t s, const HostView& hv, const Vector<Space>& ff);


 protected:
  const TrainSpec& ts_;
  const data::Dataset& data_;
  parallel::Share mine_;
  models::Rbm<Space>& rbm_;
  const parallel::Comm& comm_;
  data::BatchPlan plan_;
  int nv_ = 0, nh_ = 0, D_ = 1;
  std::int64_t b_ = 0, cp_ = 0, nloc_ = 0;
  Matrix<Space> vall_, vdata_, vneg_, hneg_;

 private:
  std::vector<double> base_bias_;
  std::vector<Matrix<Space>> heldout_;  //!< the held-out partitions on the device (AIS monitor)
  Series series_;
  AisSeries ais_;
  Matrix<Space> held_;              //!< pcd: the chains during hold_state
  std::vector<double> chains_all_;  //!< pcd: all chains, between gather / read and write / restore
  std::vector<double> theta_all_;   //!< θ at gather_state
};

}  // namespace zeta::training
