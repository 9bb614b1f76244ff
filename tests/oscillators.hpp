//! Test support: samples of harmonic oscillators u_k(x) = κ_k x² / 2, whose
//! free energies are known exactly (f_k − f_0 = ½ ln(κ_k / κ_0)).
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace zeta::test {

//! N_k exact samples from each state, grouped by state; u holds K rows of N.
struct Oscillators {
  std::vector<double> kappa = {1.0, 1.6, 2.5, 4.0, 6.5};
  std::vector<std::int64_t> N_k = {400, 300, 500, 350, 450};
  std::vector<double> u;  // K × N
  std::vector<double> x;
  Oscillators() { fill(); }
  std::uint64_t seed = 12345;
  Oscillators(std::vector<double> k, std::vector<std::int64_t> n, std::uint64_t s = 12345)
      : kappa(std::move(k)), N_k(std::move(n)), seed(s) {
    fill();
  }
  void fill() {
    std::mt19937_64 gen(seed);
    for (std::size_t k = 0; k < kappa.size(); ++k) {
      std::normal_distribution<double> d(0.0, 1 / std::sqrt(kappa[k]));
      for (std::int64_t n = 0; n < N_k[k]; ++n) x.push_back(d(gen));
    }
    for (double kk : kappa)
      for (double xi : x) u.push_back(0.5 * kk * xi * xi);
  }
};

}  // namespace zeta::test
