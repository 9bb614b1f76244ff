//! MBAR and BAR against exact free energies of harmonic oscillators, and MBAR
//! against Debian's pymbar on the same reduced potentials (to 1e-6).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "zeta/estimators/bar.hpp"
#include "zeta/estimators/mbar.hpp"

namespace zeta {
namespace {

// States u_k(x) = k_k x² / 2: exact f_k − f_0 = ½ ln(k_k / k_0).
struct Oscillators {
  std::vector<double> kappa = {1.0, 1.6, 2.5, 4.0, 6.5};
  std::vector<std::int64_t> N_k = {400, 300, 500, 350, 450};
  std::vector<double> u;  // K × N
  std::vector<double> x;
  Oscillators() {
    std::mt19937_64 gen(12345);
    for (std::size_t k = 0; k < kappa.size(); ++k) {
      std::normal_distribution<double> d(0.0, 1 / std::sqrt(kappa[k]));
      for (std::int64_t n = 0; n < N_k[k]; ++n) x.push_back(d(gen));
    }
    for (double kk : kappa)
      for (double xi : x) u.push_back(0.5 * kk * xi * xi);
  }
};

TEST(Mbar, OscillatorsMatchExactAndPymbar) {
  Oscillators o;
  const int K = static_cast<int>(o.kappa.size());
  const auto r = mbar(o.u, o.N_k);
  for (int k = 1; k < K; ++k) {
    const double exact = 0.5 * std::log(o.kappa[k] / o.kappa[0]);
    EXPECT_LT(std::fabs(r.f[k] - exact), 4 * r.df_stderr[k]) << k << ": " << r.f[k] << " +- " << r.df_stderr[k];
    EXPECT_GT(r.df_stderr[k], 0.0);
  }
  // The same reduced potentials through pymbar.
  {
    std::ofstream out("mbar_u.txt");
    out.precision(17);
    out << K << "\n";
    for (auto n : o.N_k) out << n << " ";
    out << "\n";
    for (int k = 0; k < K; ++k) {
      for (std::size_t n = 0; n < o.x.size(); ++n) out << o.u[k * o.x.size() + n] << " ";
      out << "\n";
    }
  }
  const std::string cmd = std::string("/usr/bin/python3 ") + ZETA_TEST_SOURCE_DIR + "/pymbar_reference.py mbar_u.txt";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[8192];
  std::string text;
  while (fgets(buf, sizeof buf, p)) text += buf;
  ASSERT_EQ(pclose(p), 0) << "pymbar failed (is python3-pymbar installed?): " << text;
  std::istringstream in(text);
  std::vector<double> f(K), df(K);
  for (auto& v : f) in >> v;
  for (auto& v : df) in >> v;
  ASSERT_TRUE(in) << text;
  for (int k = 0; k < K; ++k) {
    EXPECT_NEAR(r.f[k], f[k], 1e-6) << "f_" << k << " vs pymbar";
    EXPECT_NEAR(r.df_stderr[k], df[k], 1e-6) << "stderr of f_" << k << " vs pymbar";
  }
  std::remove("mbar_u.txt");
}

TEST(Mbar, BarAgreesWithTwoStateMbar) {
  Oscillators o;
  const std::size_t N = o.x.size();
  // States 0 and 1 only.
  std::vector<double> wf, wr, u2;
  std::size_t at = 0;
  for (int k = 0; k < 2; ++k)
    for (std::int64_t n = 0; n < o.N_k[k]; ++n, ++at) {
      const double w = o.u[1 * N + at] - o.u[0 * N + at];
      (k == 0 ? wf : wr).push_back(k == 0 ? w : -w);
    }
  const std::size_t n2 = std::size_t(o.N_k[0] + o.N_k[1]);
  for (int k = 0; k < 2; ++k)
    for (std::size_t n = 0; n < n2; ++n) u2.push_back(o.u[k * N + n]);
  const auto b = bar(wf, wr, double(wf.size()), double(wr.size()));
  const auto m = mbar(u2, {o.N_k[0], o.N_k[1]});
  EXPECT_NEAR(b.delta_f, m.f[1], 1e-9);
  EXPECT_NEAR(b.stderr, m.df_stderr[1], 1e-6);
}

TEST(Mbar, RefusesNonFiniteEnergies) {
  Oscillators o;
  o.u[7] = NAN;
  EXPECT_THROW(mbar(o.u, o.N_k), std::exception);
}

}  // namespace
}  // namespace zeta
