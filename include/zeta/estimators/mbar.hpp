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
//! from BAR between neighbouring states (chained); one pass over the samples
//! gives F, its gradient and Hessian (a rank-update, PᵀP, of the per-sample
//! state weights P, whose exponentials also give the log-sum-exp). It stops
//! when the Newton step at the current f would move no f_k by tol, so the pass
//! that shows it is the one the covariance uses. A step that fails the Armijo
//! test after a few halvings is replaced by a self-consistent-iteration step,
//! which never increases F, so weak overlap slows the solver but does not break it.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "zeta/parallel/comm.hpp"

namespace zeta::estimators {

constexpr std::int64_t kMbarBlocks = 64;

struct MbarOptions {
  double tol = 1e-12;       //!< stop when the Newton step (or a step taken) changes no f_k by more than this
  int max_iterations = 200; //!< Newton / self-consistent steps
  int bootstrap = 0;        //!< bootstrap resamples (within each state) for a second error estimate
  std::uint32_t seed = 1;   //!< the counter RNG's seed for the resampling
};

struct MbarResult {
  std::vector<double> f;                  //!< dimensionless free energies f_k = −ln Z_k, f_0 = 0
  std::vector<double> df_stderr;          //!< standard error of f_k − f_0 (asymptotic covariance)
  std::vector<double> df_bootstrap_stderr;//!< the same from the bootstrap (empty without one)
  std::vector<std::vector<double>> f_bootstrap;  //!< each bootstrap resample's solution f (unshifted)
  std::uint32_t bootstrap_seed = 0;       //!< the seed of its resampling (resample b: counts keyed by seed, state, b)
  std::vector<double> theta;              //!< K×K asymptotic covariance of f
  std::vector<double> wtw;                //!< K×K Wᵀ W of the normalised weights W_nk (overlap, N_eff)
  int iterations = 0;                     //!< solver steps for the estimate (not the bootstrap)
  bool converged = false;
  double gradient_norm = 0;               //!< max_k |Σ_n W_nk − 1| at f: MBAR's gradient / N_k
};

//! pymbar's analyses of a solution (pymbar 3 names): getFreeEnergyDifferences,
//! computeOverlap, computeEffectiveSampleNumber. All K×K arrays row-major.
struct MbarAnalysis {
  std::vector<double> Delta_f;             //!< Delta_f[i K + j] = f_j − f_i
  std::vector<double> dDelta_f;            //!< its standard error √(Θ_ii + Θ_jj − 2Θ_ij)
  std::vector<double> overlap;             //!< O_ij = N_j Σ_n W_ni W_nj: a sample of i seen in j
  std::vector<double> overlap_eigenvalues; //!< of O, descending (the first is 1)
  double overlap_scalar = 0;               //!< 1 − the second largest eigenvalue
  std::vector<double> overlap_split;       //!< per state, the sign of the second eigenvector (0 without samples):
                                           //!< the two groups of states that mix slowest
  std::vector<double> effective_samples;   //!< Kish's (Σ_n W_nk)² / Σ_n W_nk² per state
};

//! pymbar's computeExpectations(A_n) at every state: ⟨A⟩_k and its standard error.
//! With a bootstrap (MbarResult::f_bootstrap), sigma_bootstrap is the spread of the estimate
//! over the resamples (each solved for its own f), the same on any rank count.
struct MbarExpectation {
  std::vector<double> mu, sigma;
  std::vector<double> sigma_bootstrap;  //!< empty without a bootstrap
};

//! The global samples [offset, offset + count) that this rank supplies: whole blocks.
parallel::Share mbar_samples(std::int64_t N, const parallel::Comm& comm);

//! This rank's samples (mbar_samples()) for MBAR: the reduced potentials as K rows,
//! or, for states that differ only in β, the energies from which u_kn = β_k E_n is
//! built a block of kLanes samples at a time (memory O(count) instead of O(K count);
//! the same products, so the same bits, as a stored u_kn).
//! Extended ensembles add observables A_j with per-state couplings p_kj:
//! u_kn = β_k (E_n + Σ_j p_kj A_jn) (a field h conjugate to M: p = −h).
struct MbarSamples {
  const std::vector<double>* u = nullptr;         //!< K × count
  const std::vector<double>* energies = nullptr;  //!< count energies, with betas
  std::vector<double> betas;
  std::vector<const std::vector<double>*> coupled;  //!< extended: count values of each A_j
  std::vector<std::vector<double>> couplings;       //!< and its p_kj, K values each
  static MbarSamples potentials(const std::vector<double>& u_local) {
    MbarSamples s;
    s.u = &u_local;
    return s;
  }
  static MbarSamples of_energies(std::vector<double> betas, const std::vector<double>& energies_local) {
    MbarSamples s;
    s.energies = &energies_local;
    s.betas = std::move(betas);
    return s;
  }
  static MbarSamples extended(std::vector<double> betas, const std::vector<double>& energies_local,
                              std::vector<const std::vector<double>*> coupled_local,
                              std::vector<std::vector<double>> couplings) {
    MbarSamples s = of_energies(std::move(betas), energies_local);
    s.coupled = std::move(coupled_local);
    s.couplings = std::move(couplings);
    return s;
  }
};

//! Collective: MBAR on this rank's samples (see below), stored or built from energies.
MbarResult mbar(const MbarSamples& samples, const std::vector<std::int64_t>& N_k, const parallel::Comm& comm,
                const MbarOptions& opt = {});

//! Collective. u_local holds this rank's samples mbar_samples(N, comm) as K rows
//! of `count` (u_local[k·count + i] = u_k(x_{offset+i})); N_k counts every rank's samples.
//! The covariance is pymbar's "svd-ew": Θ = V Σ (I − Σ Vᵀ diag(N) V Σ)⁺ Σ Vᵀ with Wᵀ W = V Σ² Vᵀ.
MbarResult mbar(const std::vector<double>& u_local, const std::vector<std::int64_t>& N_k, const parallel::Comm& comm,
                const MbarOptions& opt = {});

//! Collective. MBAR over states that differ only in β: u_kn = β_k E_n, with every
//! rank's `energies` the same N samples grouped by the state that drew them (N_k
//! each); each rank builds the reduced potentials of its share (mbar_samples) on the fly.
MbarResult mbar_on_energies(const std::vector<double>& betas, const std::vector<double>& energies,
                            const std::vector<std::int64_t>& N_k, const parallel::Comm& comm,
                            const MbarOptions& opt = {});

//! The analyses of `r`, a solution for states with N_k samples (no pass over the samples).
MbarAnalysis mbar_analysis(const MbarResult& r, const std::vector<std::int64_t>& N_k);

//! Collective. ⟨A⟩_k and its asymptotic standard error at every state k for each
//! state-independent observable A (A_local[i]: this rank's samples of observable i, as u_local),
//! as pymbar 3's computeExpectations(A_n): the uncertainty from the asymptotic covariance
//! of the states augmented by, per state, the normalised weights and A-weighted weights.
std::vector<MbarExpectation> mbar_expectations(const std::vector<double>& u_local, const std::vector<std::int64_t>& N_k,
                                               const MbarResult& r, const std::vector<std::vector<double>>& A_local,
                                               const parallel::Comm& comm);

//! The same on samples stored or built from energies (MbarSamples).
std::vector<MbarExpectation> mbar_expectations(const MbarSamples& samples, const std::vector<std::int64_t>& N_k,
                                               const MbarResult& r, const std::vector<std::vector<double>>& A_local,
                                               const parallel::Comm& comm);

//! pymbar 3's computePMF(u_n = u_state, bin_n, bins, uncertainties = "from-lowest"): the
//! free energy f_i = −ln Σ_{n ∈ bin i} e^{−u_state,n} / Σ_k N_k e^{f_k − u_kn} of each of
//! `bins` equal-width bins of an observable between its smallest and largest value, relative
//! to the lowest bin, with the standard error of that difference.
struct MbarPmf {
  int state = 0, reference = 0;   //!< the state whose PMF; the lowest bin (f = 0)
  std::vector<double> edges;      //!< bins + 1 edges; a value in [edges[i], edges[i+1]) is in bin i (the last closed)
  std::vector<double> f, df;      //!< per bin
  std::vector<double> samples;    //!< samples per bin
  std::vector<double> df_bootstrap;  //!< with a bootstrap: the spread of f_i − f_reference over the resamples
                                     //!< that have samples in both bins (empty without one)
};

//! Collective: the PMF of this rank's observable values A_local (as u_local) at `state`;
//! Collective: the heat capacity C_k = β_k² (⟨H_k²⟩_k − ⟨H_k⟩_k²) (total, in units of k_B) of every
//! state of an energies problem, H_k = E + Σ_c p_kc A_c the energy that u_k = β_k H_k weighs (H = E
//! without couplings; with a field h, A = −M, the heat capacity at constant field), and its standard
//! error: MBAR's expectation of the state-dependent observable (H_k − ⟨H_k⟩_k)² at state k (pymbar's
//! computeExpectations with state_dependent = True) and its asymptotic error, to first order also that
//! of the variance (whose derivative in the centre vanishes there). Throws for a u_kn problem.
MbarExpectation mbar_heat_capacity(const MbarSamples& samples, const std::vector<std::int64_t>& N_k,
                                   const MbarResult& r, const parallel::Comm& comm);

//! an empty bin or a constant observable is an Error naming `name`.
MbarPmf mbar_pmf(const MbarSamples& samples, const std::vector<std::int64_t>& N_k, const MbarResult& r,
                 const std::vector<double>& A_local, const std::string& name, int state, int bins,
                 const parallel::Comm& comm);

//! Asymptotic covariance ("svd-ew") of n states from the n×n Gram matrix Wᵀ W of
//! their normalised weights and their sample counts (0 for states added for analysis).
std::vector<double> svd_ew_covariance(const std::vector<double>& wtw, const std::vector<double>& counts);

//! One process: u holds all N samples as K rows of N.
MbarResult mbar(const std::vector<double>& u, const std::vector<std::int64_t>& N_k, const MbarOptions& opt = {});

//! Eigen-decomposition of a symmetric n×n matrix (LAPACK dsyevd, single-threaded BLAS per rank, so
//! every rank gets the same bits from the same matrix): a = V diag(w) Vᵀ, w ascending, V row-major with
//! the eigenvectors as columns. Throws zeta::Error if LAPACK fails (NaN entries).
void symmetric_eigen(std::vector<double> a, int n, std::vector<double>& w, std::vector<double>& V);

}  // namespace zeta::estimators
