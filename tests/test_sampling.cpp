//! Statistical checks of the samplers against exact answers, with fixed seeds
//! and 4-standard-error tolerances (standard errors from independent chains).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "exact.hpp"
#include "rbm_fixture.hpp"
#include "support.hpp"
#include "apps/apps.hpp"
#include "zeta/io/hdf5.hpp"
#include "zeta/models/factory.hpp"
#include "zeta/samplers/divergence.hpp"

namespace zeta {
namespace {

using test::across_chains;
using test::Space;

constexpr int kDim = 50;
constexpr double kBeta = 2.0;

std::vector<double> anisotropic_sigmas() {
  std::vector<double> s(kDim);
  for (int i = 0; i < kDim; ++i) s[i] = 0.5 + double(i) / (kDim - 1);
  return s;
}

//! ⟨E⟩ = d/(2β) and Cov = diag σ²/β for the 50-D Gaussian at β = 2.
void check_gaussian_50d(const samplers::SamplerSpec& spec, int burn, int steps) {
  const auto sig = anisotropic_sigmas();
  auto model = models::make_gaussian<Space>(kDim, {0.0}, sig);
  // Observables: E, then x_i x_j for i <= j.
  const int npairs = kDim * (kDim + 1) / 2;
  auto avg = test::chain_averages(model, spec, burn, steps, 5, 2024, 1 + npairs,
                                  [&](const double* x, double E, double* out) {
                                    out[0] = E;
                                    int k = 1;
                                    for (int i = 0; i < kDim; ++i)
                                      for (int j = i; j < kDim; ++j) out[k++] = x[i] * x[j];
                                  });
  const auto e = across_chains(avg, 0);
  const double exact = kDim / (2 * kBeta);
  EXPECT_LT(std::abs(e.mean - exact), 4 * e.se) << spec.name << ": <E> = " << e.mean << " +- " << e.se;
  EXPECT_LT(e.se, 0.02 * exact) << "too few samples for a meaningful check";
  // Variances one by one; off-diagonal covariances (exactly 0) by their chi-square.
  double chi2 = 0;
  int k = 1, noff = 0;
  for (int i = 0; i < kDim; ++i)
    for (int j = i; j < kDim; ++j, ++k) {
      const auto c = across_chains(avg, k);
      if (i == j) {
        const double want = sig[i] * sig[i] / kBeta;
        EXPECT_LT(std::abs(c.mean - want), 4 * c.se) << spec.name << ": var x_" << i << " = " << c.mean << " +- "
                                                     << c.se << ", want " << want;
      } else {
        chi2 += (c.mean / c.se) * (c.mean / c.se);
        ++noff;
      }
    }
  // chi-square with noff degrees of freedom: mean noff, sd sqrt(2 noff).
  EXPECT_LT(std::abs(chi2 - noff), 4 * std::sqrt(2.0 * noff)) << spec.name << ": off-diagonal chi2 " << chi2;
}

TEST(Gaussian50D, MalaReproducesEnergyAndCovariance) {
  check_gaussian_50d(test::make_spec(samplers::SamplerType::mala, 256, 0.04, kBeta), 300, 2000);
}

TEST(Gaussian50D, HmcReproducesEnergyAndCovariance) {
  check_gaussian_50d(test::make_spec(samplers::SamplerType::hmc, 256, 0.15, kBeta, 8), 100, 600);
}

TEST(Gaussian50D, AcceptanceIsNotTrivial) {
  // A sampler that accepts everything or nothing would pass nothing above,
  // but check the tuned step sizes sit in a sensible range too.
  const auto s = test::make_spec(samplers::SamplerType::mala, 64, 0.04, kBeta);
  auto model = models::make_gaussian<Space>(kDim, {0.0}, anisotropic_sigmas());
  parallel::ChainRange r{64, 0, 64};
  samplers::Chains<Space> ch(r, kDim, kBeta);
  ch.initialize(model, 5, 1.0);
  for (int t = 1; t <= 200; ++t) samplers::sampler_step(model, ch, s, 5, t);
  auto acc = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ch.accepted);
  double a = 0;
  for (int c = 0; c < 64; ++c) a += acc(c);
  a /= 64 * 200.0;
  EXPECT_GT(a, 0.5);
  EXPECT_LT(a, 0.99);
}

//! ULA on N(0, 1) in d dimensions at β = 1: x' = (1 − ε/2) x + √ε z has stationary
//! variance 1 / (1 − ε/4), so ⟨E⟩ = (d/2) / (1 − ε/4): the bias shrinks with ε.
TEST(Gaussian50D, LangevinBiasShrinksWithStepSize) {
  auto model = models::make_gaussian<Space>(kDim, {0.0}, {1.0});
  double previous_bias = INFINITY;
  for (double eps : {0.4, 0.2, 0.1}) {
    const auto s = test::make_spec(samplers::SamplerType::langevin, 256, eps);
    auto avg = test::chain_averages(model, s, int(20 / eps), int(400 / eps), 2, 77, 1,
                                    [](const double*, double E, double* out) { out[0] = E; });
    const auto e = across_chains(avg, 0);
    const double exact = kDim / 2.0, ula = exact / (1 - eps / 4);
    EXPECT_LT(std::abs(e.mean - ula), 4 * e.se) << "eps " << eps << ": " << e.mean << " +- " << e.se;
    const double bias = e.mean - exact;
    EXPECT_GT(bias, 4 * e.se) << "eps " << eps << ": the bias should be resolved";
    EXPECT_LT(bias, previous_bias) << "eps " << eps;
    previous_bias = bias;
  }
}

//! `zeta sample`'s mean_energy_stderr and tau_int (batch means of doubling blocks,
//! estimators/timeseries.hpp) against the exact values: ULA on N(0, 1) in d = 4 at
//! ε = 0.2 moves each coordinate as AR(1) with φ = 1 − ε/2 and stationary variance
//! s² = 1/(1 − ε/4), so E = |x|²/2 has var(E) = d s⁴/2 and autocorrelation φ^2k:
//! g = 2 τ_int = (1 + φ²)/(1 − φ²) and SE² = var(E) g / (chains · steps). Averaged
//! over 32 seeds, SE²/exact and τ_int/exact are 1 within 4 sd (one run's SE² from
//! 20 batch means has relative sd √(2/19); over 32 runs 5.7%, so 0.23).
TEST(SampleGaussian, StandardErrorMatchesTheExactVarianceOfTheMean) {
  const int d = 4, chains = 32, runs = 32, steps = 4096, burn = 100;
  const double eps = 0.2, phi = 1 - eps / 2, s2 = 1 / (1 - eps / 4);
  const double var_e = d * s2 * s2 / 2, g = (1 + phi * phi) / (1 - phi * phi);
  const double exact_se2 = var_e * g / (double(chains) * steps);
  parallel::Comm self(MPI_COMM_SELF);
  double se2 = 0, tau = 0;
  for (int seed = 1; seed <= runs; ++seed) {
    Config cfg;
    apps::declare_sample_keys(cfg);
    cfg.parse_text("[model]\ntype = gaussian\ndim = 4\n[sampler]\ntype = langevin\nstep_size = 0.2\nchains = 32\n",
                   {"--run.seed=" + std::to_string(seed), "--run.steps=" + std::to_string(steps + burn),
                    "--run.burn_in=" + std::to_string(burn), "--output.file=", "--run.progress_every=0"});
    const auto r = apps::sample(cfg, self);
    ASSERT_EQ(r.status, "ok");
    se2 += r.mean_energy_stderr * r.mean_energy_stderr / runs;
    tau += r.tau_int / runs;
  }
  const double tol = 4 * std::sqrt(2.0 / 19 / runs);
  EXPECT_NEAR(se2 / exact_se2, 1.0, tol) << "<SE^2> " << se2 << ", exact " << exact_se2;
  EXPECT_NEAR(tau / (g / 2), 1.0, tol) << "<tau_int> " << tau << ", exact " << g / 2;
  std::printf("ULA d=%d: <SE^2>/exact %.4f, <tau_int> %.3f (exact %.3f), tolerance %.3f\n", d, se2 / exact_se2, tau,
              g / 2, tol);
}

//! Overlapping 2-D modes: the average responsibility of component k under the
//! mixture is exactly w_k, and P(x_0 > 0) = Σ_k w_k Φ(μ_k0 / σ_k0).
void check_mixture(const samplers::SamplerSpec& spec, int burn, int steps) {
  const std::vector<double> w{0.3, 0.7};
  const std::vector<std::vector<double>> mu{{-1.0, 0.0}, {1.5, 0.5}}, var{{1.0, 1.0}, {0.8, 1.2}};
  auto model = models::make_gmm<Space>(w, mu, var);
  auto avg = test::chain_averages(model, spec, burn, steps, 5, 99, 3, [&](const double* x, double, double* out) {
    // Responsibilities from the exact mixture parameters.
    double lt[2];
    for (int j = 0; j < 2; ++j) {
      double q = 0, lc = std::log(w[j]);
      for (int i = 0; i < 2; ++i) {
        q += (x[i] - mu[j][i]) * (x[i] - mu[j][i]) / var[j][i];
        lc -= 0.5 * std::log(2 * M_PI * var[j][i]);
      }
      lt[j] = lc - 0.5 * q;
    }
    const double m = std::max(lt[0], lt[1]);
    const double s = std::exp(lt[0] - m) + std::exp(lt[1] - m);
    out[0] = std::exp(lt[0] - m) / s;
    out[1] = std::exp(lt[1] - m) / s;
    out[2] = x[0] > 0 ? 1.0 : 0.0;
  });
  for (int j = 0; j < 2; ++j) {
    const auto r = across_chains(avg, j);
    EXPECT_LT(std::abs(r.mean - w[j]), 4 * r.se) << spec.name << ": weight " << j << " = " << r.mean << " +- " << r.se;
    EXPECT_LT(r.se, 0.01);
  }
  double p_right = 0;
  for (int j = 0; j < 2; ++j) p_right += w[j] * 0.5 * std::erfc(-mu[j][0] / std::sqrt(var[j][0]) / std::sqrt(2.0));
  const auto pr = across_chains(avg, 2);
  EXPECT_LT(std::abs(pr.mean - p_right), 4 * pr.se) << spec.name << ": P(x0>0) = " << pr.mean << " +- " << pr.se;
}

TEST(Mixture2D, MalaRecoversModeWeights) {
  check_mixture(test::make_spec(samplers::SamplerType::mala, 512, 0.6), 200, 2000);
}

TEST(Mixture2D, HmcRecoversModeWeights) {
  check_mixture(test::make_spec(samplers::SamplerType::hmc, 512, 0.3, 1, 5), 100, 1000);
}

// `zeta sample` with an RBM (block Gibbs, model.params): the visible marginals
// p(v_i = 1) at β = 1 from /samples/x, per-chain averages with the spread across
// chains, and mean_energy = ⟨F(v)⟩, against the enumeration of all 2^10 states.
TEST(SampleRbm, VisibleMarginalsMatchEnumeration) {
  const auto p = test::tiny_rbm();
  io::write_rbm_params("sample_rbm_params.h5", p);
  parallel::Comm self(MPI_COMM_SELF);
  Config cfg;
  apps::declare_sample_keys(cfg);
  cfg.parse_text(R"(
[run]
steps = 3000
burn_in = 100
save_every = 1
[model]
type = rbm
params = sample_rbm_params.h5
[sampler]
type = gibbs
chains = 64
)",
                 {"--output.file=sample_rbm.h5", "--run.progress_every=1000"});
  const auto r = apps::sample(cfg, self);
  EXPECT_EQ(r.status, "ok");
  EXPECT_EQ(r.acceptance, 1.0);
  const auto ex = test::rbm_enumerate(p.W, p.b, p.c, 1.0);
  std::vector<hsize_t> d;
  const auto x = io::read_doubles("sample_rbm.h5", "/samples/x", d);
  ASSERT_EQ(d, (std::vector<hsize_t>{2900, 64, 6}));
  const int saved = static_cast<int>(d[0]), chains = static_cast<int>(d[1]), nv = static_cast<int>(d[2]);
  std::vector<std::vector<double>> avg(chains, std::vector<double>(nv, 0.0));
  for (int s = 0; s < saved; ++s)
    for (int c = 0; c < chains; ++c)
      for (int i = 0; i < nv; ++i) {
        const double v = x[(std::size_t(s) * chains + c) * nv + i];
        ASSERT_TRUE(v == 0.0 || v == 1.0) << v;
        avg[c][i] += v / saved;
      }
  for (int i = 0; i < nv; ++i) {
    const auto e = test::across_chains(avg, i);
    EXPECT_GT(e.se, 0.0);
    EXPECT_LT(e.se, 0.01);
    EXPECT_NEAR(e.mean, ex.p_visible[i], 4 * e.se) << "p(v_" << i << " = 1)";
    std::printf("p(v_%d = 1) = %.5f +- %.5f, exact %.5f (%.2f SE)\n", i, e.mean, e.se, ex.p_visible[i],
                (e.mean - ex.p_visible[i]) / e.se);
  }
  EXPECT_NEAR(r.mean_energy, ex.mean_free_energy, 4 * r.mean_energy_stderr)
      << "<F(v)> = " << r.mean_energy << " +- " << r.mean_energy_stderr << ", exact " << ex.mean_free_energy;
  std::printf("<F(v)> = %.5f +- %.5f, exact %.5f\n", r.mean_energy, r.mean_energy_stderr, ex.mean_free_energy);
  std::remove("sample_rbm.h5");
  std::remove("sample_rbm_params.h5");
}

