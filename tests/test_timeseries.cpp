//! The one batch-means method (estimators/timeseries.hpp) that zeta sample and
//! zeta temper report standard errors and τ_int by: AR(1) series with a known
//! variance of the mean and τ_int, pooled series against their average, the
//! doubling blocks, and the thinning stride. pymbar.timeseries' statistical
//! inefficiency, equilibration detection and subsampling against Debian's pymbar.
//! (sample's figures on a Gaussian: test_sampling.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "zeta/estimators/timeseries.hpp"

namespace zeta {
namespace {

//! An AR(1) series x' = φ x + √(1 − φ²) z started in equilibrium: variance 1,
//! autocorrelation φ^k, so g = 2 τ_int = (1 + φ) / (1 − φ) and var(mean of n) ≈ g / n.
struct Ar1 {
  double phi, x;
  std::mt19937_64 gen;
  std::normal_distribution<double> z{0.0, 1.0};
  Ar1(double p, std::uint64_t seed) : phi(p), x(0), gen(seed) { x = z(gen); }
  double next() { return x = phi * x + std::sqrt(1 - phi * phi) * z(gen); }
};

// 200 AR(1) series of 2^15 steps at φ = 0.8 (τ_int = 4.5): the average of SE² over
// the series is the exact variance of the mean g/n, and the average τ_int is 4.5,
// each within 4 of its standard deviations (one series' SE² from 20 batch means
// is σ² χ²₁₉/19: relative sd √(2/19), over 200 series √(2/19/200) = 2.3%).
TEST(BatchMeans, Ar1StandardErrorAndTauMatchTheExactValues) {
  const double phi = 0.8, g = (1 + phi) / (1 - phi);
  const int R = 200;
  const std::int64_t n = 1 << 15;
  double se2 = 0, tau = 0;
  for (int r = 0; r < R; ++r) {
    Ar1 a(phi, 1000 + r);
    estimators::BlockSeries s(1);
    for (std::int64_t t = 0; t < n; ++t) {
      const double v = a.next();
      s.add(&v);
    }
    const estimators::BatchStats b = s.batch_stats(0);
    ASSERT_TRUE(std::isfinite(b.std_error) && std::isfinite(b.tau_int));
    se2 += b.std_error * b.std_error / R;
    tau += b.tau_int / R;
  }
  const double exact_se2 = g / double(n), tol = 4 * std::sqrt(2.0 / 19 / R);
  EXPECT_NEAR(se2 / exact_se2, 1.0, tol) << "SE^2 " << se2 << ", exact " << exact_se2;
  EXPECT_NEAR(tau / (g / 2), 1.0, tol) << "tau_int " << tau << ", exact " << g / 2;
  std::printf("AR(1) phi %.1f: <SE^2> / exact %.4f, <tau_int> %.3f (exact %.3f), tolerance %.3f\n", phi,
              se2 / exact_se2, tau, g / 2, tol);
}

// zeta sample's pooling: the block sums of C chains added chain by chain and given
// to batch_means with series = C give the standard error of the chain-averaged
// series (the same batch means, up to rounding), at a length that leaves a partial
// block; τ_int (per value, from the pooled variance) is the average's, whose
// variance is C times smaller: equal within 0.13 (4 sd of the ratio of the two
// variance estimates, about 3% at g = 9 and 10^4 steps).
TEST(BatchMeans, PooledChainsGiveTheStandardErrorOfTheirAverage) {
  const int C = 8;
  const std::int64_t n = 10000;
  std::vector<Ar1> chains;
  for (int c = 0; c < C; ++c) chains.emplace_back(0.8, 7 + c);
  estimators::BlockSeries per_chain(C), average(1);
  std::vector<double> v(C);
  for (std::int64_t t = 0; t < n; ++t) {
    double m = 0;
    for (int c = 0; c < C; ++c) m += (v[c] = chains[c].next()) / C;
    per_chain.add(v.data());
    average.add(&m);
  }
  ASSERT_GT(per_chain.blocking.partial_n, 0) << "the test should leave a partial block";
  const std::size_t nb = per_chain.nblocks();
  std::vector<double> pooled(nb, 0.0);
  double partial = 0, sum = 0, sum2 = 0;
  for (int c = 0; c < C; ++c) {
    for (std::size_t i = 0; i < nb; ++i) pooled[i] += per_chain.blocks[i * C + c];
    partial += per_chain.partial[c], sum += per_chain.sum[c], sum2 += per_chain.sum2[c];
  }
  const double N = double(C) * double(n), mean = sum / N;
  const estimators::BatchStats p =
      estimators::batch_means(pooled.data(), nb, 1, per_chain.blocking.block_len, partial, per_chain.blocking.partial_n,
                              C, mean, sum2 / N - mean * mean);
  const estimators::BatchStats a = average.batch_stats(0);
  EXPECT_NEAR(p.std_error, a.std_error, 1e-12 * a.std_error);
  EXPECT_NEAR(p.tau_int / a.tau_int, 1.0, 0.13) << p.tau_int << " vs " << a.tau_int;
  std::printf("pooled SE %.6g, of the average %.6g; tau_int %.3f, of the average %.3f (exact 4.5)\n",
              p.std_error, a.std_error, p.tau_int, a.tau_int);
}

// The blocks never depend on a planned length: after any number of steps there
// are 64..127 complete blocks (fewer only before the first merge) of a power-of-two
// length that, with the partial block, cover every step; one block gives no error.
TEST(BatchMeans, BlocksDoubleAndCoverEveryStep) {
  estimators::BlockSeries s(1);
  for (std::int64_t t = 1; t <= 100000; ++t) {
    const double v = double(t % 7);
    s.add(&v);
    const auto& b = s.blocking;
    ASSERT_EQ(std::int64_t(b.nblocks) * b.block_len + b.partial_n, t);
    ASSERT_LT(b.partial_n, b.block_len);
    ASSERT_EQ(b.block_len & (b.block_len - 1), 0);
    ASSERT_TRUE(t < 128 ? b.block_len == 1 : b.nblocks >= 64 && b.nblocks < 128) << t;
    ASSERT_EQ(s.blocks.size(), b.nblocks);
    if (t <= 2) {
      EXPECT_EQ(std::isfinite(s.batch_stats(0).std_error), t == 2) << "two blocks give the first error";
    }
  }
}

// Thinning keeps one saved row per statistical inefficiency g = 2 τ_int / save_every.
TEST(BatchMeans, ThinningStrideIsTheInefficiencyRoundedUp) {
  EXPECT_EQ(estimators::statistical_inefficiency(4.5, 3), 3.0);
  EXPECT_EQ(estimators::thinning_stride(4.5, 3), 3);
  EXPECT_EQ(estimators::thinning_stride(4.6, 3), 4);
  EXPECT_EQ(estimators::thinning_stride(0.2, 10), 1);
  EXPECT_EQ(estimators::statistical_inefficiency(NAN, 10), 1.0);
  EXPECT_EQ(estimators::thinning_stride(NAN, 10), 1);
}

// An AR(1) series (φ = 0.9) started far from equilibrium (x_0 = 12, decaying over ~30
// steps): statisticalInefficiency (slow and fast), detectEquilibration (t0, g, N_eff in
// pymbar's float32) and subsampleCorrelatedData agree with pymbar.timeseries.
TEST(PymbarTimeseries, InefficiencyEquilibrationAndSubsamplingMatchPymbar) {
  std::mt19937_64 gen(99);
  std::normal_distribution<double> z;
  std::vector<double> A(1500);
  A[0] = 12;
  for (std::size_t t = 1; t < A.size(); ++t) A[t] = 0.9 * A[t - 1] + std::sqrt(1 - 0.81) * z(gen);
  {
    std::ofstream out("ts_series.txt");
    out.precision(17);
    for (double v : A) out << v << "\n";
  }
  const std::string cmd =
      std::string("/usr/bin/python3 ") + ZETA_TEST_SOURCE_DIR + "/pymbar_reference.py --timeseries ts_series.txt";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string text;
  char buf[4096];
  while (fgets(buf, sizeof buf, p)) text += buf;
  ASSERT_EQ(pclose(p), 0) << "pymbar failed (is python3-pymbar installed?): " << text;
  std::remove("ts_series.txt");
  std::istringstream in(text);
  double g_slow = 0, g_fast = 0, g_eq = 0, neff = 0;
  std::int64_t t0 = -1;
  in >> g_slow >> g_fast >> t0 >> g_eq >> neff;
  std::vector<std::int64_t> idx;
  for (std::int64_t i; in >> i;) idx.push_back(i);
  ASSERT_GT(idx.size(), 10u) << text;
  EXPECT_NEAR(estimators::statistical_inefficiency_of(A.data(), A.size(), false), g_slow, 1e-10 * g_slow);
  EXPECT_NEAR(estimators::statistical_inefficiency_of(A.data(), A.size(), true), g_fast, 1e-10 * g_fast);
  const auto e = estimators::detect_equilibration(A.data(), A.size());
  EXPECT_EQ(e.t0, t0);
  EXPECT_EQ(e.g, g_eq);
  EXPECT_EQ(e.neff, neff);
  EXPECT_GT(t0, 5);  // the transient is cut
  EXPECT_EQ(estimators::subsample_indices(std::int64_t(A.size()), g_slow), idx);
  std::printf("  pymbar: g %.6f (fast %.6f), equilibrated from t0 = %lld with g %.4f, N_eff %.1f; zeta the same\n",
              g_slow, g_fast, (long long)t0, g_eq, neff);
  EXPECT_THROW(estimators::statistical_inefficiency_of(std::vector<double>(50, 1.0).data(), 50), Error);
}

}  // namespace
}  // namespace zeta
