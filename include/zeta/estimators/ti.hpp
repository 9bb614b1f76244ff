//! Thermodynamic integration along a ladder: ln Z(β_k) − ln Z(β_0) = −∫ ⟨E⟩_β dβ by
//! the trapezoid rule over the levels' sample means, with the error propagated from
//! each level's standard error of the mean (samples taken as independent: thin them
//! first, estimators/timeseries.hpp).
#pragma once
#include <vector>

namespace zeta::estimators {

//! `levels[k]` holds the energies sampled at betas[k] (ascending); log_z[0] = offset
//! (0, or an absolute ln Z(β_0)), log_z_stderr[0] = 0.
void ti_along_ladder(const std::vector<std::vector<double>>& levels, const std::vector<double>& betas, double offset,
                     std::vector<double>& log_z, std::vector<double>& log_z_stderr);

}  // namespace zeta::estimators