// `zeta sample` with the Ising model (lattice chains through the same command as
// every other model): 4×4 periodic at β = 0.4 by heat-bath and Metropolis sweeps;
// mean_energy against the enumeration of all 2^16 states within 4 of its batch-means
// standard errors, spins ±1 in /samples/x, and the acceptance per site in (0, 1].
TEST(SampleIsing, MeanEnergyMatchesEnumeration) {
  const double beta = 0.4;
  const auto ex = test::ising_enumerate(4, beta);
  parallel::Comm self(MPI_COMM_SELF);
  for (const char* move : {"heatbath", "metropolis"}) {
    Config cfg;
    apps::declare_sample_keys(cfg);
    cfg.parse_text(R"(
[run]
steps = 4000
burn_in = 200
save_every = 100
[model]
type = ising
L = 4
[sampler]
chains = 32
beta = 0.4
)",
                   {std::string("--sampler.type=") + move, "--output.file=sample_ising.h5",
                    "--run.progress_every=1000"});
    const auto r = apps::sample(cfg, self);
    EXPECT_EQ(r.status, "ok");
    EXPECT_GT(r.mean_energy_stderr, 0.0);
    EXPECT_LT(r.mean_energy_stderr, 0.02 * std::fabs(ex.mean_energy)) << "too few samples for a meaningful check";
    EXPECT_NEAR(r.mean_energy, ex.mean_energy, 4 * r.mean_energy_stderr)
        << move << ": <E> = " << r.mean_energy << " +- " << r.mean_energy_stderr << ", exact " << ex.mean_energy;
    EXPECT_GT(r.acceptance, 0.0);
    EXPECT_LE(r.acceptance, 1.0);
    std::vector<hsize_t> d;
    const auto x = io::read_doubles("sample_ising.h5", "/samples/x", d);
    ASSERT_EQ(d, (std::vector<hsize_t>{38, 32, 16}));
    for (double v : x) ASSERT_TRUE(v == 1.0 || v == -1.0) << v;
    std::printf("%s: <E> = %.4f +- %.4f, exact %.4f, acceptance %.3f\n", move, r.mean_energy, r.mean_energy_stderr,
                ex.mean_energy, r.acceptance);
    std::remove("sample_ising.h5");
  }
}

