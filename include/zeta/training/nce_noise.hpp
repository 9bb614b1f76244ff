//! The noise distribution of noise-contrastive estimation (training/mlp_nce.hpp): a
//! density q known in closed form, from which the objective draws its noise points.
//!   gaussian   N(μ, Σ) with μ and Σ the mean and covariance of the training split
//!              (summed partition by partition in order: the same bits on any rank
//!              count), Σ = L Lᵀ by Cholesky; y = μ + L z, ln q(y) = −½‖z‖² − ln det L −
//!              (d/2) ln 2π;
//!   uniform    U(∏_i [lo_i, hi_i]), ln q = −Σ_i ln(hi_i − lo_i): train.nce_box, or the
//!              training split's bounding box widened by a tenth of its range.
//! A point's noise is a function of (seed, the point's global id, step): Philox
//! Stream(seed, id, step, kNceNoise).
#pragma once
#include <Kokkos_Core.hpp>

#include <cstdint>
#include <vector>

#include "zeta/core/types.hpp"
#include "zeta/data/dataset.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/training/spec.hpp"

namespace zeta::training {

class NceNoise {
 public:
  NceNoise() = default;
  //! Fitted to the training split of `d` (collective); refuses, naming train.nce_box,
  //! a box that misses a training example, and naming train.nce_noise a Gaussian whose
  //! covariance is singular.
  NceNoise(const TrainSpec& ts, const data::Dataset& d, const parallel::Comm& comm);

  bool uniform() const { return uniform_; }
  int dim() const { return dim_; }
  //! ln q(x).
  double log_density(const Real* x) const;
  //! Writes noise point (seed, id, step) to y; returns its ln q.
  double draw(std::uint32_t seed, std::uint64_t id, std::uint64_t step, Real* y) const;

  using Space = Kokkos::DefaultExecutionSpace;
  //! The rows of y: noise points (seed, first + r, step), with ln q into lnq[r]. The
  //! Gaussian's y = μ + z Lᵀ is one GEMM for the block (the same bits for a block of the
  //! same size on any rank).
  void draw_rows(std::uint32_t seed, std::uint64_t first, std::uint64_t step, const Matrix<Space>& y,
                 double* lnq);
  //! ln q of the rows of x into lnq (the Gaussian's L⁻¹(x − μ) by one GEMM).
  void log_density_rows(const Matrix<Space>& x, double* lnq);

  //! gaussian: μ and L (row-major d × d, lower); uniform: lo and hi.
  const std::vector<double>& mean() const { return mean_; }
  const std::vector<double>& cholesky() const { return chol_; }
  const std::vector<double>& lo() const { return lo_; }
  const std::vector<double>& hi() const { return hi_; }

 private:
  void fit_gaussian(const data::Dataset& d, const parallel::Share& mine, const parallel::Comm& comm);
  //! Uniform noise point (seed, id, step) into y: draw()'s numbers, many blocks at a time.
  void draw_uniform(std::uint32_t seed, std::uint64_t id, std::uint64_t step, Real* y) const;
  void fit_box(const TrainSpec& ts, const data::Dataset& d, const parallel::Comm& comm);

  bool uniform_ = false;
  int dim_ = 0;
  std::vector<double> mean_, chol_, lo_, hi_;
  double log_norm_ = 0;      //!< gaussian: −ln det L − (d/2) ln 2π; uniform: −Σ ln(hi − lo)
  mutable std::vector<double> work_;  //!< one row's z or L⁻¹(x − μ)
  Matrix<Space> lt_, linv_;  //!< gaussian: L and L⁻¹ (Real)
  Matrix<Space> z_, c_, w_;  //!< a noise block's z; a data block's x − μ and L⁻¹(x − μ)
  Vector<Space> mu_;             //!< μ (Real)
};

}  // namespace zeta::training
