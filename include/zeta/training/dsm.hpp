//! Denoising score matching over any energy with dsm_loss_and_grad(x̃, c, s, g)
//! (models::Mlp, models::Net): what training/mlp_dsm.hpp and training/net_dsm.hpp
//! share. Step s:
//!   noise       example i of the training split (global id, as the RBM monitors
//!               key it) draws from Philox Stream(seed, i, s, kDsmNoise) its
//!               normals z (blocks 0, 1, …) and, with several σ, its σ = σ_k,
//!               k = ⌊K u⌋ with u from block kSigmaBlock; x̃ = x + σ z;
//!   loss        L = (1/B) Σ_n σ_n² ½ ‖∇x E(x̃_n) − z_n/σ_n‖² over the global batch: the
//!               model's score −∇x E matched to the noise kernel's −(x̃ − x)/σ², i.e.
//!               the energy's dsm_loss_and_grad with the offset c = (x − x̃)/σ² = −z/σ
//!               (σ² weighting as in Song & Ermon, for one σ too: L is then ½‖σ∇E + z‖²
//!               per example, of order one at every scale); noise-conditional
//!               (training/mlp_ncsn.hpp): c = −z, weight 1/B; with train.ncsn_energy =
//!               conditional x̃ has one more column, ln σ_n (the network's noise input),
//!               which the loss holds fixed (c keeps the data's columns);
//!   gradient    partition block by partition block when deterministic (each block's
//!               rows one call, so each GEMM sees the same rows on any rank count),
//!               else all of this rank's rows in one call.
//! Everything random is a function of (seed, example, step): a checkpoint needs no
//! state beyond θ, the optimizer and s.
#pragma once
#include <Kokkos_Core.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "zeta/core/types.hpp"
#include "zeta/training/gradient_sum.hpp"
#include "zeta/training/spec.hpp"

namespace zeta::training {

class DsmBatch {
 public:
  using Space = Kokkos::DefaultExecutionSpace;
  //! The batch monitors, one entry per train.eval_every step.
  struct Series {
    std::vector<double> step, loss, gnorm;
    std::vector<std::vector<double>*> all() { return {&step, &loss, &gnorm}; }
    static const std::vector<std::string>& names();
  };

  //! `nloc` local partitions of `b` rows of `dim` features.
  DsmBatch(const TrainSpec& ts, std::int64_t nloc, std::int64_t b, int dim, bool conditional);

  //! x̃ = x + σ z, c = −z / σ and the weight σ² / B of this rank's rows of batch s, in
  //! double, rounded once (noise-conditional: c = −z, weight 1 / B). `for_rows(s, f)`
  //! calls f(n, global id, x) for local row n = l·b + j of partition l.
  template <class ForRows>
  void noisy(std::int64_t s, ForRows&& for_rows) {
    hx_ = Kokkos::create_mirror_view(xt_);
    hc_ = Kokkos::create_mirror_view(c_);
    hw_ = Kokkos::create_mirror_view(w_);
    for_rows(s, [&](std::int64_t n, std::uint64_t id, const Real* x) { noisy_row(s, n, id, x); });
    Kokkos::deep_copy(xt_, hx_);
    Kokkos::deep_copy(c_, hc_);
    Kokkos::deep_copy(w_, hw_);
  }

  //! ∇θ L of the noisy batch into g, the loss per local partition kept for loss().
  template <class Energy>
  void gradient(Energy& e, GradientSum<Space>& grad) {
    local_loss_.assign(std::size_t(nloc_), 0.0);
    grad.reduce(
        ts_.deterministic, nloc_,
        [&](std::int64_t l, const Vector<Space>& g) {
          local_loss_[std::size_t(l)] =
              e.dsm_loss_and_grad(row_block<Space>(xt_, l * b_, b_), row_block<Space>(c_, l * b_, b_),
                                  PerChain<Space>(Vector<Space>(w_.data() + l * b_, b_)), g);
        },
        [&](const Vector<Space>& g) { local_loss_[0] = e.dsm_loss_and_grad(xt_, c_, PerChain<Space>(w_), g); });
  }

  //! x̃ of the last noisy() (this rank's rows; with ts.sigma_input, [x̃, ln σ]).
  const Matrix<Space>& noisy_rows() const { return xt_; }
  //! The last gradient's losses per local partition (nloc × 1; one entry holds all when not deterministic).
  const std::vector<double>& local_loss() const { return local_loss_; }
  //! Appends step s's row to the series; null, or "the DSM loss" when it is not finite.
  const char* record(Series& series, std::int64_t s, double loss, double grad_norm) const;

 private:
  void noisy_row(std::int64_t s, std::int64_t n, std::uint64_t id, const Real* x);

  const TrainSpec& ts_;
  bool conditional_ = false;
  std::int64_t nloc_ = 0, b_ = 0;
  int dim_ = 0;
  Matrix<Space> xt_, c_;
  Vector<Space> w_;
  Matrix<Space>::HostMirror hx_, hc_;
  Vector<Space>::HostMirror hw_;
  std::vector<double> local_loss_;
  std::vector<Real> z_;  //!< one row's noise
};

}  // namespace zeta::training
