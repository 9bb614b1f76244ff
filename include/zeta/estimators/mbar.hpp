//! The multistate Bennett acceptance ratio (MBAR; Shirts & Chodera 2008),
//! with its samples spread over MPI ranks.
//!
//! The N = Σ N_k samples (grouped by the state that drew them) are cut into
//! kMbarBlocks fixed contiguous blocks and each rank holds whole blocks
//! (mbar_samples()). Every pass over the samples sums per block and combines
//! the block sums in block order, so the estimates are bit for bit the same on
//! any number of ranks up to kMbarBlocks.
//!
//! Solver: damped Newton on MBAR's convex objective
//!   F(f) = Σ_n c_n ln Σ_k N_k e^{f_k − u_kn} − Σ_k N_k f_k   (c_n = 1, or bootstrap counts)
//! from a trapezoid (TI-like) initial guess between neighbouring states; one
//! pass over the samples gives F, its gradient and Hessian (a GEMM, PᵀP, of the
//! per-sample state weights P). A step that fails the Armijo test after a few
//! halvings is replaced by a self-consistent-iteration step, which never
//! increases F, so weak overlap slows the solver but does not break it.
#pragma once
#include <cstdint>
#include <vector>

#include "zeta/parallel/comm.hpp"

namespace zeta::estimators {

constexpr std::int64_t kMbarBlocks = 64;

struct MbarOptions {
  double tol = 1e-12;       //!< stop when a step changes no f_k by more than this
  int max_iterations = 200; //!< Newton / self-consistent steps
  int bootstrap = 0;        //!< bootstrap resamples (within each state) for a second error estimate
  std::uint32_t seed = 1;   //!< the counter RNG's seed for the resampling
};

struct MbarResult {
  std::vector<double> f;                  //!< dimensionless free energies f_k = −ln Z_k, f_0 = 0
  std::vector<double> df_stderr;          //!< standard error of f_k − f_0 (asymptotic covariance)
  std::vector<double> df_bootstrap_stderr;//!< the same from the bootstrap (empty without one)
  std::vector<double> theta;              //!< K×K asymptotic covariance of f
  int iterations = 0;                     //!< solver steps for the estimate (not the bootstrap)
  bool converged = false;
};

//! The global samples [offset, offset + count) that this rank supplies: whole blocks.
parallel::Share mbar_samples(std::int64_t N, const parallel::Comm& comm);

//! Collective. u_local holds this rank's samples mbar_samples(N, comm) as K rows
//! of `count` (u_local[k·count + i] = u_k(x_{offset+i})); N_k counts every rank's samples.
//! The covariance is pymbar's "svd-ew": Θ = V Σ (I − Σ Vᵀ diag(N) V Σ)⁺ Σ Vᵀ with Wᵀ W = V Σ² Vᵀ.
MbarResult mbar(const std::vector<double>& u_local, const std::vector<std::int64_t>& N_k, const parallel::Comm& comm,
                const MbarOptions& opt = {});

//! Collective. MBAR over states that differ only in β: u_kn = β_k E_n, with every
//! rank's `energies` the same N samples grouped by the state that drew them (N_k
//! each); each rank builds the reduced potentials of its share (mbar_samples).
MbarResult mbar_on_energies(const std::vector<double>& betas, const std::vector<double>& energies,
                            const std::vector<std::int64_t>& N_k, const parallel::Comm& comm,
                            const MbarOptions& opt = {});

//! One process: u holds all N samples as K rows of N.
MbarResult mbar(const std::vector<double>& u, const std::vector<std::int64_t>& N_k, const MbarOptions& opt = {});

//! Eigen-decomposition of a symmetric n×n matrix (cyclic Jacobi): a = V diag(w) Vᵀ.
void symmetric_eigen(std::vector<double> a, int n, std::vector<double>& w, std::vector<double>& V);

}  // namespace zeta::estimators
