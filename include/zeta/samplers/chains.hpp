//! A batch of chains on one rank: states, energies, gradients, per-chain β.
#pragma once
#include <cstdint>

#include "zeta/core/types.hpp"
#include "zeta/parallel/comm.hpp"
#include "zeta/rng/philox.hpp"

namespace zeta::samplers {

template <class Space>
struct Chains {
  parallel::ChainRange range;  //!< which global chains this rank holds
  Matrix<Space> x, g;         //!< state and ∇x E at the state  [local, dim]
  Vector<Space> E, beta;      //!< energy at the state, inverse temperature
  Counts<Space> accepted;     //!< accepted proposals per chain
  Matrix<Space> y, gy, p;     //!< proposal workspace (MALA, HMC)
  Vector<Space> Ey;
  Vector<Space> log_ratio;    //!< Metropolis log acceptance ratio per chain

  Chains(const parallel::ChainRange& r, int dim, double beta0)
      : range(r),
        x("zeta::Chains::x", r.count, dim),
        g("zeta::Chains::grad", r.count, dim),
        E("zeta::Chains::energy", r.count),
        beta("zeta::Chains::beta", r.count),
        accepted("zeta::Chains::accepted", r.count),
        y("zeta::Chains::proposal", r.count, dim),
        gy("zeta::Chains::proposal_grad", r.count, dim),
        p("zeta::Chains::momentum", r.count, dim),
        Ey("zeta::Chains::proposal_energy", r.count),
        log_ratio("zeta::Chains::log_ratio", r.count) {
    Kokkos::deep_copy(beta, Real(beta0));
  }

  int local() const { return static_cast<int>(range.count); }
  int dim() const { return static_cast<int>(x.extent(1)); }

  //! x ~ N(0, scale²) from the counter RNG at step 0, then E and ∇E.
  template <class Model>
  void initialize(Model& model, std::uint32_t seed, double scale) {
    const auto xv = x;
    const std::int64_t offset = range.offset;
    const int d = dim();
    const Real s = Real(scale);
    Kokkos::parallel_for(
        "zeta::Chains::initialize", RangePolicy<Space>(0, local()), KOKKOS_LAMBDA(const int c) {
          const rng::Stream st(seed, std::uint64_t(offset + c), 0, rng::kInit);
          st.normals(d, [&](int i, Real z) { xv(c, i) = s * z; });
        });
    Kokkos::deep_copy(accepted, 0);
    model.energy_and_grad(x, E, g);
  }
};

}  // namespace zeta::samplers
