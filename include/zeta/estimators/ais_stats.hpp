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

//! Collective: every rank gets the statistics of all ranks' `local` weights.
LogMeanExp log_mean_exp(const std::vector<double>& local, const parallel::ChainRange& range,
                        const parallel::Comm& comm);

}  // namespace zeta::estimators
