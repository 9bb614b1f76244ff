//! Batched evaluation for models whose energy is a small per-chain formula.
//! The physics lives in a copyable device struct (`Kernel`) with
//!   Real energy(x, c) and Real energy_grad(x, g, c)
//! for chain (row) c; this wrapper launches one kernel over all chains.
#pragma once
#include <string>

#include "zeta/core/types.hpp"

namespace zeta::models {

template <class Kernel>
class Pointwise {
 public:
  using space = typename Kernel::space;

  Pointwise(std::string name, Kernel k) : name_(std::move(name)), k_(k) {}

  const std::string& name() const { return name_; }
  int dim() const { return k_.dim; }
  const Kernel& kernel() const { return k_; }

  //! E[c] = E(x[c, :]) for every chain c.
  void energy(const Matrix<space>& x, const Vector<space>& E) const {
    const Kernel k = k_;
    Kokkos::parallel_for(
        "zeta::Pointwise::energy", RangePolicy<space>(0, x.extent(0)),
        KOKKOS_LAMBDA(const int c) { E(c) = k.energy(x, c); });
  }

  //! E[c] and g[c, :] = ∇x E(x[c, :]) for every chain c.
  void energy_and_grad(const Matrix<space>& x, const Vector<space>& E, const Matrix<space>& g) const {
    const Kernel k = k_;
    Kokkos::parallel_for(
        "zeta::Pointwise::energy_and_grad", RangePolicy<space>(0, x.extent(0)),
        KOKKOS_LAMBDA(const int c) { E(c) = k.energy_grad(x, g, c); });
  }

 private:
  std::string name_;
  Kernel k_;
};

}  // namespace zeta::models
