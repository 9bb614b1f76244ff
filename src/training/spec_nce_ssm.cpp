// The [train] keys of noise-contrastive estimation (training/mlp_nce.hpp) and sliced
// score matching (training/mlp_ssm.hpp): declared with the other train keys, read and
// checked by read_train_setup for an mlp.
#include <cmath>
#include <string>

#include "zeta/core/error.hpp"
#include "zeta/core/json.hpp"
#include "zeta/models/activation.hpp"
#include "zeta/training/spec.hpp"

namespace zeta::training {

void declare_nce_ssm_keys(Config& cfg) {
  cfg.declare("train.nce_ratio", "4",
              "nce: noise samples per data sample nu (an integer >= 1): each step classifies train.batch data points "
              "against nu * train.batch noise points");
  cfg.declare("train.nce_noise", "gaussian",
              "nce: the noise distribution, of known density: gaussian (mean and covariance of the training split) | "
              "uniform (on train.nce_box)");
  cfg.declare("train.nce_box", "",
              "nce with nce_noise = uniform: lo,hi, the noise uniform on [lo, hi] in every coordinate (it must hold "
              "every training example); empty = the training split's bounding box widened by a tenth of its range "
              "on each side");
  cfg.declare("train.projection", "gaussian",
              "ssm / ssm_vr: the random directions v of sliced score matching, one per example and step: gaussian "
              "(N(0, I)) | rademacher (entries +-1)");
  cfg.declare("train.projections", "1",
              "ssm / ssm_vr: independent projections v per example and step (M >= 1); the loss and its gradient "
              "are the mean over them (variance / M, cost x M)");
}

void read_nce_ssm_keys(const Config& cfg, TrainSpec& ts, const std::string& objective) {
  if (!ts.nce)
    for (const char* key : {"train.nce_ratio", "train.nce_noise", "train.nce_box"})
      if (cfg.differs_from_default(key)) config_error(key, "applies to train.objective = nce (here " + objective + ")");
  if (!ts.ssm)
    for (const char* key : {"train.projection", "train.projections"})
      if (cfg.differs_from_default(key))
        config_error(key, "applies to train.objective = ssm or ssm_vr (here " + objective + ")");
  if (ts.nce || ts.ssm) {
    // Neither samples nor adds noise to the data: the Langevin, buffer and DSM keys are not theirs.
    for (const char* key : {"train.sigma", "train.k", "train.chains", "train.buffer_size", "train.reinit_prob",
                            "train.energy_reg", "sampler.type", "sampler.step_size", "sampler.clip_grad",
                            "sampler.clamp", "sampler.init_scale"})
      if (cfg.differs_from_default(key))
        config_error(key, "does not apply to train.objective = " + objective + " (it draws no samples)");
  }
  if (ts.nce) {
    ts.nce_ratio = cfg.get_int_at_least("train.nce_ratio", 1);
    if (ts.nce_ratio > 100000) config_error("train.nce_ratio", "is impossibly large");
    ts.nce_uniform = cfg.get_choice("train.nce_noise", {"gaussian", "uniform"}) == "uniform";
    ts.nce_box = cfg.get_doubles("train.nce_box");
    if (!ts.nce_uniform && !ts.nce_box.empty())
      config_error("train.nce_box", "applies to train.nce_noise = uniform (the Gaussian noise needs no box)");
    if (!ts.nce_box.empty() &&
        (ts.nce_box.size() != 2 || !std::isfinite(ts.nce_box[0]) || !std::isfinite(ts.nce_box[1]) ||
         !(ts.nce_box[0] < ts.nce_box[1])))
      config_error("train.nce_box", "must be two finite numbers lo,hi with lo < hi (got '" +
                                        cfg.get_string("train.nce_box") + "')");
  }
  if (ts.ssm) {
    ts.rademacher = cfg.get_choice("train.projection", {"gaussian", "rademacher"}) == "rademacher";
    const std::int64_t M = cfg.get_int_at_least("train.projections", 1);
    if (M > 4096) config_error("train.projections", "is impossibly large (at most 4096)");
    ts.projections = int(M);
    // vᵀ∇x(vᵀ∇x E) is differentiated once more w.r.t. θ: the activation's third derivative.
    if (models::parse_activation(cfg.get_string("model.activation")) == models::Activation::leaky_relu)
      config_error("model.activation",
                   "is leaky_relu, which is not smooth: " + objective + " differentiates the energy's Hessian and needs silu "
                   "or softplus");
  }
}

}  // namespace zeta::training
