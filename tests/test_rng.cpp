//! Counter-based RNG: a pure function of (seed, chain, step, purpose), with the right moments.
#include <gtest/gtest.h>

#include <cmath>

#include "zeta/rng/philox.hpp"

namespace zeta {
namespace {

TEST(Rng, PureFunctionOfKeyAndCounter) {
  const rng::Stream a(3, 17, 5, rng::kNoise), b(3, 17, 5, rng::kNoise);
  EXPECT_EQ(a.uniform(0), b.uniform(0));
  EXPECT_NE(a.uniform(0), rng::Stream(3, 18, 5, rng::kNoise).uniform(0));
  EXPECT_NE(a.uniform(0), rng::Stream(3, 17, 6, rng::kNoise).uniform(0));
  EXPECT_NE(a.uniform(0), rng::Stream(3, 17, 5, rng::kAccept).uniform(0));
  EXPECT_NE(a.uniform(0), rng::Stream(4, 17, 5, rng::kNoise).uniform(0));
  EXPECT_NE(a.uniform(0), rng::Stream(3, 17 + (std::uint64_t(1) << 32), 5, rng::kNoise).uniform(0));
}

TEST(Rng, NormalMoments) {
  // 2e5 normals from many (chain, step) streams: mean 0, variance 1, kurtosis 3 (4 sigma bounds).
  const int n_streams = 20000, per = 10;
  double s1 = 0, s2 = 0, s4 = 0;
  long n = 0;
  for (int c = 0; c < n_streams; ++c) {
    rng::Stream(1, c, 1, rng::kNoise).normals(per, [&](int, Real z) {
      s1 += z;
      s2 += double(z) * z;
      s4 += double(z) * z * z * z;
      ++n;
    });
  }
  const double m = s1 / n, v = s2 / n, k = s4 / n;
  EXPECT_LT(std::abs(m), 4 / std::sqrt(double(n)));
  EXPECT_LT(std::abs(v - 1), 4 * std::sqrt(2.0 / n));
  EXPECT_LT(std::abs(k - 3), 4 * std::sqrt(96.0 / n));
}

TEST(Rng, LaneParallelPhiloxMatchesRandom123) {
  // normals_lanes re-implements Philox4x32-10 in vectorizable lanes; it must give
  // Random123's blocks. Any wrong bit changes a normal completely; the Box-Muller
  // arithmetic itself may contract into FMAs differently when vectorized (an ulp).
  constexpr int L = 8;
  std::uint64_t chain[L];
  std::uint32_t blk[L];
  for (int l = 0; l < L; ++l) {
    chain[l] = 1000 + 37 * l + (l == 3 ? (std::uint64_t(5) << 32) : 0);
    blk[l] = static_cast<std::uint32_t>(l * 11);
  }
  float z[4][L];
  rng::normals_lanes<L>(12345, 678, rng::kNoise, chain, blk, z);
  for (int l = 0; l < L; ++l) {
    const auto r = rng::Stream(12345, chain[l], 678, rng::kNoise).block(blk[l]);
    float w[4];
    rng::box_muller4(r[0], r[1], r[2], r[3], w[0], w[1], w[2], w[3]);
    for (int q = 0; q < 4; ++q) EXPECT_NEAR(z[q][l], w[q], 1e-6 * (1 + std::abs(w[q]))) << "lane " << l << " q " << q;
  }
}

TEST(Rng, UniformInOpenInterval) {
  double s = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const double u = rng::Stream(9, i, 0, rng::kAccept).uniform();
    ASSERT_GT(u, 0.0);
    ASSERT_LT(u, 1.0);
    s += u;
  }
  EXPECT_LT(std::abs(s / n - 0.5), 4 * std::sqrt(1.0 / 12 / n));
}

}  // namespace
}  // namespace zeta
