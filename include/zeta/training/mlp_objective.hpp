//! What the objectives of an MLP energy share (training/mlp_dsm.hpp,
//! training/mlp_contrastive.hpp): the global batches, the monitor sums, θ in the
//! /model/layer_l layout of checkpoints and outputs, and the held-out NLL monitor.
//!
//! Monitors (train.eval_every, and the held-out NLL also after the last step): the
//! batch loss and ‖g‖ (each objective adds its own); on 2-D data with a held-out split
//! the NLL of the held-out points with ln Z from a grid (estimators/grid.hpp), and for
//! synthetic data with a closed-form density the exact NLL of those points for
//! comparison. With the NLL grid and an output file, /landscape holds the final energy
//! at the grid's cell centres (as `zeta sample`'s landscape, with its .xmf sidecar):
//! the energies the last NLL evaluation normalised, gathered by it.
#pragma once
#include <Kokkos_Core.hpp>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/data/dataset.hpp"
#include "zeta/estimators/grid.hpp"
#include "zeta/models/mlp.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/training/contrastive_term.hpp"
#include "zeta/training/objective.hpp"
#include "zeta/training/series.hpp"
#include "zeta/training/spec.hpp"

namespace zeta::training {

class MlpObjective : public Objective {
 public:
  //! The held-out NLL evaluations: at the train.eval_every steps and after the last step.
  struct NllSeries {
    std::vector<double> step, log_z, nll, nll_stderr;
    std::vector<std::vector<double>*> all() { return {&step, &log_z, &nll, &nll_stderr}; }
    static const std::vector<std::string>& names();
  };
  //! The energies of the check after training (cd / pcd): means of data, samples and noise.
  using EvalFigures = EnergyCheck;

  MlpObjective(const TrainSpec& ts, const data::DataSpec& dspec, const data::Dataset& d, models::Mlp<Space>& mlp,
               const parallel::Comm& comm);

  std::size_t n_params() const override { return mlp_.n_params(); }
  const Vector<Space>& theta() const override { return mlp_.theta(); }
  void params_updated() override { mlp_.params_updated(); }
  std::vector<double> params() const override { return mlp_.params(); }

  const char* monitor(std::int64_t s, bool eval_step) override;
  const char* finish(std::int64_t step, bool to_output) override;
  //! record()'s table and the held-out NLL's, both on the train.eval_every grid.
  std::vector<MonitorTable> monitor_tables() override;

  const std::vector<std::string>& signature_keys() const override;
  void gather_state() override;
  void write_state(hid_t f) override;
  std::vector<double> read_state(hid_t f, const std::string& file) override;
  void restore(const std::vector<double>& theta) override;

  void write_output(io::OutputFile& out, std::int64_t step) override;
  void summarize(TrainResult& res) const override;
  const char* model_name() const override { return "mlp"; }
  //! dsm samples nothing; cd / pcd (MlpContrastive) name their Langevin negatives.
  const char* sampler_name() const override { return "none"; }
  void add_json(JsonSummary& j, const TrainResult& res) const override;

  //! The held-out NLL at step s (collective; `keep_cells`: keep the grid's energies
  //! for /landscape); null, or "the held-out NLL" when it is not finite.
  const char* evaluate_nll(std::int64_t s, bool keep_cells);

 protected:
  //! The last step's monitor values into `res`.
  virtual void summarize_monitors(TrainResult& res) const = 0;
  //! The objective's JSON figures after "objective".
  virtual void add_objective_json(JsonSummary& j) const = 0;
  // The objective's own checkpoint state (the replay buffer): gather (collective),
  // write, read (checked), and spread to every rank (collective).
  virtual void gather_extra() {}
  virtual void write_extra(hid_t) {}
  virtual void read_extra(hid_t, const std::string&) {}
  virtual void restore_extra() {}

  //! Global sums of m monitor values given per local partition (nloc × m):
  //! deterministic, summed partition by partition in order (the same bits on any
  //! rank count); otherwise summed here and over ranks by one allreduce.
  std::vector<double> reduce_sums(const std::vector<double>& per_partition, int m) const;

  //! This rank's data rows of batch s, through `f` which gets (row l·b + j: partition
  //! l's j-th, the example's global id in the split, its values).
  template <class F>
  void for_batch_rows(std::int64_t s, F&& f) {
    plan_.for_rows(s, data_.train, dim_, f);
  }

  //! The model density is e^{−β E}: 1, or 1/σ_L for the noise-conditional model (mlp_ncsn.hpp);
  //! the NLL monitor and /landscape normalise β E.
  double density_beta_ = 1;
  //! > 0: the energy is noise-conditional (ts.sigma_input), evaluated at this σ (σ_L).
  double density_sigma_ = 0;
  const TrainSpec& ts_;
  const data::Dataset& data_;
  models::Mlp<Space>& mlp_;
  const parallel::Comm& comm_;
  data::BatchPlan plan_;
  parallel::Share mine_;
  int dim_ = 0, D_ = 1;
  std::int64_t b_ = 0, nloc_ = 0;
  std::vector<std::int64_t> ids_;
  EvalFigures eval_;  //!< set by check()

 private:
  bool grid_ = false;  //!< the NLL monitor runs (2-D data with a held-out split)
  estimators::Grid2d box_;
  double true_nll_ = NAN;
  NllSeries nll_;
  std::vector<double> cells_;  //!< E at the grid's cells for the final θ, on rank 0 (the /landscape)
  io::MlpParams params_;       //!< θ at gather_state
};

}  // namespace zeta::training
