//! Double well: E(x) = h (x_0² − 1)² + ½ Σ_{i≥1} x_i², two modes at x_0 = ±1
//! separated by a barrier of height h.
#pragma once
#include "zeta/core/types.hpp"
#include "zeta/models/pointwise.hpp"

namespace zeta::models {

template <class Space>
struct DoubleWellKernel {
  using space = Space;
  int dim = 2;
  Real barrier = 1;

  KOKKOS_INLINE_FUNCTION Real energy(const Matrix<Space>& x, int c) const {
    const Real a = x(c, 0) * x(c, 0) - Real(1);
    Real e = barrier * a * a;
    for (int i = 1; i < dim; ++i) e += Real(0.5) * x(c, i) * x(c, i);
    return e;
  }
  KOKKOS_INLINE_FUNCTION Real energy_grad(const Matrix<Space>& x, const Matrix<Space>& g, int c) const {
    const Real a = x(c, 0) * x(c, 0) - Real(1);
    g(c, 0) = Real(4) * barrier * a * x(c, 0);
    Real e = barrier * a * a;
    for (int i = 1; i < dim; ++i) {
      g(c, i) = x(c, i);
      e += Real(0.5) * x(c, i) * x(c, i);
    }
    return e;
  }
};

template <class Space>
using DoubleWell = Pointwise<DoubleWellKernel<Space>>;

template <class Space>
DoubleWell<Space> make_double_well(int dim, double barrier) {
  DoubleWellKernel<Space> k;
  k.dim = dim;
  k.barrier = Real(barrier);
  return DoubleWell<Space>("double_well", k);
}

}  // namespace zeta::models
