//! Optimizers of the data-parallel trainer: SGD with momentum and weight decay,
//! and Adam; learning-rate schedules; clipping by the gradient's global norm.
//! The parameters and the (already rank-reduced) gradient are flat device
//! vectors, so every rank applies the same update to identical replicas.
//!
//! Conventions (PyTorch's): weight decay adds wd·θ to the gradient;
//! SGD: v ← μ v + g, θ ← θ − η v (v = g at the first step);
//! Adam: m ← β₁ m + (1 − β₁) g, s ← β₂ s + (1 − β₂) g², θ ← θ − η m̂ / (√ŝ + ε)
//! with m̂ = m / (1 − β₁ᵗ), ŝ = s / (1 − β₂ᵗ).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/core/config.hpp"
#include "zeta/core/math.hpp"
#include "zeta/core/types.hpp"

namespace zeta::training {

enum class OptimizerType { sgd, adam };
enum class Schedule { constant, step, cosine };

struct OptimizerSpec {
  OptimizerType type = OptimizerType::adam;
  double lr = 1e-3;
  double momentum = 0.9;       // sgd
  double weight_decay = 0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adam
  Schedule schedule = Schedule::constant;
  std::int64_t step_every = 1000;  // step schedule: multiply by gamma every step_every steps
  double gamma = 0.5;
  double lr_min = 0;               // cosine: from lr at step 0 to lr_min at the last step
  double clip_norm = 0;            // 0: no clipping
};

//! Declares the [train] optimizer keys (train.optimizer, train.lr, …).
void declare_optimizer_keys(Config& cfg);
//! Reads and checks them; errors name the key.
OptimizerSpec read_optimizer_spec(const Config& cfg);

//! The learning rate at 0-based `step` of `total_steps`.
double learning_rate(const OptimizerSpec& s, std::int64_t step, std::int64_t total_steps);

template <class Space>
class Optimizer {
 public:
  Optimizer(const OptimizerSpec& spec, std::int64_t n_params)
      : spec_(spec), m_("optimizer_m", n_params), v_("optimizer_v", spec.type == OptimizerType::adam ? n_params : 0) {}

  //! One update of `params` from the gradient `grad` (modified in place by
  //! clipping and weight decay) at 0-based `step` of `total_steps`. Returns the
  //! gradient norm before clipping.
  double apply(const Vector<Space>& params, const Vector<Space>& grad, std::int64_t step, std::int64_t total_steps) {
    const std::int64_t n = params.extent(0);
    const auto g = grad;
    double sq = 0;
    Kokkos::parallel_reduce(
        "grad_norm", RangePolicy<Space>(0, n), KOKKOS_LAMBDA(std::int64_t i, double& acc) { acc += double(g(i)) * g(i); },
        sq);
    const double norm = std::sqrt(sq);
    const Real scale = Real(spec_.clip_norm > 0 && norm > spec_.clip_norm ? spec_.clip_norm / norm : 1.0);
    const Real lr = Real(learning_rate(spec_, step, total_steps)), wd = Real(spec_.weight_decay);
    const auto p = params;
    const auto m = m_;
    if (spec_.type == OptimizerType::sgd) {
      const Real mu = Real(spec_.momentum);
      const bool first = steps_ == 0;
      Kokkos::parallel_for(
          "sgd_update", RangePolicy<Space>(0, n), KOKKOS_LAMBDA(std::int64_t i) {
            const Real gi = scale * g(i) + wd * p(i);
            const Real vi = first ? gi : mu * m(i) + gi;
            m(i) = vi;
            p(i) -= lr * vi;
          });
    } else {
      const auto v = v_;
      const Real b1 = Real(spec_.beta1), b2 = Real(spec_.beta2), eps = Real(spec_.eps);
      const double t = double(steps_ + 1);
      const Real c1 = Real(1 / (1 - std::pow(spec_.beta1, t))), c2 = Real(1 / (1 - std::pow(spec_.beta2, t)));
      Kokkos::parallel_for(
          "adam_update", RangePolicy<Space>(0, n), KOKKOS_LAMBDA(std::int64_t i) {
            const Real gi = scale * g(i) + wd * p(i);
            const Real mi = b1 * m(i) + (Real(1) - b1) * gi;
            const Real vi = b2 * v(i) + (Real(1) - b2) * gi * gi;
            m(i) = mi;
            v(i) = vi;
            p(i) -= lr * (mi * c1) / (kmath::sqrt(vi * c2) + eps);
          });
    }
    ++steps_;
    return norm;
  }

  //! Updates taken so far (Adam's bias correction counts them).
  std::int64_t steps() const { return steps_; }

  //! The state as host vectors (first and second moments, the step count), for checkpoints.
  void save(std::vector<double>& m, std::vector<double>& v, std::int64_t& steps) const {
    m = host_copy(m_);
    v = host_copy(v_);
    steps = steps_;
  }
  void load(const std::vector<double>& m, const std::vector<double>& v, std::int64_t steps) {
    from_host(m, m_);
    from_host(v, v_);
    steps_ = steps;
  }

 private:
  static void from_host(const std::vector<double>& src, const Vector<Space>& d) {
    if (src.size() != std::size_t(d.extent(0))) throw std::runtime_error("optimizer state has the wrong size");
    auto h = Kokkos::create_mirror_view(d);
    for (std::size_t i = 0; i < src.size(); ++i) h(i) = Real(src[i]);
    Kokkos::deep_copy(d, h);
  }

  OptimizerSpec spec_;
  Vector<Space> m_, v_;  // SGD: m_ is the momentum buffer
  std::int64_t steps_ = 0;
};

}  // namespace zeta::training
