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
//! normalise E/σ_L.
//!
//! One E(x) makes the levels' densities a tempering family e^{−E/σ}, while the data's noised
//! densities p_σ = p ∗ N(0, σ²) are not one (a mode of width w widens as √(w² + σ²), not as √σ): no
//! single E fits every level, and the σ_L density is biased (held-out NLL 2.60 against the
//! true 2.15 on input/train_ncsn_ring8.ini). train.ncsn_energy = conditional gives each
//! level its own energy E(x, σ), the MLP taking ln σ as a last input
//! (models/noise_conditional_mlp.hpp; Song & Ermon's conditional score network), with the
//! same s(x, σ) = −∇x E(x, σ)/σ and loss ½‖∇x E(x̃_n, σ_n) − z_n‖²; the model density
//! is e^{−E(x, σ_L)/σ_L}, and annealed Langevin moves level i under E(·, σ_i).
//!
//! A run that finishes draws train.eval_samples (default train.batch) samples by annealed
//! Langevin dynamics over the same ladder (samplers/annealed_langevin.hpp; sampler.step_size,
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

 private:
  //! check() on `model` (blocks of the Mlp, or of its noise-conditional view).
  template <class Model>
  void check_with(Model& model, io::OutputFile* out);
};

}  // namespace zeta::training
