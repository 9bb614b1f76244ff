//! Noise-conditional denoising score matching of an MLP energy (train.objective =
//! ncsn; Song & Ermon 2019, with the s(x, σ) = s(x)/σ form of their 2020 paper), an
//! Objective of the training loop. One energy E(x) gives the score at every noise level,
//!   s(x, σ) = −∇x E(x) / σ,   so level σ's density is e^{−E(x)/σ}.
//! Over the decreasing ladder σ_1 > … > σ_L (train.sigma, or its two ends with
//! train.sigma_levels = L: geometric), step s:
//!   noise  as MlpDsm: example i draws σ = σ_k, k uniform, and z from
//!          Stream(seed, i, s, kDsmNoise); x̃ = x + σ z;
//!   loss   L = (1/B) Σ_n σ_n² ½ ‖s(x̃_n, σ_n) + z_n/σ_n‖² = (1/B) Σ_n ½ ‖∇x E(x̃_n) − z_n‖²,
//!          the weight σ² per level of Song & Ermon (Mlp::dsm_loss_and_grad with c = −z).
//! The model density is level L's, e^{−E/σ_L}: the held-out NLL monitor and /landscape
//! normalise E/σ_L. A run that finishes draws train.batch samples by annealed Langevin
//! dynamics over the same ladder (samplers/annealed_langevin.hpp; sampler.step_size,
//! sampler.steps_per_level, initial states N(0, sampler.init_scale²)) and writes them to
//! /eval/samples with /eval/energy_{data, model, noise}, as the contrastive objectives do.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/core/config.hpp"
#include "zeta/training/mlp_dsm.hpp"
#include "zeta/training/spec.hpp"

namespace zeta::training {

//! train.sigma_levels and sampler.steps_per_level (the eval samples).
void declare_ncsn_keys(Config& cfg);
//! With train.objective = ncsn: the ladder into ts.sigma and the eval sampler into
//! ts.annealed (errors name the key); otherwise an explicit ncsn key is an error.
void read_ncsn_keys(const Config& cfg, TrainSpec& ts);

class MlpNcsn : public MlpDsm {
 public:
  MlpNcsn(const TrainSpec& ts, const data::DataSpec& dspec, const data::Dataset& d, models::Mlp<Space>& mlp,
          const parallel::Comm& comm);

  const std::vector<std::string>& signature_keys() const override;
  const char* sampler_name() const override { return "annealed_langevin"; }
  //! The annealed Langevin samples of the trained model and the energies of data, samples
  //! and noise (/eval, global row order), and their means.
  void check(io::OutputFile* out) override;

 protected:
  void add_objective_json(JsonSummary& j) const override;
};

}  // namespace zeta::training
