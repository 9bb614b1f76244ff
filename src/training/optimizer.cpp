#include "zeta/training/optimizer.hpp"

#include <cmath>

#include "zeta/core/error.hpp"

namespace zeta::training {

void declare_optimizer_keys(Config& cfg) {
  cfg.declare("train.optimizer", "adam", "sgd (with momentum) or adam");
  cfg.declare("train.lr", "1e-3", "learning rate (the schedule's starting value)");
  cfg.declare("train.momentum", "0.9", "sgd momentum μ (0 = plain SGD)");
  cfg.declare("train.weight_decay", "0", "L2 weight decay: adds weight_decay·θ to the gradient");
  cfg.declare("train.adam_beta1", "0.9", "Adam's first-moment decay");
  cfg.declare("train.adam_beta2", "0.999", "Adam's second-moment decay");
  cfg.declare("train.adam_eps", "1e-8", "Adam's ε");
  cfg.declare("train.lr_schedule", "constant", "constant, step (× lr_gamma every lr_step_every steps) or cosine (to lr_min)");
  cfg.declare("train.lr_step_every", "1000", "step schedule: steps between decays");
  cfg.declare("train.lr_gamma", "0.5", "step schedule: decay factor");
  cfg.declare("train.lr_min", "0", "cosine schedule: learning rate at the last step");
  cfg.declare("train.clip_norm", "0", "clip the gradient to this global L2 norm (0 = off)");
}

OptimizerSpec read_optimizer_spec(const Config& cfg) {
  OptimizerSpec s;
  s.type = cfg.get_choice("train.optimizer", {"sgd", "adam"}) == "sgd" ? OptimizerType::sgd : OptimizerType::adam;
  s.lr = cfg.get_positive("train.lr");
  s.momentum = cfg.get_nonnegative("train.momentum");
  if (s.momentum >= 1) config_error("train.momentum", "must be in [0, 1)");
  s.weight_decay = cfg.get_nonnegative("train.weight_decay");
  s.beta1 = cfg.get_nonnegative("train.adam_beta1");
  if (s.beta1 >= 1) config_error("train.adam_beta1", "must be in [0, 1)");
  s.beta2 = cfg.get_nonnegative("train.adam_beta2");
  if (s.beta2 >= 1) config_error("train.adam_beta2", "must be in [0, 1)");
  s.eps = cfg.get_positive("train.adam_eps");
  const std::string sch = cfg.get_choice("train.lr_schedule", {"constant", "step", "cosine"});
  s.schedule = sch == "step" ? Schedule::step : sch == "cosine" ? Schedule::cosine : Schedule::constant;
  s.step_every = cfg.get_int_at_least("train.lr_step_every", 1);
  s.gamma = cfg.get_positive("train.lr_gamma");
  s.lr_min = cfg.get_nonnegative("train.lr_min");
  if (s.schedule == Schedule::cosine && s.lr_min > s.lr) config_error("train.lr_min", "must not exceed train.lr");
  s.clip_norm = cfg.get_nonnegative("train.clip_norm");
  return s;
}

double learning_rate(const OptimizerSpec& s, std::int64_t step, std::int64_t total_steps) {
  switch (s.schedule) {
    case Schedule::step:
      return s.lr * std::pow(s.gamma, double(step / s.step_every));
    case Schedule::cosine: {
      const double t = total_steps > 1 ? double(std::min(step, total_steps - 1)) / double(total_steps - 1) : 1.0;
      return s.lr_min + 0.5 * (s.lr - s.lr_min) * (1 + std::cos(M_PI * t));
    }
    case Schedule::constant:
    default:
      return s.lr;
  }
}

}  // namespace zeta::training
