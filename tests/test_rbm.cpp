//! Restricted Boltzmann machine: energies, free energies and their parameter
//! gradients against brute force and finite differences, exact ln Z against
//! enumeration and integration, block Gibbs (plain, tempered, AIS intermediate)
//! against exact distributions, AIS end to end, and draws keyed by global chain id.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "zeta/estimators/detail/rbm_ais_path.hpp"
#include "zeta/estimators/rbm_exact.hpp"
#include "zeta/models/rbm.hpp"

namespace zeta {
namespace {

using Space = Kokkos::DefaultExecutionSpace;
using estimators::rbm_base_rate_log_z;
using estimators::rbm_log_z_exact;
using estimators::detail::RbmAis;
constexpr bool kDouble = sizeof(Real) == sizeof(double);

// ---- host helpers -----------------------------------------------------------

//! A standard normal that is a pure function of (seed, k).
double normal(std::uint32_t seed, std::uint64_t k) {
  const rng::Stream st(seed, k, 0, rng::kInit);
  return std::sqrt(-2 * std::log(st.uniform(0))) * std::cos(2 * M_PI * st.uniform(1));
}
double uniform(std::uint32_t seed, std::uint64_t k) {
  return rng::Stream(seed, k, 0, rng::kInit).uniform(2);
}

double softplus(double x) {
  return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

double log_sum_exp(const std::vector<double>& t) {
  const double m = *std::max_element(t.begin(), t.end());
  double s = 0;
  for (double x : t) s += std::exp(x - m);
  return m + std::log(s);
}

//! The model on the host, written straight from the definitions in rbm.hpp.
struct Ref {
  models::RbmKind kind;
  int nv, nh;
  std::vector<double> W, b, c, sigma;

  double w(int i, int j) const { return W[std::size_t(i) * nh + j]; }
  double energy(const double* v, const double* h) const {
    double e = 0;
    for (int i = 0; i < nv; ++i) {
      const double s2 = sigma[i] * sigma[i];
      e += kind == models::RbmKind::bernoulli ? -b[i] * v[i] : (v[i] - b[i]) * (v[i] - b[i]) / (2 * s2);
      for (int j = 0; j < nh; ++j) e -= (kind == models::RbmKind::bernoulli ? v[i] : v[i] / s2) * w(i, j) * h[j];
    }
    for (int j = 0; j < nh; ++j) e -= c[j] * h[j];
    return e;
  }
  static std::vector<double> bits(std::uint32_t s, int n) {
    std::vector<double> x(n);
    for (int k = 0; k < n; ++k) x[k] = (s >> k) & 1u;
    return x;
  }
  //! F(v) = −(1/β) ln Σ_h e^{−βE(v,h)}, summing over h.
  double free_energy(const double* v, double beta) const {
    std::vector<double> t;
    for (std::uint32_t s = 0; s < (1u << nh); ++s) t.push_back(-beta * energy(v, bits(s, nh).data()));
    return -log_sum_exp(t) / beta;
  }
  //! Bernoulli: ln Σ_{v,h} e^{−βE}, summing over both layers.
  double log_z_brute(double beta) const {
    std::vector<double> t;
    for (std::uint32_t s = 0; s < (1u << nv); ++s) t.push_back(-beta * free_energy(bits(s, nv).data(), beta));
    return log_sum_exp(t);
  }
  //! Gaussian: the hidden marginal's log weights β cᵀh + Σ_i β((b + Wh)_i² − b_i²)/(2σ_i²) and the means b + Wh.
  void gaussian_hidden(double beta, std::vector<double>& logw, std::vector<std::vector<double>>& mean) const {
    logw.clear();
    mean.clear();
    for (std::uint32_t s = 0; s < (1u << nh); ++s) {
      const auto h = bits(s, nh);
      double t = 0;
      std::vector<double> m(nv);
      for (int j = 0; j < nh; ++j) t += beta * c[j] * h[j];
      for (int i = 0; i < nv; ++i) {
        m[i] = b[i];
        for (int j = 0; j < nh; ++j) m[i] += w(i, j) * h[j];
        t += beta * (m[i] * m[i] - b[i] * b[i]) / (2 * sigma[i] * sigma[i]);
      }
      logw.push_back(t);
      mean.push_back(m);
    }
  }
  std::vector<double> flat() const {
    std::vector<double> p(W);
    p.insert(p.end(), b.begin(), b.end());
    p.insert(p.end(), c.begin(), c.end());
    return p;
  }
  models::Rbm<Space> device() const {
    models::Rbm<Space> r(kind, nv, nh, kind == models::RbmKind::gaussian ? sigma : std::vector<double>{});
    r.set_params(flat());
    return r;
  }
};

Ref random_ref(models::RbmKind kind, int nv, int nh, std::uint32_t seed, double w_scale, double bias_scale,
               std::vector<double> sigma = {}) {
  Ref r{kind, nv, nh, {}, {}, {}, {}};
  std::uint64_t k = 0;
  for (int q = 0; q < nv * nh; ++q) r.W.push_back(w_scale * normal(seed, k++));
  for (int i = 0; i < nv; ++i) r.b.push_back(bias_scale * normal(seed, k++));
  for (int j = 0; j < nh; ++j) r.c.push_back(bias_scale * normal(seed, k++));
  r.sigma = sigma.empty() ? std::vector<double>(nv, 1.0) : sigma;
  return r;
}

Matrix<Space> to_device(const std::vector<double>& x, int rows, int cols) {
  Matrix<Space> d("x", rows, cols);
  auto h = Kokkos::create_mirror_view(d);
  for (int r = 0; r < rows; ++r)
    for (int k = 0; k < cols; ++k) h(r, k) = Real(x[std::size_t(r) * cols + k]);
  Kokkos::deep_copy(d, h);
  return d;
}
template <class View>
std::vector<double> to_host(const View& d) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), d);
  std::vector<double> x(h.size());
  for (std::size_t k = 0; k < h.size(); ++k) x[k] = double(h.data()[k]);
  return x;
}

//! rows × n random visible states: {0, 1} (Bernoulli) or N(0, scale²).
std::vector<double> random_states(models::RbmKind kind, int rows, int n, std::uint32_t seed, double scale = 1.5) {
  std::vector<double> x(std::size_t(rows) * n);
  for (std::size_t k = 0; k < x.size(); ++k)
    x[k] = kind == models::RbmKind::bernoulli ? double(uniform(seed, k) < 0.5) : scale * normal(seed, k);
  return x;
}

// ---- vectorized math ----------------------------------------------------------

TEST(RbmMath, ExpNegAndSoftplusSumMatchLibm) {
  double worst = 0;
  for (int k = 0; k <= 200000; ++k) {
    const double x = -700.0 * k / 200000.0;
    worst = std::max(worst, std::fabs(models::detail::exp_neg(x) / std::exp(x) - 1));
  }
  EXPECT_LT(worst, 1e-15);
  // Σ softplus over 5000 terms of both signs and large magnitudes (lane products stay finite).
  std::vector<double> x(5000);
  for (std::size_t k = 0; k < x.size(); ++k) x[k] = 30 * normal(3, k);
  double want = 0;
  for (double v : x) want += softplus(v);
  const double got = models::detail::lane_softplus_sum(0, int(x.size()), [&](int k) { return x[k]; });
  EXPECT_NEAR(got, want, 1e-12 * want);
}

