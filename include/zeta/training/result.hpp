//! What `zeta train` reports: the figures of its JSON line, the final θ, the JSON itself.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/core/json.hpp"

namespace zeta::training {

struct TrainResult {
  std::string status = "ok";  //!< ok | interrupted
  std::int64_t steps_done = 0;  //!< optimizer steps in total (a restart counts the earlier ones)
  //! The last monitor values (train.eval_every): loss = recon_error.
  double loss = NAN, recon_error = NAN, pseudo_loglik = NAN, free_energy_data = NAN, free_energy_model = NAN,
         grad_norm = NAN;
  std::int64_t evaluated_at = -1;  //!< the step of those values
  //! mlp (dsm): loss = dsm_loss, the batch's DSM loss; on 2-D data the held-out NLL with
  //! a grid ln Z at step nll_at (the final parameters when the run finished), and the
  //! exact NLL of the same points under the synthetic data's density.
  double dsm_loss = NAN, heldout_nll = NAN, heldout_nll_stderr = NAN, grid_log_z = NAN, true_nll = NAN;
  std::int64_t nll_at = -1;
  double wall_s = 0, updates_per_s = 0, examples_per_s = 0;
  std::vector<double> params;  //!< final θ (every rank): rbm [W | b | c], mlp Mlp::theta()'s layout
  std::string output;  //!< the output file's name as published (empty: none)
  JsonSummary json;
};

}  // namespace zeta::training
