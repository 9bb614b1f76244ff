//! Chains that blew up. A step size too large for the model's curvature makes
//! Langevin (and HMC's leapfrog) unstable: the states run off geometrically and
//! the energies end as NaN (a double well at step 1: x⁴ overflows, then ∞ − ∞), or,
//! where the energy grows only linearly (an MLP far from the data), the states
//! stay finite but absurd: step_size = 1e300 puts x near 1e302 after one step and
//! ⟨E⟩ near −1e301. Neither is a result, so sampling, tempering and AIS stop with
//! an error naming sampler.step_size instead of reporting them.
//!
//! The criterion, the same for every model: a chain has diverged when its energy is
//! NaN or infinite, or a coordinate of its state is NaN, infinite or larger in
//! magnitude than √(largest Real) (1.3e154 in double, 1.8e19 in float). Beyond that
//! bound x² overflows, so a squared norm, a Gaussian's energy or AIS's base energy
//! is infinite: no finite-precision model describes such a state. A bound on |E|
//! alone would need the model's range, which is not known in general (an MLP's is
//! unbounded); the state bound catches the linear-growth case within one step.
//!
//! The drivers check at points where they communicate anyway (every 16 steps, with
//! the stop control; before every checkpoint and output), so a valid run pays one
//! reduction over the local states every 16 steps, and a checkpoint never holds a
//! diverged state (the previous one stays).
#pragma once
#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "zeta/core/math.hpp"
#include "zeta/core/types.hpp"
#include "zeta/parallel/comm.hpp"

namespace zeta::samplers {

//! √(largest Real): the magnitude beyond which a state coordinate counts as diverged.
inline Real divergence_bound() {
  return Real(std::sqrt(double(std::numeric_limits<Real>::max())));
}

//! Local: whether any chain's energy E(c) is not finite or any coordinate x(c, i) is
//! not finite or beyond divergence_bound() (one reduction kernel).
template <class Space>
bool chains_diverged(const Matrix<Space>& x, const Vector<Space>& E) {
  const Real bound = divergence_bound();
  const int d = static_cast<int>(x.extent(1));
  int bad = 0;
  Kokkos::parallel_reduce(
      "zeta::chains_diverged", RangePolicy<Space>(0, E.extent(0)),
      KOKKOS_LAMBDA(const int c, int& b) {
        // !(|v| <= bound) is also true for NaN.
        bool ok = kmath::isfinite(E(c));
        for (int i = 0; i < d; ++i) ok = ok && kmath::fabs(x(c, i)) <= bound;
        b += ok ? 0 : 1;
      },
      bad);
  return bad != 0;
}

//! The error (collective, naming sampler.step_size) for chains found diverged at
//! `step` that were last seen sound at `last_good`; `what` says what counts steps
//! ("step", "AIS stage").
[[noreturn]] void diverged_error(std::int64_t last_good, std::int64_t step, const char* what = "step");

//! Collective check of a chain system (samplers/system.hpp: `bool diverged() const`)
//! at given steps: throws diverged_error, the same on every rank, when any rank's
//! chains diverged since the last check.
class DivergenceCheck {
 public:
  DivergenceCheck(const parallel::Comm& comm, std::int64_t first_step) : comm_(comm), last_good_(first_step) {}
  template <class Sys>
  void operator()(const Sys& sys, std::int64_t step) {
    if (step == last_good_) return;
    if (comm_.any(sys.diverged())) diverged_error(last_good_, step);
    last_good_ = step;
  }
  //! For values every rank holds alike (all-gathered energies): no communication.
  void energies(const std::vector<double>& e, std::int64_t step) const {
    for (const double v : e)
      if (!std::isfinite(v)) diverged_error(last_good_, step);
  }

 private:
  const parallel::Comm& comm_;
  std::int64_t last_good_;
};

}  // namespace zeta::samplers
