//! Counter-based RNG: a pure function of (seed, chain, step, purpose), with the right moments.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "zeta/rng/philox.hpp"
#include "zeta/samplers/samplers.hpp"

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

TEST(Rng, HostNormalsAreTheStreamsNormals) {
  // 150 normals: 38 blocks, more than one group of 32 lanes, the last block partial.
  const int n = 150;
  std::vector<double> got(n, NAN), want(n, NAN);
  rng::host_normals(9, 1234, 56, rng::kDsmNoise, n, [&](int i, Real z) { got[i] = z; });
  rng::Stream(9, 1234, 56, rng::kDsmNoise).normals(n, [&](int i, Real z) { want[i] = z; });
  for (int i = 0; i < n; ++i) EXPECT_NEAR(got[i], want[i], 1e-6 * (1 + std::abs(want[i]))) << "normal " << i;
}

TEST(Rng, LangevinMoveDrawsEachChainsOwnStream) {
  // langevin_move (float: noise for 32 (chain, block) pairs per work item, then
  // each chain's run of lanes updated in place) against the scalar update with
  // Stream::normals of every chain. Dimensions: blocks per chain below and above
  // the 32 lanes, and one not a multiple of 4; with and without clip and clamp.
  for (const int d : {12, 784, 6})
    for (const bool bounded : {false, true}) {
      const parallel::ChainRange range{40, 5, 7};
      samplers::Chains<Kokkos::DefaultHostExecutionSpace> ch(range, d, 1.0);
      samplers::SamplerSpec s;
      s.step_size = 0.02;
      s.clip_grad = bounded ? 0.5 : 0;
      s.clamp = bounded, s.clamp_min = -1, s.clamp_max = 1.2;
      for (int c = 0; c < range.count; ++c) {
        ch.beta(c) = Real(0.5 + 0.1 * c);
        for (int i = 0; i < d; ++i) {
          ch.x(c, i) = Real(std::sin(0.37 * (c * d + i)));
          ch.g(c, i) = Real(3 * std::cos(0.91 * (c * d + i)));
        }
      }
      Matrix<Kokkos::DefaultHostExecutionSpace> x0("x0", range.count, d);
      Kokkos::deep_copy(x0, ch.x);
      samplers::langevin_move(ch, s, 77, 9);
      const samplers::LangevinUpdate move{Real(0.01), Real(std::sqrt(0.02)), Real(0.5), Real(-1), Real(1.2), bounded,
                                          bounded};
      double worst = 0;
      for (int c = 0; c < range.count; ++c)
        rng::Stream(77, std::uint64_t(range.offset + c), 9, rng::kNoise).normals(d, [&](int i, Real z) {
          worst = std::max(worst, std::abs(double(ch.x(c, i) - move(x0(c, i), ch.g(c, i), ch.beta(c), z))));
        });
      EXPECT_LT(worst, 1e-6) << "d " << d << (bounded ? " with clip and clamp" : "");
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
