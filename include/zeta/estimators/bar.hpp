//! Bennett's acceptance ratio (BAR) between two thermodynamic states.
#pragma once
#include <vector>

namespace zeta::estimators {

struct BarResult {
  double delta_f = 0;  //!< f_1 − f_0 with f = −ln Z
  double stderr = 0;
};

//! ΔF from forward works W_F = u_1(x) − u_0(x), x ~ state 0, and reverse works
//! W_R = u_0(x) − u_1(x), x ~ state 1 (u: reduced potentials), solving
//! Σ_F f(M + W_F − ΔF) = Σ_R f(−M + W_R + ΔF), f(x) = 1/(1 + eˣ), M = ln(n_F/n_R),
//! by bisection. The error is the asymptotic BAR variance (as pymbar's BAR)
//! with n_F, n_R replaced by the effective sample sizes neff_f, neff_r.
BarResult bar(const std::vector<double>& wf, const std::vector<double>& wr, double neff_f, double neff_r);

//! ln Z(β_k) − ln Z(β_0) along a ladder by BAR between neighbours: energies[k]
//! are samples at β_k, inefficiency[k] ≥ 1 divides their count into the
//! effective sample size; the variances of the steps add up.
void bar_along_ladder(const std::vector<std::vector<double>>& energies, const std::vector<double>& betas,
                      const std::vector<double>& inefficiency, std::vector<double>& log_z,
                      std::vector<double>& log_z_stderr);

}  // namespace zeta::estimators
