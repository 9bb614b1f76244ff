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
#include <cmath>
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

//! Elements per work item of the flat-vector kernels: a long vectorizable run on a
//! host core, one element per GPU thread.
template <class Space>
constexpr std::int64_t flat_block() {
  return kHostKernels<Space> ? 4096 : 1;
}

//! Σ x_i² over [lo, hi) in double: 8 independent partial sums (vectorizable; a fixed order).
KOKKOS_FORCEINLINE_FUNCTION double block_squares(const Real* KOKKOS_RESTRICT p, std::int64_t lo, std::int64_t hi) {
  double lane[8] = {};
  std::int64_t i = lo;
  for (; i + 8 <= hi; i += 8)
    for (int q = 0; q < 8; ++q) lane[q] += double(p[i + q]) * double(p[i + q]);
  for (int q = 0; i < hi; ++i, ++q) lane[q] += double(p[i]) * double(p[i]);
  double s = 0;
  for (int q = 0; q < 8; ++q) s += lane[q];
  return s;
}

//! Σ_i x_i² in double, block by block (block_squares; a fixed order).
template <class Space>
double squared_norm(const Vector<Space>& x) {
  constexpr std::int64_t B = flat_block<Space>();
  const std::int64_t n = x.extent(0);
  const Real* const xp = x.data();
  double sq = 0;
  Kokkos::parallel_reduce(
      "zeta::squared_norm", RangePolicy<Space>(0, (n + B - 1) / B),
      KOKKOS_LAMBDA(const std::int64_t k, double& acc) {
        const std::int64_t lo = k * B, hi = n < lo + B ? n : lo + B;
        acc += block_squares(xp, lo, hi);
      },
      sq);
  return sq;
}

template <class Space>
class Optimizer {
 public:
  Optimizer(const OptimizerSpec& spec, std::int64_t n_params)
      : spec_(spec), m_("optimizer_m", n_params), v_("optimizer_v", spec.type == OptimizerType::adam ? n_params : 0) {}

  //! One update of `params` from the gradient `grad` at 0-based `step` of `total_steps`.
  //! `norm`: ‖grad‖ when the caller has it (negative: computed here, before the update
  //! when clipping needs it, else block by block on the update's pass, with the bits
  //! of squared_norm). Returns the gradient norm before clipping (+Inf where an
  //! updated parameter is not finite and the norm came from the update's pass);
  //! finite() then says whether the gradient and every updated parameter are finite.
  double apply(const Vector<Space>& params, const Vector<Space>& grad, std::int64_t step, std::int64_t total_steps,
               double norm = -1) {
    const std::int64_t n = params.extent(0);
    if (norm < 0 && spec_.clip_norm > 0) norm = std::sqrt(squared_norm<Space>(grad));
    const Real scale = Real(spec_.clip_norm > 0 && norm > spec_.clip_norm ? spec_.clip_norm / norm : 1.0);
    const Real lr = Real(learning_rate(spec_, step, total_steps)), wd = Real(spec_.weight_decay);
    Real* const pp = params.data();
    Real* const mp = m_.data();
    Real* const vp = v_.data();
    const Real* const gp = grad.data();
    constexpr std::int64_t B = flat_block<Space>();
    const RangePolicy<Space> blocks(0, (n + B - 1) / B);
    // Each work item updates a run of B entries and counts those left NaN or ±Inf
    // (x − x is NaN exactly for them; an integer count keeps the loop vectorizable),
    // then adds the run's Σ g² (block_squares, on g still in cache), or +Inf when a
    // count is not 0: the sum is finite exactly when g and the updated θ are.
    double check = 0;
    if (spec_.type == OptimizerType::sgd) {
      const Real mu = Real(spec_.momentum);
      const bool first = steps_ == 0;
      Kokkos::parallel_reduce(
          "sgd_update", blocks,
          KOKKOS_LAMBDA(const std::int64_t k, double& acc) {
            Real* KOKKOS_RESTRICT p = pp;
            Real* KOKKOS_RESTRICT m = mp;
            const Real* KOKKOS_RESTRICT g = gp;
            const std::int64_t lo = k * B, hi = n < lo + B ? n : lo + B;
            int cnt = 0;  // ≤ B: 32-bit lanes
            for (std::int64_t i = lo; i < hi; ++i) {
              const Real gi = scale * g[i] + wd * p[i];
              const Real vi = first ? gi : mu * m[i] + gi;
              m[i] = vi;
              const Real pi = p[i] - lr * vi;
              p[i] = pi;
              cnt += (pi - pi == Real(0)) ? 0 : 1;
            }
            acc += cnt > 0 ? HUGE_VAL : block_squares(g, lo, hi);
          },
          check);
    } else {
      const Real b1 = Real(spec_.beta1), b2 = Real(spec_.beta2), eps = Real(spec_.eps);
      const double t = double(steps_ + 1);
      const Real c1 = Real(1 / (1 - std::pow(spec_.beta1, t))), c2 = Real(1 / (1 - std::pow(spec_.beta2, t)));
      Kokkos::parallel_reduce(
          "adam_update", blocks,
          KOKKOS_LAMBDA(const std::int64_t k, double& acc) {
            Real* KOKKOS_RESTRICT p = pp;
            Real* KOKKOS_RESTRICT m = mp;
            Real* KOKKOS_RESTRICT v = vp;
            const Real* KOKKOS_RESTRICT g = gp;
            const std::int64_t lo = k * B, hi = n < lo + B ? n : lo + B;
            int cnt = 0;  // ≤ B: 32-bit lanes
            for (std::int64_t i = lo; i < hi; ++i) {
              const Real gi = scale * g[i] + wd * p[i];
              const Real mi = b1 * m[i] + (Real(1) - b1) * gi;
              const Real vi = b2 * v[i] + (Real(1) - b2) * gi * gi;
              m[i] = mi;
              v[i] = vi;
              const Real pi = p[i] - lr * (mi * c1) / (kmath::sqrt(vi * c2) + eps);
              p[i] = pi;
              cnt += (pi - pi == Real(0)) ? 0 : 1;
            }
            acc += cnt > 0 ? HUGE_VAL : block_squares(g, lo, hi);
          },
          check);
    }
    ++steps_;
    finite_ = std::isfinite(check);
    return norm >= 0 ? norm : std::sqrt(check);
  }

  //! Whether the last apply() saw a finite gradient and left every parameter finite.
  bool finite() const { return finite_; }

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
  bool finite_ = true;
};

}  // namespace zeta::training
