//! Exact answers the statistical tests compare against.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

namespace zeta::test {

//! Ising L×L periodic by enumeration of all 2^(L²) states (L ≤ 4): ⟨E⟩, ⟨|M|⟩/N and ln Z at β.
struct IsingExact {
  double mean_energy = 0, mean_abs_m = 0, log_z = 0;
};

inline IsingExact ising_enumerate(int L, double beta, double J = 1, double h = 0) {
  const int n = L * L;
  // Histogram over (bond sum, magnetisation): energies repeat, so weights are summed per class.
  std::vector<double> E, A;
  E.reserve(std::size_t(1) << n);
  A.reserve(std::size_t(1) << n);
  for (std::uint32_t s = 0; s < (std::uint32_t(1) << n); ++s) {
    auto spin = [&](int i, int j) { return ((s >> (((i + L) % L) * L + (j + L) % L)) & 1u) ? 1 : -1; };
    int bonds = 0, m = 0;
    for (int i = 0; i < L; ++i)
      for (int j = 0; j < L; ++j) {
        bonds += spin(i, j) * (spin(i + 1, j) + spin(i, j + 1));
        m += spin(i, j);
      }
    E.push_back(-J * bonds - h * m);
    A.push_back(std::fabs(double(m)) / n);
  }
  double emin = E[0];
  for (double e : E) emin = std::min(emin, e);
  double z = 0, ze = 0, za = 0;
  for (std::size_t k = 0; k < E.size(); ++k) {
    const double w = std::exp(-beta * (E[k] - emin));
    z += w;
    ze += w * E[k];
    za += w * A[k];
  }
  return {ze / z, za / z, std::log(z) - beta * emin};
}

//! ln Z of the periodic L×L Ising model at zero field, coupling K = βJ, by
//! Kaufman's exact finite-lattice formula (Phys. Rev. 76, 1232 (1949); the form
//! of Beale, PRL 76, 78 (1996)): Z = ½ (2 sinh 2K)^{N/2} (Z₁ + Z₂ + Z₃ + Z₄) with
//! Z₁,₂ = Π_r 2 cosh / sinh(L γ_{2r+1} / 2), Z₃,₄ = Π_r 2 cosh / sinh(L γ_{2r} / 2),
//! cosh γ_k = cosh 2K coth 2K − cos(πk/L), and γ₀ = 2K + ln tanh K (negative
//! below T_c, which makes Z₄ negative). Summed in logs, with signs.
inline double ising_kaufman_log_z(int L, double beta, double J = 1) {
  const long double K = (long double)beta * J, n = L;
  auto gamma = [&](int k) -> long double {
    if (k == 0) return 2 * K + std::log(std::tanh(K));
    const long double c = std::cosh(2 * K) / std::tanh(2 * K) - std::cos(3.14159265358979323846264338327950288L * k / n);
    return std::acosh(c);
  };
  // log |Z_i| and sign of each term.
  long double lz[4] = {0, 0, 0, 0};
  int sign[4] = {1, 1, 1, 1};
  for (int r = 0; r < L; ++r) {
    const long double g1 = 0.5L * n * gamma(2 * r + 1), g0 = 0.5L * n * gamma(2 * r);
    lz[0] += std::log(2 * std::cosh(g1));
    lz[1] += std::log(2 * std::sinh(g1));
    lz[2] += std::log(2 * std::cosh(g0));
    const long double s = 2 * std::sinh(g0);
    if (s < 0) sign[3] = -sign[3];
    lz[3] += std::log(std::fabs(s));
  }
  long double m = lz[0];
  for (auto v : lz) m = std::max(m, v);
  long double sum = 0;
  for (int i = 0; i < 4; ++i) sum += sign[i] * std::exp(lz[i] - m);
  return double(std::log(0.5L) + 0.5L * n * n * std::log(2 * std::sinh(2 * K)) + m + std::log(sum));
}

//! A Bernoulli RBM by enumeration of all 2^(nv + nh) joint states (W row-major
//! [visible, hidden]) at β: ⟨E(v,h)⟩, the visible marginals p(v_i = 1),
//! ⟨F_β(v)⟩ with F_β(v) = −(1/β) ln Σ_h e^{−βE(v,h)}, and ln Z = ln Σ_{v,h} e^{−βE(v,h)}.
struct RbmExact {
  double mean_energy = 0, mean_free_energy = 0, log_z = 0;
  std::vector<double> p_visible;
};

inline RbmExact rbm_enumerate(const std::vector<double>& W, const std::vector<double>& b,
                              const std::vector<double>& c, double beta) {
  const int nv = static_cast<int>(b.size()), nh = static_cast<int>(c.size());
  auto energy = [&](std::uint32_t v, std::uint32_t h) {
    double e = 0;
    for (int i = 0; i < nv; ++i)
      if ((v >> i) & 1u) e -= b[i];
    for (int j = 0; j < nh; ++j)
      if ((h >> j) & 1u) e -= c[j];
    for (int i = 0; i < nv; ++i)
      for (int j = 0; j < nh; ++j)
        if (((v >> i) & 1u) && ((h >> j) & 1u)) e -= W[std::size_t(i) * nh + j];
    return e;
  };
  // The weights relative to the lowest energy, so that nothing overflows.
  double emin = 1e300;
  for (std::uint32_t v = 0; v < (1u << nv); ++v)
    for (std::uint32_t h = 0; h < (1u << nh); ++h) emin = std::fmin(emin, energy(v, h));
  RbmExact r;
  r.p_visible.assign(nv, 0.0);
  double z = 0;
  for (std::uint32_t v = 0; v < (1u << nv); ++v) {
    double zv = 0;
    for (std::uint32_t h = 0; h < (1u << nh); ++h) {
      const double e = energy(v, h), w = std::exp(-beta * (e - emin));
      zv += w;
      r.mean_energy += w * e;
    }
    const double F = emin - std::log(zv) / beta;
    r.mean_free_energy += zv * F;
    for (int i = 0; i < nv; ++i)
      if ((v >> i) & 1u) r.p_visible[i] += zv;
    z += zv;
  }
  r.mean_energy /= z;
  r.mean_free_energy /= z;
  for (auto& p : r.p_visible) p /= z;
  r.log_z = std::log(z) - beta * emin;
  return r;
}

}  // namespace zeta::test

