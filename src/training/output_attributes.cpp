#include "zeta/training/output_attributes.hpp"

#include <string>
#include <vector>

namespace zeta::training {

namespace {

struct Column {
  const char* name;
  const char* units;
  const char* description;
};

//! Every /train column the objectives write (their Series::names()), rows by evaluation.
const std::vector<Column>& monitor_columns() {
  static const std::vector<Column> c = {
      {"step", "step", "optimizer step at which the monitors of this row were evaluated (the train.eval_every steps and run.steps)"},
      {"grad_norm", "1", "Euclidean norm of the parameter gradient of the step, summed over ranks"},
      // RBMs (CD-k / PCD)
      {"recon_error", "1",
       "mean over a batch and its visible units of (v - v')^2, v' the reconstruction after one Gibbs sweep"},
      {"pseudo_loglik", "nat",
       "pseudo-log-likelihood per example of a batch, one random unit flipped (Bernoulli units)"},
      {"free_energy_data", "kT", "mean free energy F(v) of the batch's training examples"},
      {"free_energy_model", "kT", "mean free energy F(v) of the negative samples"},
      {"ais_step", "step", "optimizer step of each AIS evaluation (train.ais_every)"},
      {"log_z", "nat", "AIS estimate of ln Z of the RBM"},
      {"log_z_stderr", "nat", "standard error of log_z"},
      {"heldout_loglik", "nat", "mean log-likelihood per held-out example, -F(v) - ln Z"},
      {"heldout_loglik_stderr", "nat", "standard error of heldout_loglik"},
      // MLPs: DSM, CD / PCD, and the grid NLL of 2-D data
      {"dsm_loss", "1", "denoising score matching loss of the step's batch"},
      {"loss", "kT", "contrastive loss of the step's batch: <E(data)> - <E(samples)> + energy_reg terms"},
      {"energy_data", "kT", "mean energy E(x) of the batch's training examples"},
      {"energy_model", "kT", "mean energy E(x) of the negative samples"},
      {"nce_loss", "nat", "NCE's logistic loss of the step's batch per data point (data against nu times as much noise)"},
      {"nce_log_z", "nat", "NCE's learnt ln Z, the parameter c of ln p(x) = -E(x) - c"},
      {"nce_accuracy", "1", "fraction of the step's data and noise points that NCE's classifier labels right"},
      {"ssm_loss", "1", "sliced score matching loss of the step's batch (ssm_vr: its variance-reduced form)"},
      {"nll_step", "step", "optimizer step of each held-out NLL evaluation on the grid"},
      {"grid_log_z", "nat", "ln Z of the energy by quadrature on the grid (train.grid_points)"},
      {"heldout_nll", "nat", "mean negative log-likelihood per held-out example, E(x) + ln Z"},
      {"heldout_nll_stderr", "nat", "standard error of heldout_nll"},
  };
  return c;
}

}  // namespace

void describe_output(io::OutputFile& out) {
  const hid_t f = out.id();
  for (const Column& c : monitor_columns()) {
    const std::string name = std::string("/train/") + c.name;
    if (io::exists(f, name)) out.describe(name, c.units, c.description, {"evaluation"});
  }
  if (io::exists(f, "/train/true_nll"))
    out.describe("/train/true_nll", "nat",
                 "mean negative log-likelihood of the held-out points under the synthetic data's true density");
  const std::vector<Column> tempered = {
      {"temper_betas", "1/kT",
       "pt_pcd: the ladder's inverse temperatures at the end (train.temper_adapt moves the inner ones)"},
      {"temper_acceptance", "1",
       "pt_pcd: accepted share of the swaps between levels k and k + 1 (after the adaptation)"},
      {"temper_round_trips", "1", "pt_pcd: round trips 0 -> K - 1 -> 0 of each replica (after the adaptation)"}};
  const std::vector<std::string> tempered_axes = {"level", "pair", "replica"};
  for (std::size_t i = 0; i < tempered.size(); ++i) {
    const std::string name = std::string("/train/") + tempered[i].name;
    if (io::exists(f, name)) out.describe(name, tempered[i].units, tempered[i].description, {tempered_axes[i]});
  }
  const char* every = " of the check after the last step (one batch, global row order)";
  const std::vector<Column> eval = {{"energy_data", "kT", "energy E(x) of the data rows"},
                                    {"energy_model", "kT", "energy E(x) of negatives drawn as in training"},
                                    {"energy_noise", "kT", "energy E(x) of fresh noise rows"}};
  for (const Column& c : eval) {
    const std::string name = std::string("/eval/") + c.name;
    if (io::exists(f, name)) out.describe(name, c.units, c.description + std::string(every), {"example"});
  }
  if (io::exists(f, "/eval/samples"))
    out.describe("/eval/samples", "1", std::string("the negatives whose energies are energy_model") + every,
                 {"example", "coordinate"});
}

}  // namespace zeta::training