// ---- parameters -----------------------------------------------------------------

TEST(RbmParams, LayoutInitialisationAndErrors) {
  models::Rbm<Space> r(models::RbmKind::bernoulli, 3, 2);
  EXPECT_EQ(r.n_params(), 3u * 2 + 3 + 2);
  EXPECT_EQ(r.b_offset(), 6u);
  EXPECT_EQ(r.c_offset(), 9u);
  std::vector<double> p(r.n_params());
  std::iota(p.begin(), p.end(), 1.0);
  r.set_params(p);
  EXPECT_EQ(r.params(), p);
  auto hW = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), r.W());
  EXPECT_EQ(hW(1, 0), 3.0);  // row-major [visible][hidden]
  EXPECT_EQ(to_host(r.b()), (std::vector<double>{7, 8, 9}));
  EXPECT_EQ(to_host(r.c()), (std::vector<double>{10, 11}));
  EXPECT_THROW(r.set_params(std::vector<double>(3)), Error);
  EXPECT_THROW(models::Rbm<Space>(models::RbmKind::bernoulli, 3, 2, {0.5}), Error);
  EXPECT_THROW(models::Rbm<Space>(models::RbmKind::gaussian, 3, 2, {1, 2}), Error);
  EXPECT_THROW(models::Rbm<Space>(models::RbmKind::gaussian, 3, 2, {-1.0}), Error);

  // W ~ N(0, 0.01²): the sample variance within 4 standard errors, the same on every call.
  const int nv = 784, nh = 64;
  std::vector<double> mean(nv);
  for (int i = 0; i < nv; ++i) mean[i] = double(i) / (nv - 1);  // includes 0 and 1: clamped
  const auto q = models::Rbm<Space>::initial_params(models::RbmKind::bernoulli, nv, nh, 5, mean);
  EXPECT_EQ(q, models::Rbm<Space>::initial_params(models::RbmKind::bernoulli, nv, nh, 5, mean));
  const std::size_t nw = std::size_t(nv) * nh;
  double s2 = 0, s1 = 0;
  for (std::size_t k = 0; k < nw; ++k) s1 += q[k], s2 += q[k] * q[k];
  const double var = s2 / nw, se_var = 1e-4 * std::sqrt(2.0 / nw);
  EXPECT_NEAR(var, 1e-4, 4 * se_var);
  EXPECT_NEAR(s1 / nw, 0, 4 * 0.01 / std::sqrt(double(nw)));
  EXPECT_NEAR(q[nw + 0], std::log(1e-3 / (1 - 1e-3)), 1e-12);
  EXPECT_NEAR(q[nw + nv - 1], std::log((1 - 1e-3) / 1e-3), 1e-12);
  EXPECT_NEAR(q[nw + 300], std::log(mean[300] / (1 - mean[300])), 1e-12);
  for (int j = 0; j < nh; ++j) EXPECT_EQ(q[nw + nv + j], 0.0);
  EXPECT_EQ(models::Rbm<Space>::visible_bias_from_mean(models::RbmKind::gaussian, {0.3, -2}),
            (std::vector<double>{0.3, -2}));
}

TEST(RbmParams, InitialStatesFollowTheVisibleBiases) {
  // v_i ~ Bernoulli(σ(b_i)) or N(b_i, σ_i²): means (and Gaussian variances) within 4 standard errors.
  const int nv = 6, nh = 3, chains = 4096;
  for (models::RbmKind kind : {models::RbmKind::bernoulli, models::RbmKind::gaussian}) {
    const std::vector<double> sigma =
        kind == models::RbmKind::gaussian ? std::vector<double>{0.5, 1, 2, 0.7, 1.3, 3} : std::vector<double>{};
    Ref ref = random_ref(kind, nv, nh, 15, 1.0, 1.5, sigma);
    const auto rbm = ref.device();
    Matrix<Space> v("v", chains, nv);
    rbm.initialize_visible(v, 16, 1000);
    const auto x = to_host(v);
    for (int i = 0; i < nv; ++i) {
      double m = 0, m2 = 0;
      for (int n = 0; n < chains; ++n)
        m += x[std::size_t(n) * nv + i], m2 += x[std::size_t(n) * nv + i] * x[std::size_t(n) * nv + i];
      m /= chains;
      const double var = (m2 / chains - m * m) * chains / (chains - 1);
      if (kind == models::RbmKind::bernoulli) {
        const double p = 1 / (1 + std::exp(-ref.b[i]));
        EXPECT_NEAR(m, p, 4 * std::sqrt(p * (1 - p) / chains)) << "unit " << i;
      } else {
        const double s2 = sigma[i] * sigma[i];
        EXPECT_NEAR(m, ref.b[i], 4 * std::sqrt(s2 / chains)) << "unit " << i;
        EXPECT_NEAR(var, s2, 4 * s2 * std::sqrt(2.0 / (chains - 1))) << "unit " << i;
      }
    }
  }
}

// ---- energies and conditionals against the definitions ---------------------------

struct Case {
  models::RbmKind kind;
  double beta;
};

class RbmEnergy : public ::testing::TestWithParam<Case> {};

