//! The AIS estimate from per-chain log-weights spread over ranks: a stable
//! log-mean-exp over all chains (gathered in global chain order, so any rank
//! count gives the same bits), its delta-method standard error, the effective
//! sample size and the log-weight variance.
#pragma once
#include <vector>

#include "zeta/parallel/comm.hpp"

namespace zeta::estimators {

struct LogMeanExp {
  double log_mean = 0;  //!< ln mean_c e^{w_c}
  double stderr = 0;    //!< its standard error, sd(e^w) / (√n mean e^w)
  double ess = 0;       //!< (Σ e^w)² / Σ e^{2w}
  double log_var = 0;   //!< variance of the log-weights
};

//! The low-ESS rule: the delta-method standard error of ln mean w is itself an estimate,
//! from the sample second moment of the weights, and its own relative error is
//! ½ sd(Σw²/n) / (E w²) = ½ √((E w⁴/(E w²)² − 1) / n). For log-normal weights
//! (σ² = var ln w, the large-deviation shape of AIS weights) E w⁴/(E w²)² = e^{4σ²} and
//! ESS/n = e^{−σ²}, so that relative error is ≈ n^{3/2} / (2 ESS²). It is below ¼ (a 2-SE
//! interval then still covers at least ~87 % instead of 95 %) exactly when
//! ESS ≥ √2 n^{3/4}. Below that the reported error cannot be trusted
//! (n = 128 chains: ESS < 53.8; 512: ESS < 152).
double min_trusted_ess(double n);
//! ess < min_trusted_ess(n).
bool ess_too_small(double ess, double n);

//! Collective: every rank gets the statistics of all ranks' `local` weights.
LogMeanExp log_mean_exp(const std::vector<double>& local, const parallel::ChainRange& range,
                        const parallel::Comm& comm);

}  // namespace zeta::estimators
