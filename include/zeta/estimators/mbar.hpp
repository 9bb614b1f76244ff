//! The multistate Bennett acceptance ratio (MBAR; Shirts & Chodera 2008).
#pragma once
#include <cstdint>
#include <vector>

namespace zeta {

struct MbarResult {
  std::vector<double> f;         //!< dimensionless free energies f_k = −ln Z_k, f_0 = 0
  std::vector<double> df_stderr; //!< standard error of f_k − f_0 (asymptotic covariance)
  std::vector<double> theta;     //!< K×K asymptotic covariance of f
  int iterations = 0;            //!< self-consistent iterations + Newton steps
};

//! u: reduced potentials, K rows of N (u[k·N + n] = u_k(x_n)); the N samples are
//! grouped by the state that drew them, N_k of state k. Self-consistent
//! iteration from f = 0 until its changes fall below 1e-7, then Newton steps on
//! MBAR's convex objective to |Δf| < tol; the covariance is pymbar's "svd-ew":
//! Θ = V Σ (I − Σ Vᵀ diag(N) V Σ)⁺ Σ Vᵀ with Wᵀ W = V Σ² V^T.
MbarResult mbar(const std::vector<double>& u, const std::vector<std::int64_t>& N_k, double tol = 1e-12);

//! Eigen-decomposition of a symmetric n×n matrix (cyclic Jacobi): a = V diag(w) Vᵀ.
void symmetric_eigen(std::vector<double> a, int n, std::vector<double>& w, std::vector<double>& V);

}  // namespace zeta