// `zeta sample` with a Gaussian–Bernoulli RBM (σ = 0.7 for every visible): p(v | h) =
// N(b + W h, σ²) and p(h) ∝ exp(cᵀh + Σ_i ((b + W h)_i² − b_i²) / 2σ²), so the exact
// ⟨v_i⟩ and ⟨v_i²⟩ are sums over the 2^4 hidden states. Per-chain averages, 4 SE.
TEST(SampleRbm, GaussianVisibleMomentsMatchTheHiddenSum) {
  auto p = test::tiny_rbm(11, 5, 4);
  p.kind = models::RbmKind::gaussian;
  for (double& w : p.W) w *= 0.5;
  io::write_rbm_params("sample_grbm_params.h5", p);
  const double sigma = 0.7, s2 = sigma * sigma;
  const int nv = p.visible, nh = p.hidden;
  std::vector<double> logw, m1(nv, 0.0), m2(nv, 0.0);
  std::vector<std::vector<double>> means;
  for (int st = 0; st < (1 << nh); ++st) {
    double t = 0;
    std::vector<double> m(nv);
    for (int j = 0; j < nh; ++j) t += p.c[j] * ((st >> j) & 1);
    for (int i = 0; i < nv; ++i) {
      m[i] = p.b[i];
      for (int j = 0; j < nh; ++j) m[i] += p.W[std::size_t(i) * nh + j] * ((st >> j) & 1);
      t += (m[i] * m[i] - p.b[i] * p.b[i]) / (2 * s2);
    }
    logw.push_back(t);
    means.push_back(m);
  }
  const double top = *std::max_element(logw.begin(), logw.end());
  double z = 0;
  for (double& w : logw) z += (w = std::exp(w - top));
  for (std::size_t st = 0; st < logw.size(); ++st)
    for (int i = 0; i < nv; ++i) {
      m1[i] += logw[st] / z * means[st][i];
      m2[i] += logw[st] / z * (means[st][i] * means[st][i] + s2);
    }
  parallel::Comm self(MPI_COMM_SELF);
  Config cfg;
  apps::declare_sample_keys(cfg);
  cfg.parse_text(R"(
[run]
steps = 2000
burn_in = 100
save_every = 1
[model]
type = rbm
visible = gaussian
sigma = 0.7
params = sample_grbm_params.h5
[sampler]
type = gibbs
chains = 64
)",
                 {"--output.file=sample_grbm.h5", "--run.progress_every=1000"});
  const auto r = apps::sample(cfg, self);
  EXPECT_EQ(r.status, "ok");
  std::vector<hsize_t> d;
  const auto x = io::read_doubles("sample_grbm.h5", "/samples/x", d);
  ASSERT_EQ(d, (std::vector<hsize_t>{1900, 64, hsize_t(nv)}));
  const int saved = static_cast<int>(d[0]), chains = static_cast<int>(d[1]);
  std::vector<std::vector<double>> a1(chains, std::vector<double>(nv, 0.0)), a2 = a1;
  for (int s = 0; s < saved; ++s)
    for (int c = 0; c < chains; ++c)
      for (int i = 0; i < nv; ++i) {
        const double v = x[(std::size_t(s) * chains + c) * nv + i];
        a1[c][i] += v / saved;
        a2[c][i] += v * v / saved;
      }
  for (int i = 0; i < nv; ++i) {
    const auto e1 = test::across_chains(a1, i), e2 = test::across_chains(a2, i);
    EXPECT_NEAR(e1.mean, m1[i], 4 * e1.se) << "<v_" << i << ">";
    EXPECT_NEAR(e2.mean, m2[i], 4 * e2.se) << "<v_" << i << "^2>";
    EXPECT_LT(e1.se, 0.02);
    std::printf("<v_%d> = %.4f +- %.4f (exact %.4f), <v_%d^2> = %.4f +- %.4f (exact %.4f)\n", i, e1.mean, e1.se,
                m1[i], i, e2.mean, e2.se, m2[i]);
  }
  std::remove("sample_grbm.h5");
  std::remove("sample_grbm_params.h5");
}

