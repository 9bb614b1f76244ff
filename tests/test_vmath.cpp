//! The branch-free float math used by the hot kernels against libm in double.
#include <gtest/gtest.h>

#include <cmath>

#include "zeta/core/vmath.hpp"

namespace zeta {
namespace {

// Relative accuracy in units of float epsilon (2^-23 ≈ 1.19e-7).
constexpr double kUlp = 1.1920929e-07;

TEST(Vmath, ExpNeg) {
  for (int i = 0; i <= 20000; ++i) {
    const float x = -87.0f * float(i) / 20000;
    EXPECT_NEAR(vmath::exp_neg(x), std::exp(double(x)), 4 * kUlp * std::exp(double(x))) << x;
  }
}

TEST(Vmath, ExpNegDouble) {
  double worst = 0;
  for (int i = 0; i <= 200000; ++i) {
    const double x = std::max(-700.0, -700.0 * double(i) / 200000 - 1e-3 * (i % 7));
    const double e = std::exp(x);
    worst = std::max(worst, std::fabs(vmath::exp_neg(x) - e) / e);
  }
  EXPECT_LT(worst, 4.5e-16);
  EXPECT_EQ(vmath::exp_neg(0.0), 1.0);
  EXPECT_EQ(vmath::exp_neg(-1e300), vmath::exp_neg(-700.0));  // clamped
  EXPECT_NEAR(vmath::exp_neg(-750.0), std::exp(-700.0), 1e-15 * std::exp(-700.0));
}

TEST(Vmath, SiluAndDerivatives) {
  for (int i = -4000; i <= 4000; ++i) {
    const float z = float(i) / 100;
    float f, df;
    vmath::silu(z, f, df);
    const double s = 1 / (1 + std::exp(-double(z)));
    EXPECT_NEAR(f, z * s, 8 * kUlp * (std::abs(z * s) + 1e-30)) << z;
    EXPECT_NEAR(df, s * (1 + z * (1 - s)), 8 * kUlp * (1 + std::abs(z))) << z;
    float f2, df2, d2f;
    vmath::silu2(z, f2, df2, d2f);
    EXPECT_EQ(f2, f) << z;
    EXPECT_EQ(df2, df) << z;
    // f'' = s (1 − s)(2 + z (1 − 2s)): |f''| ≤ 0.5; the terms' rounding scales with 1 + |z|.
    EXPECT_NEAR(d2f, s * (1 - s) * (2 + z * (1 - 2 * s)), 16 * kUlp * (1 + std::abs(z))) << z;
  }
}

TEST(Vmath, SqrtAndLog) {
  for (int i = 1; i <= 20000; ++i) {
    const float u = float(i) / 20000;
    EXPECT_NEAR(vmath::sqrt_pos(u), std::sqrt(double(u)), 2 * kUlp * std::sqrt(double(u))) << u;
    EXPECT_NEAR(vmath::log01(u), std::log(double(u)), 4 * kUlp * (1 + std::abs(std::log(double(u))))) << u;
  }
  EXPECT_NEAR(vmath::log01(5.9604645e-08f), std::log(5.9604645e-08), 4 * kUlp * 17);
}

TEST(Vmath, SinCos2Pi) {
  for (int i = 0; i < 1 << 14; ++i) {
    const float u = float(i) / (1 << 14);
    float s, c;
    vmath::sincos_2pi(u, s, c);
    EXPECT_NEAR(s, std::sin(2 * M_PI * u), 4 * kUlp) << u;
    EXPECT_NEAR(c, std::cos(2 * M_PI * u), 4 * kUlp) << u;
  }
}

}  // namespace
}  // namespace zeta
