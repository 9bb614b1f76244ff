//! linalg/binary.hpp: products with a 0/1 factor against the plain triple loop, for
//! widths on and off the vector and pass boundaries, transposed patterns, β ≠ 0, and
//! the refusal of a matrix that is not 0/1. linalg/packed.hpp: every entry of a packed
//! GEMM is the FMA chain over k of its contract, for shapes on and off the tile edges.
//! linalg/blas_threads.hpp: OpenBLAS single-threaded in a rank; host GEMMs split into row
//! blocks (a rank's host threads) keep a double GEMM's bits and a float one's to rounding.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "zeta/linalg/binary.hpp"
#include "zeta/linalg/blas_threads.hpp"
#include "zeta/linalg/gemm.hpp"
#include "zeta/linalg/packed.hpp"
#include "zeta/rng/philox.hpp"

namespace zeta {
namespace {

constexpr double kTol = sizeof(Real) == sizeof(double) ? 1e-12 : 2e-5;

std::vector<Real> ones_matrix(int m, int k, double density, std::uint32_t seed) {
  std::vector<Real> a(std::size_t(m) * k);
  const rng::Stream s(seed, 0, 0, rng::kInit);
  for (std::size_t q = 0; q < a.size(); ++q) a[q] = Real(s.uniform(std::uint32_t(q)) < density ? 1 : 0);
  return a;
}

std::vector<Real> dense(int k, int n, std::uint32_t seed) {
  std::vector<Real> b(std::size_t(k) * n);
  const rng::Stream s(seed, 1, 0, rng::kInit);
  for (std::size_t q = 0; q < b.size(); ++q) b[q] = Real(2 * s.uniform(std::uint32_t(q)) - 1);
  return b;
}

TEST(BlasThreads, OpenBlasIsSingleThreadedInARank) {
  if (std::getenv("OPENBLAS_NUM_THREADS")) GTEST_SKIP() << "OPENBLAS_NUM_THREADS is set";
  EXPECT_EQ(linalg::blas_threads(), 1);
}

TEST(HostGemmRows, TheBlockCountKeepsDoubleBitsAndFloatRounding) {
  // The RBM's CD-1 shapes (a batch of 256 against 784 x 500 weights) and ragged ones, each
  // product form the models use, C's rows in 1 to 5 blocks (an OpenMP rank's threads).
  for (const int m : {256, 255, 61}) {
    const int k = 784, n = 500;
    const auto a = dense(m, k, 11), b = dense(k, n, 12), c0 = dense(m, n, 13);
    for (const bool ta : {false, true})
      for (const bool tb : {false, true}) {
        std::vector<std::vector<Real>> out;
        for (const int parts : {1, 2, 3, 5, 2}) {
          auto c = c0;
          linalg::host_gemm_rows(parts, ta, tb, m, n, k, Real(0.5), a.data(), ta ? m : k, b.data(), tb ? k : n,
                                 Real(0.25), c.data(), n);
          out.push_back(c);
        }
        const std::size_t bytes = out[0].size() * sizeof(Real);
        EXPECT_EQ(std::memcmp(out[1].data(), out[4].data(), bytes), 0) << "2 blocks twice, m " << m;
        for (std::size_t t = 1; t < 4; ++t) {
          if (sizeof(Real) == sizeof(double)) {
            EXPECT_EQ(std::memcmp(out[0].data(), out[t].data(), bytes), 0) << "m " << m << " ta " << ta << " tb " << tb;
          }
          for (std::size_t q = 0; q < out[0].size(); ++q)
            ASSERT_NEAR(out[t][q], out[0][q], kTol * 10 * (1 + std::abs(out[0][q])));
        }
        // and the product itself, on a few entries
        for (const int i : {0, m / 2, m - 1})
          for (const int j : {0, n - 1}) {
            double ref = 0.25 * c0[std::size_t(i) * n + j];
            for (int l = 0; l < k; ++l)
              ref += 0.5 * a[ta ? std::size_t(l) * m + i : std::size_t(i) * k + l] *
                     b[tb ? std::size_t(j) * k + l : std::size_t(l) * n + j];
            EXPECT_NEAR(out[2][std::size_t(i) * n + j], ref, kTol * 100 * (1 + std::abs(ref)));
          }
      }
  }
}

TEST(BinaryGemm, MatchesTheTripleLoop) {
  const int m = 37, k = 301;
  for (int n : {1, 5, 16, 17, 130, 500, 784}) {
    for (bool transpose : {false, true}) {
      // transpose: P = Aᵀ for the stored A (k × m), so P is still m × k.
      const auto a = transpose ? ones_matrix(k, m, 0.3, 7) : ones_matrix(m, k, 0.3, 7);
      const auto b = dense(k, n, 8);
      auto p_of = [&](int r, int c) { return transpose ? a[std::size_t(c) * m + r] : a[std::size_t(r) * k + c]; };
      linalg::BinaryPattern pat;
      ASSERT_TRUE(transpose ? linalg::binary_pattern(a.data(), k, m, m, true, pat)
                            : linalg::binary_pattern(a.data(), m, k, k, false, pat));
      ASSERT_EQ(pat.rows, m);
      ASSERT_EQ(pat.cols, k);
      std::size_t ones = 0;
      for (int r = 0; r < m; ++r)
        for (int c = 0; c < k; ++c) ones += p_of(r, c) == Real(1);
      EXPECT_EQ(pat.ones(), ones);
      std::vector<Real> c(std::size_t(m) * n, Real(0.5));
      const Real alpha = Real(-0.75), beta = Real(2);
      linalg::binary_gemm(pat, n, alpha, b.data(), n, beta, c.data(), n);
      std::vector<Real> c0(std::size_t(m) * n, Real(std::nan("")));  // β = 0 ignores C
      linalg::binary_gemm(pat, n, Real(1), b.data(), n, Real(0), c0.data(), n);
      for (int r = 0; r < m; ++r)
        for (int j = 0; j < n; ++j) {
          double s = 0;
          for (int q = 0; q < k; ++q) s += double(p_of(r, q)) * double(b[std::size_t(q) * n + j]);
          const std::size_t at = std::size_t(r) * n + j;
          ASSERT_NEAR(double(c[at]), double(alpha) * s + 1.0, kTol * (1 + std::fabs(s))) << n << " " << r << " " << j;
          ASSERT_NEAR(double(c0[at]), s, kTol * (1 + std::fabs(s))) << n << " " << r << " " << j;
        }
    }
  }
}

TEST(BinaryGemm, RefusesEntriesOtherThanZeroAndOne) {
  for (int at : {0, 15, 16, 40}) {
    auto a = ones_matrix(3, 41, 0.5, 9);
    a[std::size_t(2) * 41 + at] = Real(0.5);
    linalg::BinaryPattern p;
    EXPECT_FALSE(linalg::binary_pattern(a.data(), 3, 41, 41, false, p)) << at;
    a[std::size_t(2) * 41 + at] = Real(std::nan(""));
    EXPECT_FALSE(linalg::binary_pattern(a.data(), 3, 41, 41, true, p)) << at;
    a[std::size_t(2) * 41 + at] = Real(1);
    EXPECT_TRUE(linalg::binary_pattern(a.data(), 3, 41, 41, false, p)) << at;
  }
}

TEST(BinaryGemm, TransposeCopiesEveryEntry) {
  const int m = 45, n = 70;
  const auto a = dense(m, n, 10);
  std::vector<Real> t(std::size_t(m) * n);
  linalg::transpose(a.data(), m, n, t.data());
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) ASSERT_EQ(t[std::size_t(j) * m + i], a[std::size_t(i) * n + j]);
}

//! C = A B with B = Wᵀ or W packed once: each C(i, j) must equal, bit for bit, the chain
//! acc ← fma(A(i, k), B(k, j), acc) from 0 over k in order (so a row's numbers do not
//! depend on the rows around it), for row counts on and off the 6-row tile (tails of
//! 5-row tiles, or of two 3–6-row tiles), columns on
//! and off the panel, strided A and C whose gaps stay untouched, and both packings
//! (the AVX2 kernel, or on other builds the portable loop).
TEST(PackedGemm, EachEntryIsTheFmaChainOverK) {
  for (int k : {1, 7, 300})
    for (int n : {1, 5, linalg::kPanel, linalg::kPanel + 3, 50})
      for (bool transposed : {false, true}) {
        const int ldw = (transposed ? k : n) + 2;
        const auto w = dense(transposed ? n : k, ldw, 11);
        std::vector<Real> packed(linalg::packed_size(k, n), Real(std::nan("")));
        linalg::pack_b(w.data(), ldw, transposed, k, n, packed.data());
        auto b_of = [&](int r, int j) {
          return transposed ? w[std::size_t(j) * ldw + r] : w[std::size_t(r) * ldw + j];
        };
        for (int m : {1, 5, 6, 7, 13, 25, 29, 40, 128}) {
          const int lda = k + 3, ldc = n + 4;
          const auto a = dense(m, lda, 12);
          const Real sentinel = Real(-7.5);
          std::vector<Real> c(std::size_t(m) * ldc, sentinel);
          linalg::packed_gemm(m, n, k, a.data(), lda, packed.data(), c.data(), ldc);
          for (int i = 0; i < m; ++i) {
            for (int j = 0; j < n; ++j) {
              Real acc = 0;
              for (int r = 0; r < k; ++r) acc = std::fma(a[std::size_t(i) * lda + r], b_of(r, j), acc);
              ASSERT_EQ(c[std::size_t(i) * ldc + j], acc) << "m " << m << " n " << n << " k " << k << " at " << i << ","
                                                          << j << (transposed ? " transposed" : "");
            }
            for (int j = n; j < ldc; ++j) ASSERT_EQ(c[std::size_t(i) * ldc + j], sentinel) << "gap " << i << "," << j;
          }
        }
      }
}

}  // namespace
}  // namespace zeta