//! The divergence criterion (samplers/divergence.hpp): NaN or infinite energies, and
//! coordinates NaN, infinite or beyond √(largest Real), diverge; the bound itself does not.
TEST(Divergence, CriterionOnStatesAndEnergies) {
  const Real bound = samplers::divergence_bound();
  EXPECT_TRUE(std::isfinite(bound * bound));
  Matrix<Space> x("x", 3, 2);
  Vector<Space> E("E", 3);
  auto hx = Kokkos::create_mirror_view(x);
  auto hE = Kokkos::create_mirror_view(E);
  auto check = [&](Real x01, Real E2) {
    for (int c = 0; c < 3; ++c) hx(c, 0) = hx(c, 1) = Real(0.5) * c, hE(c) = Real(-1e3) * c;
    hx(0, 1) = x01;
    hE(2) = E2;
    Kokkos::deep_copy(x, hx);
    Kokkos::deep_copy(E, hE);
    return samplers::chains_diverged<Space>(x, E);
  };
  const Real inf = std::numeric_limits<Real>::infinity(), nan = std::numeric_limits<Real>::quiet_NaN();
  EXPECT_FALSE(check(0, 1));
  EXPECT_FALSE(check(bound, -1e30));
  EXPECT_FALSE(check(-bound, 1e30));
  EXPECT_TRUE(check(Real(bound * 1.01), 0));
  EXPECT_TRUE(check(-inf, 0));
  EXPECT_TRUE(check(nan, 0));
  EXPECT_TRUE(check(0, nan));
  EXPECT_TRUE(check(0, -inf));
  // Empty: nothing diverged (a rank without chains).
  EXPECT_FALSE(samplers::chains_diverged<Space>(Matrix<Space>("x", 0, 2), Vector<Space>("E", 0)));
}

}  // namespace
}  // namespace zeta
