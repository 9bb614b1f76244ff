//! Gaussian energy E(x) = ½ Σ_i (x_i − μ_i)² / σ_i²; at inverse temperature β
//! the density is N(μ, diag σ²/β) and ⟨E⟩ = d / (2β).
#pragma once
#include <vector>

#include "zeta/core/types.hpp"
#include "zeta/models/pointwise.hpp"

namespace zeta::models {

template <class Space>
struct GaussianKernel {
  using space = Space;
  int dim = 0;
  Vector<Space> mean, inv_var;

  KOKKOS_INLINE_FUNCTION Real energy(const Matrix<Space>& x, int c) const {
    Real e = 0;
    for (int i = 0; i < dim; ++i) {
      const Real d = x(c, i) - mean(i);
      e += d * d * inv_var(i);
    }
    return Real(0.5) * e;
  }
  KOKKOS_INLINE_FUNCTION Real energy_grad(const Matrix<Space>& x, const Matrix<Space>& g, int c) const {
    Real e = 0;
    for (int i = 0; i < dim; ++i) {
      const Real d = x(c, i) - mean(i);
      g(c, i) = d * inv_var(i);
      e += d * d * inv_var(i);
    }
    return Real(0.5) * e;
  }
};

template <class Space>
using Gaussian = Pointwise<GaussianKernel<Space>>;

//! `sigma` and `mean` hold one value (all dimensions) or `dim` values.
template <class Space>
Gaussian<Space> make_gaussian(int dim, const std::vector<double>& mean, const std::vector<double>& sigma) {
  GaussianKernel<Space> k;
  k.dim = dim;
  k.mean = Vector<Space>("zeta::Gaussian::mean", dim);
  k.inv_var = Vector<Space>("zeta::Gaussian::inv_var", dim);
  auto hm = Kokkos::create_mirror_view(k.mean);
  auto hv = Kokkos::create_mirror_view(k.inv_var);
  for (int i = 0; i < dim; ++i) {
    hm(i) = Real(mean.size() == 1 ? mean[0] : mean[i]);
    const double s = sigma.size() == 1 ? sigma[0] : sigma[i];
    hv(i) = Real(1.0 / (s * s));
  }
  Kokkos::deep_copy(k.mean, hm);
  Kokkos::deep_copy(k.inv_var, hv);
  return Gaussian<Space>("gaussian", k);
}

}  // namespace zeta::models