TEST_P(RbmEnergy, MatchesBruteForce) {
  const auto [kind, beta] = GetParam();
  const int nv = 5, nh = 4;
  const std::vector<double> sigma =
      kind == models::RbmKind::gaussian ? std::vector<double>{0.6, 1, 1.4, 0.8, 1.2} : std::vector<double>{};
  const Ref ref = random_ref(kind, nv, nh, 21, 0.8, 0.7, sigma);
  auto rbm = ref.device();
  const double tol = kDouble ? 1e-11 : 2e-5;
  for (int rows : {7, 32}) {  // a padded batch and whole row tiles
    const auto hv = random_states(kind, rows, nv, 22 + rows);
    const auto hh = random_states(models::RbmKind::bernoulli, rows, nh, 23 + rows);
    const auto v = to_device(hv, rows, nv), h = to_device(hh, rows, nh);
    Vector<Space> E("E", rows), F("F", rows);
    Matrix<Space> ph("ph", rows, nh), mv("mv", rows, nv);
    rbm.energy(v, h, E);
    rbm.free_energy(v, beta, F);
    rbm.hidden_probabilities(v, beta, ph);
    rbm.visible_means(h, beta, mv);
    const auto gE = to_host(E), gF = to_host(F), gph = to_host(ph), gmv = to_host(mv);
    for (int n = 0; n < rows; ++n) {
      const double* vn = &hv[std::size_t(n) * nv];
      const double* hn = &hh[std::size_t(n) * nh];
      const double e = ref.energy(vn, hn), f = ref.free_energy(vn, beta);
      EXPECT_NEAR(gE[n], e, tol * (1 + std::fabs(e))) << "chain " << n;
      EXPECT_NEAR(gF[n], f, tol * (1 + std::fabs(f))) << "chain " << n;
      for (int j = 0; j < nh; ++j) {
        double a = ref.c[j];
        for (int i = 0; i < nv; ++i) a += vn[i] / (ref.sigma[i] * ref.sigma[i]) * ref.w(i, j);
        EXPECT_NEAR(gph[std::size_t(n) * nh + j], 1 / (1 + std::exp(-beta * a)), tol);
      }
      for (int i = 0; i < nv; ++i) {
        double a = ref.b[i];
        for (int j = 0; j < nh; ++j) a += ref.w(i, j) * hn[j];
        const double want = kind == models::RbmKind::bernoulli ? 1 / (1 + std::exp(-beta * a)) : a;
        EXPECT_NEAR(gmv[std::size_t(n) * nv + i], want, tol * (1 + std::fabs(want)));
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(KindsAndBetas, RbmEnergy,
                         ::testing::Values(Case{models::RbmKind::bernoulli, 1.0}, Case{models::RbmKind::bernoulli, 0.7},
                                           Case{models::RbmKind::gaussian, 1.0}, Case{models::RbmKind::gaussian, 0.7}));

// ---- ∇θ F against central differences -----------------------------------------------

class RbmGradient : public ::testing::TestWithParam<Case> {};

TEST_P(RbmGradient, MatchesFiniteDifferences) {
  const auto [kind, beta0] = GetParam();
  const int nv = 5, nh = 4, rows = 6;
  const std::vector<double> sigma =
      kind == models::RbmKind::gaussian ? std::vector<double>{0.6, 1, 1.4, 0.8, 1.2} : std::vector<double>{};
  const Ref ref = random_ref(kind, nv, nh, 31, 0.7, 0.5, sigma);
  auto rbm = ref.device();
  const auto v = to_device(random_states(kind, rows, nv, 32), rows, nv);
  // Weights of both signs (positive and negative phase); β either one number or
  // (beta0 < 0) a different value per chain.
  Vector<Space> w("w", rows), bv("beta", rows);
  auto hw = Kokkos::create_mirror_view(w);
  auto hb = Kokkos::create_mirror_view(bv);
  for (int n = 0; n < rows; ++n) hw(n) = Real(2 * uniform(33, n) - 1), hb(n) = Real(0.4 + 0.15 * n);
  Kokkos::deep_copy(w, hw);
  Kokkos::deep_copy(bv, hb);
  const PerChain<Space> beta = beta0 > 0 ? PerChain<Space>(beta0) : PerChain<Space>(bv);

  auto g = rbm.gradient_buffer();
  Kokkos::deep_copy(g, Real(0.25));  // grad_free_energy accumulates
  rbm.grad_free_energy(v, w, beta, g);
  const auto got = to_host(g);

  const double h = kDouble ? 1e-5 : 1e-2, tol = kDouble ? 1e-7 : 3e-2;
  Vector<Space> F("F", rows);
  auto weighted_sum = [&](const std::vector<double>& p) {
    rbm.set_params(p);
    rbm.free_energy(v, beta, F);
    const auto f = to_host(F);
    double s = 0;
    for (int n = 0; n < rows; ++n) s += double(hw(n)) * f[n];
    return s;
  };
  const auto p0 = ref.flat();
  for (std::size_t k = 0; k < p0.size(); ++k) {
    auto p = p0;
    p[k] += h;
    const double fp = weighted_sum(p);
    p[k] -= 2 * h;
    const double fm = weighted_sum(p);
    const double fd = (fp - fm) / (2 * h);
    const char* part = k < rbm.b_offset() ? "W" : (k < rbm.c_offset() ? "b" : "c");
    EXPECT_NEAR(got[k] - 0.25, fd, tol * (1 + std::fabs(fd))) << part << " parameter " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(KindsAndBetas, RbmGradient,
                         ::testing::Values(Case{models::RbmKind::bernoulli, 1.0}, Case{models::RbmKind::bernoulli, 0.7},
                                           Case{models::RbmKind::bernoulli, -1.0}, Case{models::RbmKind::gaussian, 1.0},
                                           Case{models::RbmKind::gaussian, 0.7},
                                           Case{models::RbmKind::gaussian, -1.0}));

// ---- the fused CD / PCD gradient ----------------------------------------------------

// contrastive_gradient against its definition: k gibbs_step sweeps of the chain rows
// (from the data rows for CD) and grad_free_energy on both phases. Same draws, so the
// chain states match exactly; the gradient to rounding. Row counts off the 16-row tile.
struct CdCase {
  models::RbmKind kind;
  bool from_data;
  int k;
  bool binary = false;  //!< Bernoulli on the host: products as sums of selected rows
};
class RbmContrastive : public ::testing::TestWithParam<CdCase> {};

TEST_P(RbmContrastive, MatchesGibbsAndTwoGradients) {
  const auto [kind, from_data, k, binary] = GetParam();
  const int nv = 21, nh = 13, nd = 9, nc = from_data ? nd : 7;
  const Ref ref = random_ref(kind, nv, nh, 41, 0.6, 0.4);
  auto fused = ref.device(), plain = ref.device();
  const auto data = random_states(kind, nd, nv, 42), chains = random_states(kind, nc, nv, 43);
  std::vector<double> stacked = data;
  stacked.insert(stacked.end(), (from_data ? data : chains).begin(), (from_data ? data : chains).end());
  const auto x = to_device(stacked, nd + nc, nv);
  Matrix<Space> h("h", nc, nh), h2("h2", nc, nh);
  const std::uint32_t seed = 44;
  const std::int64_t offset = 5, step0 = 3;
  const double wpos = 1.0 / nd, wneg = -1.0 / nc;
  auto g = fused.gradient_buffer();
  Kokkos::deep_copy(g, Real(0.5));  // both accumulate
  ASSERT_TRUE(fused.fused_contrastive());
  fused.set_binary_products(binary);
  fused.contrastive_gradient(x, nd, h, k, from_data, wpos, wneg, seed, offset, step0, g);

  const auto vd = to_device(data, nd, nv), vc = to_device(from_data ? data : chains, nc, nv);
  for (int s = 0; s < k; ++s) plain.gibbs_step(vc, h2, 1.0, seed, offset, step0 + s);
  auto g2 = plain.gradient_buffer();
  Kokkos::deep_copy(g2, Real(0.5));
  plain.grad_free_energy(vd, wpos, 1.0, g2);
  plain.grad_free_energy(vc, wneg, 1.0, g2);

  const auto xs = to_host(x), vcs = to_host(vc), ds = to_host(vd);
  for (int q = 0; q < nd * nv; ++q) ASSERT_EQ(xs[q], ds[q]) << "the data rows must not change";
  for (int q = 0; q < nc * nv; ++q) ASSERT_EQ(xs[nd * nv + q], vcs[q]) << "chain state entry " << q;
  const auto a = to_host(g), b = to_host(g2);
  const double tol = kDouble ? 1e-12 : 1e-5;
  double moved = 0;
  for (std::size_t q = 0; q < a.size(); ++q) {
    EXPECT_NEAR(a[q], b[q], tol * (1 + std::fabs(b[q]))) << "parameter " << q;
    moved += std::fabs(b[q] - 0.5);
  }
  EXPECT_GT(moved, 0.1);
}

INSTANTIATE_TEST_SUITE_P(
    KindsAndObjectives, RbmContrastive,
    ::testing::Values(CdCase{models::RbmKind::bernoulli, true, 1}, CdCase{models::RbmKind::bernoulli, true, 3},
                      CdCase{models::RbmKind::bernoulli, false, 1}, CdCase{models::RbmKind::bernoulli, false, 2},
                      CdCase{models::RbmKind::bernoulli, true, 1, true},
                      CdCase{models::RbmKind::bernoulli, true, 3, true},
                      CdCase{models::RbmKind::bernoulli, false, 2, true}, CdCase{models::RbmKind::gaussian, true, 1},
                      CdCase{models::RbmKind::gaussian, false, 2}));

TEST(RbmContrastive, RefusesScaledGaussianVisibles) {
  models::Rbm<Space> rbm(models::RbmKind::gaussian, 3, 2, {0.5});
  EXPECT_FALSE(rbm.fused_contrastive());
}

// ---- exact ln Z ---------------------------------------------------------------------

TEST(RbmLogZ, BernoulliMatchesEnumeration) {
  // nv > nh sums over h, nv < nh over v: both against the sum over every (v, h).
  for (auto [nv, nh] : {std::pair{6, 5}, std::pair{4, 9}}) {
    const Ref ref = random_ref(models::RbmKind::bernoulli, nv, nh, 41 + nv, 0.9, 0.8);
    const auto rbm = ref.device();
    for (double beta : {1.0, 0.7}) {
      const double want = ref.log_z_brute(beta);
      EXPECT_NEAR(estimators::rbm_log_z_exact(rbm, beta), want, (kDouble ? 1e-11 : 1e-4) * std::fabs(want))
          << nv << "x" << nh << " beta " << beta;
    }
  }
}

TEST(RbmLogZ, Hidden12Visible50MatchesDirectSum) {
  const int nv = 50, nh = 12;
  for (models::RbmKind kind : {models::RbmKind::bernoulli, models::RbmKind::gaussian}) {
    std::vector<double> sigma;
    for (int i = 0; i < nv && kind == models::RbmKind::gaussian; ++i) sigma.push_back(0.5 + 0.02 * i);
    const Ref ref = random_ref(kind, nv, nh, 43, 0.3, 1.0, sigma);
    const auto rbm = ref.device();
    const double beta = 0.8;
    std::vector<double> t;
    double constant = 0;
    if (kind == models::RbmKind::bernoulli) {
      // ln Σ_h e^{β cᵀh} Π_i (1 + e^{β(b_i + (Wh)_i)}), each state from scratch.
      for (std::uint32_t s = 0; s < (1u << nh); ++s) {
        const auto h = Ref::bits(s, nh);
        double x = 0;
        for (int j = 0; j < nh; ++j) x += beta * ref.c[j] * h[j];
        for (int i = 0; i < nv; ++i) {
          double a = ref.b[i];
          for (int j = 0; j < nh; ++j) a += ref.w(i, j) * h[j];
          x += softplus(beta * a);
        }
        t.push_back(x);
      }
    } else {
      std::vector<std::vector<double>> mean;
      ref.gaussian_hidden(beta, t, mean);
      for (int i = 0; i < nv; ++i) constant += 0.5 * std::log(2 * M_PI * sigma[i] * sigma[i] / beta);
    }
    const double want = constant + log_sum_exp(t);
    EXPECT_NEAR(estimators::rbm_log_z_exact(rbm, beta), want, (kDouble ? 1e-11 : 1e-4) * std::fabs(want))
        << models::rbm_kind_name(kind);
  }
}

TEST(RbmLogZ, GaussianMatchesNumericalIntegration) {
  // Σ_h ∫∫ e^{−βE(v,h)} dv by the trapezoidal rule on a wide grid (spectrally
  // accurate for these Gaussian integrands).
  const int nv = 2, nh = 3;
  const double beta = 0.8;
  const Ref ref = random_ref(models::RbmKind::gaussian, nv, nh, 45, 0.7, 0.6, {0.7, 1.3});
  const auto rbm = ref.device();
  const double L = 16, dx = 0.02;
  const int n = int(2 * L / dx);
  double z = 0;
  for (std::uint32_t s = 0; s < (1u << nh); ++s) {
    const auto h = Ref::bits(s, nh);
    for (int a = 0; a <= n; ++a)
      for (int b = 0; b <= n; ++b) {
        const double v[2] = {-L + a * dx, -L + b * dx};
        const double wt = (a == 0 || a == n ? 0.5 : 1.0) * (b == 0 || b == n ? 0.5 : 1.0);
        z += wt * std::exp(-beta * ref.energy(v, h.data()));
      }
  }
  const double want = std::log(z * dx * dx);
  EXPECT_NEAR(estimators::rbm_log_z_exact(rbm, beta), want, kDouble ? 1e-9 : 1e-4);
}

TEST(RbmLogZ, BaseRateClosedForm) {
  // W = 0, c = 0, b = base rates: Σ_i softplus(b_i) + nh ln 2, against the sum over every (v, h).
  const int nv = 6, nh = 5;
  std::vector<double> p(nv);
  for (int i = 0; i < nv; ++i) p[i] = uniform(47, i);
  Ref ref = random_ref(models::RbmKind::bernoulli, nv, nh, 47, 0, 0);
  ref.b = models::Rbm<Space>::visible_bias_from_mean(models::RbmKind::bernoulli, p);
  const double closed = estimators::rbm_base_rate_log_z(models::RbmKind::bernoulli, ref.b, nh);
  EXPECT_NEAR(closed, ref.log_z_brute(1.0), 1e-12);
  EXPECT_NEAR(estimators::rbm_log_z_exact(ref.device()), closed, kDouble ? 1e-12 : 1e-5);
  EXPECT_NEAR(estimators::rbm_base_rate_log_z(models::RbmKind::bernoulli, ref.b, nh, {}, 0.6), ref.log_z_brute(0.6),
              1e-12);
  // Gaussian base: Σ_i ½ ln(2πσ_i²) + nh ln 2.
  Ref g = random_ref(models::RbmKind::gaussian, 3, 4, 48, 0, 0, {0.5, 1, 2});
  g.b = {0.3, -1, 2};
  const double gclosed = estimators::rbm_base_rate_log_z(models::RbmKind::gaussian, g.b, 4, g.sigma);
  EXPECT_NEAR(gclosed, 4 * std::log(2.0) + 0.5 * std::log(std::pow(2 * M_PI, 3) * 0.25 * 1 * 4), 1e-12);
  EXPECT_NEAR(estimators::rbm_log_z_exact(g.device()), gclosed, kDouble ? 1e-12 : 1e-5);
}

TEST(RbmLogZ, RefusesMoreThan30SummedUnits) {
  try {
    estimators::rbm_log_z_exact(models::Rbm<Space>(models::RbmKind::gaussian, 2, 31));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("at most 30"), std::string::npos) << e.what();
  }
  EXPECT_THROW(estimators::rbm_log_z_exact(models::Rbm<Space>(models::RbmKind::bernoulli, 31, 40)), Error);
  EXPECT_THROW(estimators::rbm_log_z_exact(models::Rbm<Space>(models::RbmKind::bernoulli, 40, 31)), Error);
}

TEST(RbmLogZ, Visible784Hidden20FactorisedAndTimed) {
  // Each visible unit connects to one hidden unit (i mod 20), so Z factorises:
  //   Z = Π_j [Π_{i∈S_j} (1 + e^{βb_i}) + e^{βc_j} Π_{i∈S_j} (1 + e^{β(b_i + W_ij)})].
  // The exact sum does not know this: it walks all 2^20 hidden states × 784 visibles.
  const int nv = 784, nh = 20;
  const double beta = 0.9;
  Ref ref = random_ref(models::RbmKind::bernoulli, nv, nh, 49, 0.5, 1.0);
  for (int i = 0; i < nv; ++i) {
    ref.b[i] -= 1.5;  // MNIST-like mostly-off visibles
    for (int j = 0; j < nh; ++j)
      if (j != i % nh) ref.W[std::size_t(i) * nh + j] = 0;
  }
  double want = 0;
  for (int j = 0; j < nh; ++j) {
    double off = 0, on = beta * ref.c[j];
    for (int i = j; i < nv; i += nh) off += softplus(beta * ref.b[i]), on += softplus(beta * (ref.b[i] + ref.w(i, j)));
    want += std::max(off, on) + std::log1p(std::exp(std::min(off, on) - std::max(off, on)));
  }
  const auto rbm = ref.device();
  const auto t0 = std::chrono::steady_clock::now();
  const double got = estimators::rbm_log_z_exact(rbm, beta);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ timing ] rbm_log_z_exact nv = 784, nh = 20 (2^20 states): %.3f s, ln Z = %.12f\n", s, got);
  RecordProperty("log_z_exact_784x20_seconds", std::to_string(s));
  EXPECT_NEAR(got, want, (kDouble ? 1e-11 : 1e-4) * std::fabs(want));
}

// ---- block Gibbs against exact distributions ------------------------------------------

//! Per-chain time averages of the indicator of each visible state over T sweeps
//! after `burn` sweeps, and the states of the last sweep.
struct Sampled {
  int chains = 0, states = 0;
  std::vector<double> freq;  //!< [chain][state]
  std::vector<int> last;     //!< state of each chain after the last sweep
};

template <class Sweep>
Sampled sample_states(int chains, int nv, int nh, int burn, int T, Sweep sweep) {
  std::vector<double> init(std::size_t(chains) * nv);
  for (std::size_t k = 0; k < init.size(); ++k) init[k] = double(uniform(91, k) < 0.5);
  const auto v = to_device(init, chains, nv);
  Matrix<Space> h("h", chains, nh);
  Sampled s;
  s.chains = chains;
  s.states = 1 << nv;
  s.freq.assign(std::size_t(chains) * s.states, 0.0);
  s.last.assign(chains, 0);
  for (int t = 0; t < burn + T; ++t) {
    sweep(v, h, std::int64_t(t + 1));
    if (t < burn) continue;
    auto hv = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
    for (int n = 0; n < chains; ++n) {
      int st = 0;
      for (int i = 0; i < nv; ++i) st |= (hv(n, i) > Real(0.5) ? 1 : 0) << i;
      s.freq[std::size_t(n) * s.states + st] += 1.0 / T;
      s.last[n] = st;
    }
  }
  return s;
}

//! Largest |sampled − exact| / SE over the state probabilities and the visible
//! marginals; SE from the spread of the independent chains' time averages
//! (floored at the iid value so that a never-visited state cannot divide by 0).
double max_z(const Sampled& s, const std::vector<double>& p, int nv, int T) {
  double worst = 0;
  auto check = [&](auto indicator_weight, double exact) {
    double m = 0, m2 = 0;
    for (int n = 0; n < s.chains; ++n) {
      double f = 0;
      for (int st = 0; st < s.states; ++st) f += indicator_weight(st) * s.freq[std::size_t(n) * s.states + st];
      m += f;
      m2 += f * f;
    }
    m /= s.chains;
    const double sd = std::sqrt(std::max(0.0, m2 / s.chains - m * m) * s.chains / (s.chains - 1));
    const double se =
        std::max(sd / std::sqrt(double(s.chains)), std::sqrt(exact * (1 - exact) / (double(s.chains) * T)));
    worst = std::max(worst, std::fabs(m - exact) / se);
  };
  for (int st = 0; st < s.states; ++st) check([&](int x) { return double(x == st); }, p[st]);
  for (int i = 0; i < nv; ++i) {
    double pi = 0;
    for (int st = 0; st < s.states; ++st) pi += ((st >> i) & 1) * p[st];
    check([&](int x) { return double((x >> i) & 1); }, pi);
  }
  return worst;
}

//! χ² of the last sweep's states (one independent draw per chain) against p, bins
//! with fewer than 5 expected pooled; returns χ² − threshold, threshold = dof + 4√(2 dof).
double chi2_excess(const Sampled& s, const std::vector<double>& p) {
  std::vector<double> obs(s.states, 0.0);
  for (int st : s.last) obs[st] += 1;
  double chi2 = 0, pool_o = 0, pool_e = 0;
  int bins = 0;
  for (int st = 0; st < s.states; ++st) {
    const double e = p[st] * s.chains;
    if (e < 5) {
      pool_o += obs[st], pool_e += e;
      continue;
    }
    chi2 += (obs[st] - e) * (obs[st] - e) / e;
    ++bins;
  }
  if (pool_e > 0) chi2 += (pool_o - pool_e) * (pool_o - pool_e) / pool_e, ++bins;
  const double dof = bins - 1;
  return chi2 - (dof + 4 * std::sqrt(2 * dof));
}

//! p(v) ∝ e^{−βF(v)} over the 2^nv visible states.
std::vector<double> exact_visible(const Ref& ref, double beta) {
  std::vector<double> t;
  for (std::uint32_t s = 0; s < (1u << ref.nv); ++s)
    t.push_back(-beta * ref.free_energy(Ref::bits(s, ref.nv).data(), beta));
  const double lz = log_sum_exp(t);
  for (double& x : t) x = std::exp(x - lz);
  return t;
}

constexpr int kChains = 2048, kBurn = 50, kSweeps = 200;

TEST(RbmGibbs, BernoulliMatchesEnumeration) {
  const int nv = 4, nh = 3;
  const Ref ref = random_ref(models::RbmKind::bernoulli, nv, nh, 51, 1.0, 0.5);
  auto rbm = ref.device();
  for (double beta : {1.0, 0.5}) {
    const auto s = sample_states(kChains, nv, nh, kBurn, kSweeps,
                                 [&](auto& v, auto& h, std::int64_t t) { rbm.gibbs_step(v, h, beta, 7, 0, t); });
    const auto p = exact_visible(ref, beta);
    EXPECT_LT(max_z(s, p, nv, kSweeps), 4.0) << "beta " << beta;
    EXPECT_LT(chi2_excess(s, p), 0.0) << "beta " << beta;
    // The check has power: the other temperature's distribution is rejected.
    EXPECT_GT(max_z(s, exact_visible(ref, beta == 1.0 ? 0.5 : 1.0), nv, kSweeps), 8.0) << "beta " << beta;
  }
}

TEST(RbmGibbs, PerChainBetas) {
  // Half the chains at β = 1, half at β = 0.5, in one batch (as in tempering).
  const int nv = 4, nh = 3;
  const Ref ref = random_ref(models::RbmKind::bernoulli, nv, nh, 52, 1.0, 0.5);
  auto rbm = ref.device();
  Vector<Space> beta("beta", kChains);
  auto hb = Kokkos::create_mirror_view(beta);
  for (int n = 0; n < kChains; ++n) hb(n) = n % 2 ? Real(0.5) : Real(1);
  Kokkos::deep_copy(beta, hb);
  const auto s = sample_states(kChains, nv, nh, kBurn, kSweeps,
                               [&](auto& v, auto& h, std::int64_t t) { rbm.gibbs_step(v, h, beta, 8, 0, t); });
  for (int odd = 0; odd < 2; ++odd) {
    Sampled part;
    part.chains = kChains / 2;
    part.states = s.states;
    for (int n = odd; n < kChains; n += 2) {
      part.freq.insert(part.freq.end(), s.freq.begin() + std::size_t(n) * s.states,
                       s.freq.begin() + std::size_t(n + 1) * s.states);
      part.last.push_back(s.last[n]);
    }
    EXPECT_LT(max_z(part, exact_visible(ref, odd ? 0.5 : 1.0), nv, kSweeps), 4.0) << "odd " << odd;
  }
}

TEST(RbmGibbs, AisIntermediateIsInvariant) {
  const int nv = 4, nh = 3;
  const Ref ref = random_ref(models::RbmKind::bernoulli, nv, nh, 53, 1.0, 0.5);
  std::vector<double> marg(nv);
  for (int i = 0; i < nv; ++i) marg[i] = 0.15 + 0.7 * uniform(54, i);
  const auto bA = models::Rbm<Space>::visible_bias_from_mean(models::RbmKind::bernoulli, marg);
  RbmAis<Space> ais(ref.device(), bA);
  // f_a(v) ∝ exp((1 − a) b_Aᵀv + a bᵀv + Σ_j softplus(a (c_j + (vW)_j))) at β_T = 1.
  auto log_f = [&](const std::vector<double>& v, double a, double bt) {
    double x = 0;
    for (int i = 0; i < nv; ++i) x += ((1 - a) * bA[i] + a * bt * ref.b[i]) * v[i];
    for (int j = 0; j < nh; ++j) {
      double z = ref.c[j];
      for (int i = 0; i < nv; ++i) z += v[i] * ref.w(i, j);
      x += softplus(a * bt * z);
    }
    return x;
  };
  const double a = 0.5;
  std::vector<double> p;
  for (std::uint32_t s = 0; s < (1u << nv); ++s) p.push_back(log_f(Ref::bits(s, nv), a, 1));
  const double lz = log_sum_exp(p);
  for (double& x : p) x = std::exp(x - lz);
  const auto s = sample_states(kChains, nv, nh, kBurn, kSweeps,
                               [&](auto& v, auto& h, std::int64_t t) { ais.gibbs_step(v, h, a, 9, 0, t); });
  EXPECT_LT(max_z(s, p, nv, kSweeps), 4.0);
  EXPECT_LT(chi2_excess(s, p), 0.0);

  // G_a against the formula (β_T = 0.8 as well), and its normalisation at a = 0 and 1.
  for (double bt : {1.0, 0.8}) {
    RbmAis<Space> path(ref.device(), bA, bt);
    std::vector<double> all;
    for (std::uint32_t st = 0; st < (1u << nv); ++st) {
      const auto b = Ref::bits(st, nv);
      all.insert(all.end(), b.begin(), b.end());
    }
    const auto v = to_device(all, 1 << nv, nv);
    Accum<Space> G("G", 1 << nv);
    for (double aa : {0.0, 0.3, 1.0}) {
      path.intermediate_free_energy(v, aa, G);
      const auto g = to_host(G);
      std::vector<double> lf;
      for (int st = 0; st < (1 << nv); ++st) {
        const double want = log_f(Ref::bits(st, nv), aa, bt);
        EXPECT_NEAR(-g[st], want, kDouble ? 1e-12 : 1e-5);
        lf.push_back(-g[st]);
      }
      if (aa == 0.0) {
        EXPECT_NEAR(log_sum_exp(lf), path.base_log_z(), kDouble ? 1e-10 : 1e-5);
      }
      if (aa == 1.0) {
        EXPECT_NEAR(log_sum_exp(lf), ref.log_z_brute(bt), kDouble ? 1e-10 : 1e-5);
      }
    }
    // The weight increment is G_from − G_to.
    Accum<Space> w("w", 1 << nv), g3("g3", 1 << nv);
    Kokkos::deep_copy(w, 0.5);
    path.log_weight_increment(v, 0.3, 1.0, w);
    path.intermediate_free_energy(v, 0.3, g3);
    path.intermediate_free_energy(v, 1.0, G);
    const auto hw = to_host(w), h3 = to_host(g3), h1 = to_host(G);
    for (int st = 0; st < (1 << nv); ++st) EXPECT_NEAR(hw[st] - 0.5, h3[st] - h1[st], 1e-12);
  }
}

TEST(RbmGibbs, GaussianMomentsMatchExact) {
  // E[v_i] = Σ_h p(h) (b + Wh)_i, E[v_i²] = Σ_h p(h) ((b + Wh)_i² + σ_i²/β), p(h_j = 1).
  const int nv = 3, nh = 3, chains = kChains, T = kSweeps;
  const double beta = 0.7;
  const Ref ref = random_ref(models::RbmKind::gaussian, nv, nh, 55, 0.8, 0.5, {0.5, 1.0, 1.5});
  auto rbm = ref.device();
  std::vector<double> logw;
  std::vector<std::vector<double>> mean;
  ref.gaussian_hidden(beta, logw, mean);
  const double lz = log_sum_exp(logw);
  std::vector<double> want(2 * nv + nh, 0.0);  // E[v], E[v²], p(h = 1)
  for (std::size_t s = 0; s < logw.size(); ++s) {
    const double p = std::exp(logw[s] - lz);
    for (int i = 0; i < nv; ++i) {
      want[i] += p * mean[s][i];
      want[nv + i] += p * (mean[s][i] * mean[s][i] + ref.sigma[i] * ref.sigma[i] / beta);
    }
    for (int j = 0; j < nh; ++j) want[2 * nv + j] += p * ((s >> j) & 1);
  }
  const auto v = to_device(random_states(models::RbmKind::gaussian, chains, nv, 56), chains, nv);
  Matrix<Space> h("h", chains, nh);
  std::vector<double> acc(std::size_t(chains) * want.size(), 0.0);
  for (int t = 0; t < kBurn + T; ++t) {
    rbm.gibbs_step(v, h, beta, 10, 0, t + 1);
    if (t < kBurn) continue;
    auto hv = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
    auto hh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), h);
    for (int n = 0; n < chains; ++n) {
      double* a = &acc[std::size_t(n) * want.size()];
      for (int i = 0; i < nv; ++i) a[i] += hv(n, i) / T, a[nv + i] += hv(n, i) * hv(n, i) / T;
      for (int j = 0; j < nh; ++j) a[2 * nv + j] += hh(n, j) / T;
    }
  }
  for (std::size_t k = 0; k < want.size(); ++k) {
    double m = 0, m2 = 0;
    for (int n = 0; n < chains; ++n)
      m += acc[n * want.size() + k], m2 += acc[n * want.size() + k] * acc[n * want.size() + k];
    m /= chains;
    const double se = std::sqrt((m2 / chains - m * m) / (chains - 1));
    EXPECT_LT(std::fabs(m - want[k]) / se, 4.0) << "moment " << k << ": " << m << " vs " << want[k] << " ± " << se;
  }
}

// ---- AIS end to end -------------------------------------------------------------------

TEST(RbmAis, RecoversExactLogZ) {
  for (models::RbmKind kind : {models::RbmKind::bernoulli, models::RbmKind::gaussian}) {
    const int nv = 8, nh = 6, chains = 512, T = 400;
    const std::vector<double> sigma =
        kind == models::RbmKind::gaussian ? std::vector<double>(nv, 0.8) : std::vector<double>{};
    const Ref ref = random_ref(kind, nv, nh, 61, 0.5, 0.5, sigma);
    std::vector<double> mean(nv);
    for (int i = 0; i < nv; ++i)
      mean[i] = kind == models::RbmKind::bernoulli ? 0.2 + 0.6 * uniform(62, i) : 0.5 * normal(62, i);
    RbmAis<Space> ais(ref.device(), models::Rbm<Space>::visible_bias_from_mean(kind, mean));
    Matrix<Space> v("v", chains, nv), h("h", chains, nh);
    Accum<Space> w("log_w", chains);
    std::int64_t step = 0;
    ais.sample_base(v, 11, 0, step);
    for (int k = 1; k <= T; ++k) {
      const double a0 = double(k - 1) / T, a1 = double(k) / T;
      ais.log_weight_increment(v, a0, a1, w);
      ais.gibbs_step(v, h, a1, 11, 0, ++step);
    }
    const auto lw = to_host(w);
    const double mx = *std::max_element(lw.begin(), lw.end());
    double s1 = 0, s2 = 0;
    for (double x : lw) s1 += std::exp(x - mx), s2 += std::exp(2 * (x - mx));
    const double m = s1 / chains, var = s2 / chains - m * m;
    const double est = ais.base_log_z() + mx + std::log(m);
    const double se = std::sqrt(var / (chains - 1)) / m;  // delta method
    const double exact = estimators::rbm_log_z_exact(ais.target());
    std::printf("[ ais ] %s: ln Z = %.5f ± %.5f, exact %.5f\n", models::rbm_kind_name(kind), est, se, exact);
    EXPECT_LT(se, 0.05) << models::rbm_kind_name(kind);  // informative enough to test anything
    // ln of a mean is biased low by about se²/2.
    EXPECT_NEAR(est, exact, 4 * se + se * se / 2) << models::rbm_kind_name(kind);
  }
}

// ---- draws keyed by the global chain id -------------------------------------------------

TEST(RbmRng, DrawsDependOnGlobalChainIdOnly) {
  // Rows first…36 of a 37-chain batch at offset 100 against the same chains alone at
  // offset 100 + first: identical draws and, with GEMMs padded to whole row tiles,
  // identical numbers in double (unpadded OpenBLAS dgemm rows differ in the last bits
  // here). OpenBLAS sgemm rows are not position-stable even padded, so a float build
  // checks one sweep, with float-sized differences and at most 2 of its ~2300 draws
  // flipped by them (wrong keys flip about half).
  const int sweeps = kDouble ? 3 : 1, flips = kDouble ? 0 : 2;
  const double tol = kDouble ? 0 : 1e-5;
  for (models::RbmKind kind : {models::RbmKind::bernoulli, models::RbmKind::gaussian})
    for (int first : {1, 5, 20}) {
      const int nv = 40, nh = 24, rows = 37, part = rows - first;
      // Unit σ: the Gaussian GEMM input is then the states themselves, not a scaled (padded) copy.
      const Ref ref = random_ref(kind, nv, nh, 71, 0.3, 0.5);
      auto rbm = ref.device();
      const auto hv = random_states(kind, rows, nv, 72);
      const std::vector<double> tail(hv.begin() + std::size_t(first) * nv, hv.end());
      const auto big = to_device(hv, rows, nv), small = to_device(tail, part, nv);
      Matrix<Space> hb("hb", rows, nh), hs("hs", part, nh);
      Vector<Space> Fb("Fb", rows), Fs("Fs", part);
      for (std::int64_t step = 1; step <= sweeps; ++step) {
        rbm.gibbs_step(big, hb, 0.8, 5, 100, step);
        rbm.gibbs_step(small, hs, 0.8, 5, 100 + first, step);
      }
      rbm.free_energy(big, 0.8, Fb);
      rbm.free_energy(small, 0.8, Fs);
      const auto vb = to_host(big), vs = to_host(small), gb = to_host(hb), gs = to_host(hs);
      const auto fb = to_host(Fb), fs = to_host(Fs);
      int differ = 0;
      auto cmp = [&](double x, double y) { differ += std::fabs(x - y) > tol * (1 + std::fabs(x)); };
      for (int n = 0; n < part; ++n) {
        for (int i = 0; i < nv; ++i) cmp(vb[std::size_t(first + n) * nv + i], vs[std::size_t(n) * nv + i]);
        for (int j = 0; j < nh; ++j) cmp(gb[std::size_t(first + n) * nh + j], gs[std::size_t(n) * nh + j]);
        cmp(fb[first + n], fs[n]);
      }
      EXPECT_LE(differ, flips) << models::rbm_kind_name(kind) << " first " << first;
      // And the draws do depend on the id: the same rows at another offset differ.
      const auto other = to_device(tail, part, nv);
      for (std::int64_t step = 1; step <= sweeps; ++step) rbm.gibbs_step(other, hs, 0.8, 5, 101 + first, step);
      EXPECT_NE(to_host(other), vs) << models::rbm_kind_name(kind) << " first " << first;
    }
}

// Bernoulli draws by their contract: unit j of chain n is [u < σ(x_nj)], u =
// draw_uniform(word j mod 4 of block first + j/4 of Stream(seed, offset + n, step,
// kGibbs)), first = 0 for hidden units and 2^31 for visible ones. The host sum x is
// in double; draws whose u lies within the device's rounding of σ(x) are not judged
// (a few in float, none in double).
TEST(RbmRng, BernoulliDrawsFollowTheirUniforms) {
  const int nv = 50, nh = 37, rows = 9;  // 37, 50: partial Philox blocks and lane groups
  const Ref ref = random_ref(models::RbmKind::bernoulli, nv, nh, 81, 0.4, 0.8);
  auto rbm = ref.device();
  const double beta = 0.9, margin = kDouble ? 1e-12 : 1e-5;
  const std::uint32_t seed = 17;
  const std::int64_t offset = 40, step = 6;
  const auto hv = random_states(models::RbmKind::bernoulli, rows, nv, 82);
  Matrix<Space> h("h", rows, nh), v("v", rows, nv);
  rbm.sample_hidden(to_device(hv, rows, nv), beta, h, seed, offset, step);
  const auto hh = to_host(h);
  rbm.sample_visible(h, beta, v, seed, offset, step);
  const auto vv = to_host(v);
  int judged = 0, wrong = 0, ones = 0;
  auto check = [&](double x, double got, std::int64_t n, std::uint32_t first, int j) {
    const auto w = rng::Stream(seed, std::uint64_t(offset + n), std::uint64_t(step), rng::kGibbs).block(first + j / 4);
    const double u = double(models::detail::draw_uniform(w[j % 4])), p = 1 / (1 + std::exp(-x));
    ASSERT_TRUE(got == 0 || got == 1);
    ones += got == 1;
    if (std::fabs(u - p) < margin) return;
    ++judged;
    wrong += got != (u < p ? 1 : 0);
  };
  for (int n = 0; n < rows; ++n) {
    for (int j = 0; j < nh; ++j) {
      double x = ref.c[j];
      for (int i = 0; i < nv; ++i) x += hv[std::size_t(n) * nv + i] * ref.w(i, j);
      check(beta * x, hh[std::size_t(n) * nh + j], n, 0, j);
    }
    for (int i = 0; i < nv; ++i) {
      double x = ref.b[i];
      for (int j = 0; j < nh; ++j) x += hh[std::size_t(n) * nh + j] * ref.w(i, j);
      check(beta * x, vv[std::size_t(n) * nv + i], n, 0x80000000u, i);
    }
  }
  EXPECT_EQ(wrong, 0);
  EXPECT_GE(judged, rows * (nv + nh) - 3);
  EXPECT_GT(ones, rows * (nv + nh) / 5);
  EXPECT_LT(ones, rows * (nv + nh) * 4 / 5);
}

// gibbs_step(…, reuse_field = true) after a free_energy of the same v takes that call's
// field: the same sweep, bit for bit, as computing it again; and where the Rbm holds
// no field of v (another batch's product in between, or v resampled by a sweep) it
// computes it (also when a copy of the Rbm wrote the shared workspace), so the
// sweeps still agree.
TEST(RbmGibbs, ReusedFieldGivesTheSameSweep) {
  const int nv = 30, nh = 20, rows = 13;
  for (models::RbmKind kind : {models::RbmKind::bernoulli, models::RbmKind::gaussian}) {
    const std::string name = models::rbm_kind_name(kind);
    const Ref ref =
        random_ref(kind, nv, nh, 61, 0.3, 0.5,
                   kind == models::RbmKind::gaussian ? std::vector<double>(nv, 0.8) : std::vector<double>{});
    auto fresh = ref.device(), reuse = ref.device();
    const auto x = random_states(kind, rows, nv, 62);
    const auto va = to_device(x, rows, nv), vb = to_device(x, rows, nv),
               other = to_device(random_states(kind, rows, nv, 63), rows, nv);
    Matrix<Space> ha("ha", rows, nh), hb("hb", rows, nh);
    Vector<Space> Fa("Fa", rows), Fb("Fb", rows), Fo("Fo", rows);
    fresh.free_energy(va, 0.7, Fa);
    reuse.free_energy(vb, 0.7, Fb);
    auto twin = reuse;  // a copy: it shares reuse's workspaces
    for (std::int64_t t = 1; t <= 6; ++t) {
      if (t % 3 == 1) reuse.free_energy(other, 0.7, Fo);  // the held field is another batch's
      if (t % 3 == 0) twin.free_energy(other, 0.7, Fo);   // … written through the copy
      if (t % 3 == 2) {  // two sweeps: the second follows a resampling of vb, no field held
        fresh.gibbs_step(va, ha, 0.7, 3, 0, 100 + t);
        reuse.gibbs_step(vb, hb, 0.7, 3, 0, 100 + t, true);
      }
      fresh.gibbs_step(va, ha, 0.7, 3, 0, t);
      reuse.gibbs_step(vb, hb, 0.7, 3, 0, t, true);
      fresh.free_energy(va, 0.7, Fa);
      reuse.free_energy(vb, 0.7, Fb);
      EXPECT_EQ(to_host(va), to_host(vb)) << name << " step " << t;
      EXPECT_EQ(to_host(ha), to_host(hb)) << name << " step " << t;
      EXPECT_EQ(to_host(Fa), to_host(Fb)) << name << " step " << t;
    }
  }
}

// Rbm::pack_weights (the sampling commands): the conditionals and energies with W
// packed once equal the OpenBLAS path to rounding, for Bernoulli and scaled Gaussian
// visibles; a chain's numbers do not depend on the other rows of its batch, bit for
// bit in both precisions (packed_gemm is row-stable; OpenBLAS sgemm is not); and
// new parameters, by set_params or in place plus params_updated(), are re-packed.
TEST(RbmPacked, SamplingMatchesOpenBlasAndIsRowStable) {
  const double tol = kDouble ? 1e-12 : 2e-5;
  auto close = [&](const std::vector<double>& x, const std::vector<double>& y, const std::string& what) {
    ASSERT_EQ(x.size(), y.size()) << what;
    double worst = 0;
    for (std::size_t k = 0; k < x.size(); ++k) worst = std::max(worst, std::fabs(x[k] - y[k]) / (1 + std::fabs(x[k])));
    EXPECT_LE(worst, tol) << what;
  };
  const int nv = 40, nh = 24, rows = 37;  // 2.5 and 1.5 float panels; 37 = 6 whole row tiles + 1
  for (models::RbmKind kind : {models::RbmKind::bernoulli, models::RbmKind::gaussian}) {
    const std::string name = models::rbm_kind_name(kind);
    const std::vector<double> sigma =
        kind == models::RbmKind::gaussian ? std::vector<double>(nv, 0.7) : std::vector<double>{};
    const Ref ref = random_ref(kind, nv, nh, 81, 0.3, 0.5, sigma);
    auto plain = ref.device(), packed = ref.device();
    packed.pack_weights();
    EXPECT_EQ(packed.packs_weights(), linalg::kPackedGemm) << name;
    EXPECT_FALSE(plain.packs_weights()) << name;
    const auto v = to_device(random_states(kind, rows, nv, 82), rows, nv);
    auto products = [&](models::Rbm<Space>& r) {
      Matrix<Space> ph("ph", rows, nh), mv("mv", rows, nv);
      Vector<Space> E("E", rows), F("F", rows);
      r.hidden_probabilities(v, 0.9, ph);
      r.visible_means(ph, 0.9, mv);
      r.energy(v, ph, E);
      r.free_energy(v, 0.9, F);
      std::vector<double> all = to_host(ph);
      for (const auto& part : {to_host(mv), to_host(E), to_host(F)}) all.insert(all.end(), part.begin(), part.end());
      return all;
    };
    close(products(plain), products(packed), name + ": packed against OpenBLAS");

    // Row stability: rows first… of the batch swept alone give the same bits.
    if (packed.packs_weights()) {
      const int first = 5, part = rows - first;
      const auto hv = random_states(kind, rows, nv, 83);
      const auto big = to_device(hv, rows, nv),
                 small = to_device(std::vector<double>(hv.begin() + std::size_t(first) * nv, hv.end()), part, nv);
      Matrix<Space> hb("hb", rows, nh), hs("hs", part, nh);
      for (std::int64_t step = 1; step <= 3; ++step) {
        packed.gibbs_step(big, hb, 0.8, 5, 100, step);
        packed.gibbs_step(small, hs, 0.8, 5, 100 + first, step);
      }
      const auto vb = to_host(big), vs = to_host(small);
      EXPECT_TRUE(std::equal(vs.begin(), vs.end(), vb.begin() + std::size_t(first) * nv)) << name;
    }

    // New parameters: by set_params, then in place with params_updated().
    for (int how = 0; how < 2; ++how) {
      const Ref next = random_ref(kind, nv, nh, 90 + how, 0.3, 0.5, sigma);
      plain.set_params(next.flat());
      if (how == 0) {
        packed.set_params(next.flat());
      } else {
        const auto flat = next.flat();
        auto h = Kokkos::create_mirror_view(packed.theta());
        for (std::size_t k = 0; k < flat.size(); ++k) h(k) = Real(flat[k]);
        Kokkos::deep_copy(packed.theta(), h);
        packed.params_updated();
      }
      close(products(plain), products(packed), name + (how == 0 ? ": after set_params" : ": after params_updated"));
    }
  }
}

}  // namespace
}  // namespace zeta
