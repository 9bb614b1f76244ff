//! Short-run contrastive divergence from noise of an MLP energy
//! (train.objective = short_run_cd; the PyTorch EBM tutorial's ContrastiveDivergence
//! trainer, Nijkamp et al.'s short-run MCMC): every step starts its negatives afresh
//! from noise and moves them by train.k Langevin steps; nothing persists between steps.
//!   negatives   global row r = p·b + j of partition p starts from the fresh state of
//!               Philox Stream(seed, r, s, kReplayNoise): U(sampler.clamp) per coordinate
//!               when the sampler clamps (the tutorial's U(−1, 1) with clamp = -1,1), else
//!               N(0, sampler.init_scale²);
//!   Langevin    as cd / pcd (training/mlp_contrastive.hpp), the noise of move t keyed
//!               by (seed, r, s·k + t);
//!   loss        L = ⟨E(x₊)⟩ − ⟨E(x₋)⟩ + α(⟨E(x₊)²⟩ + ⟨E(x₋)²⟩), as cd / pcd.
//! Unlike pcd with train.reinit_prob = 1, it keeps no buffer (no memory, no
//! checkpoint state beyond θ, the optimizer and s) and draws no slots.
#pragma once
#include <cstdint>

#include "zeta/training/mlp_contrastive.hpp"

namespace zeta::training {

class MlpShortRunCd : public MlpContrastive {
 public:
  MlpShortRunCd(const TrainSpec& ts, const data::DataSpec& dspec, const data::Dataset& d, models::Mlp<Space>& mlp,
                const parallel::Comm& comm)
      : MlpContrastive(ts, dspec, d, mlp, comm) {}

 protected:
  //! Fresh noise for every negative of step s.
  void start_negatives(std::int64_t s) override;
};

}  // namespace zeta::training
