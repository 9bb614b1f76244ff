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

}  // namespace zeta::test
