//! Gaussian mixture with diagonal covariances: E(x) = −ln Σ_k w_k N(x; μ_k, diag σ_k²),
//! so exp(−E) is the normalised mixture (ln Z = 0 at β = 1).
#pragma once
#include <cmath>
#include <vector>

#include "zeta/core/math.hpp"
#include "zeta/core/types.hpp"
#include "zeta/models/pointwise.hpp"

namespace zeta::models {

template <class Space>
struct GmmKernel {
  using space = Space;
  int dim = 0, components = 0;
  Matrix<Space> mean, inv_var;  //!< [components, dim]
  Vector<Space> log_coef;        //!< ln w_k − ½ Σ_i ln(2π σ_ki²)

  //! ln w_k N(x_c; μ_k, σ_k²)
  KOKKOS_INLINE_FUNCTION Real log_term(const Matrix<Space>& x, int c, int k) const {
    Real q = 0;
    for (int i = 0; i < dim; ++i) {
      const Real d = x(c, i) - mean(k, i);
      q += d * d * inv_var(k, i);
    }
    return log_coef(k) - Real(0.5) * q;
  }
  KOKKOS_INLINE_FUNCTION Real max_log_term(const Matrix<Space>& x, int c) const {
    Real m = log_term(x, c, 0);
    for (int k = 1; k < components; ++k) {
      const Real t = log_term(x, c, k);
      m = t > m ? t : m;
    }
    return m;
  }
  KOKKOS_INLINE_FUNCTION Real energy(const Matrix<Space>& x, int c) const {
    const Real m = max_log_term(x, c);
    Real s = 0;
    for (int k = 0; k < components; ++k) s += kmath::exp(log_term(x, c, k) - m);
    return -(m + kmath::log(s));
  }
  //! ∇E = Σ_k r_k (x − μ_k) / σ_k², with responsibilities r_k.
  KOKKOS_INLINE_FUNCTION Real energy_grad(const Matrix<Space>& x, const Matrix<Space>& g, int c) const {
    const Real m = max_log_term(x, c);
    Real s = 0;
    for (int i = 0; i < dim; ++i) g(c, i) = 0;
    for (int k = 0; k < components; ++k) {
      const Real w = kmath::exp(log_term(x, c, k) - m);
      s += w;
      for (int i = 0; i < dim; ++i) g(c, i) += w * (x(c, i) - mean(k, i)) * inv_var(k, i);
    }
    for (int i = 0; i < dim; ++i) g(c, i) /= s;
    return -(m + kmath::log(s));
  }
  //! Posterior probability of component k at x_c.
  KOKKOS_INLINE_FUNCTION Real responsibility(const Matrix<Space>& x, int c, int k) const {
    const Real m = max_log_term(x, c);
    Real s = 0;
    for (int j = 0; j < components; ++j) s += kmath::exp(log_term(x, c, j) - m);
    return kmath::exp(log_term(x, c, k) - m) / s;
  }
};

template <class Space>
using Gmm = Pointwise<GmmKernel<Space>>;

//! weights [K] (normalised here), means [K][dim], variances [K][dim].
template <class Space>
Gmm<Space> make_gmm(const std::vector<double>& weights, const std::vector<std::vector<double>>& means,
                    const std::vector<std::vector<double>>& variances) {
  GmmKernel<Space> k;
  k.components = static_cast<int>(weights.size());
  k.dim = static_cast<int>(means.at(0).size());
  k.mean = Matrix<Space>("zeta::Gmm::mean", k.components, k.dim);
  k.inv_var = Matrix<Space>("zeta::Gmm::inv_var", k.components, k.dim);
  k.log_coef = Vector<Space>("zeta::Gmm::log_coef", k.components);
  auto hm = Kokkos::create_mirror_view(k.mean);
  auto hv = Kokkos::create_mirror_view(k.inv_var);
  auto hc = Kokkos::create_mirror_view(k.log_coef);
  double wsum = 0;
  for (double w : weights) wsum += w;
  for (int j = 0; j < k.components; ++j) {
    double lc = std::log(weights[j] / wsum);
    for (int i = 0; i < k.dim; ++i) {
      hm(j, i) = Real(means[j][i]);
      hv(j, i) = Real(1.0 / variances[j][i]);
      lc -= 0.5 * std::log(2 * M_PI * variances[j][i]);
    }
    hc(j) = Real(lc);
  }
  Kokkos::deep_copy(k.mean, hm);
  Kokkos::deep_copy(k.inv_var, hv);
  Kokkos::deep_copy(k.log_coef, hc);
  return Gmm<Space>("gmm", k);
}

}  // namespace zeta::models
