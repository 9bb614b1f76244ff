//! Branch-free float math for hot elementwise loops: plain arithmetic and
//! selects, so GCC/Clang vectorize the loops that call it (libm calls and
//! std::sqrt under the default -fmath-errno do not vectorize), and the same
//! code runs on GPUs. Accuracy ~1 ulp on the stated domains.
#pragma once
#include <Kokkos_Core.hpp>
#include <cstdint>
#include <cstring>

namespace zeta::vmath {

KOKKOS_INLINE_FUNCTION float as_float(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
KOKKOS_INLINE_FUNCTION std::uint32_t as_uint(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

//! c ? a : b as a bit select. GCC 12 turns a floating-point select in a lane
//! loop into a branch (threading a constant operand through the arithmetic that
//! follows, or an operation that "could trap" into the arms) and then vectorizes
//! none of the loop on AVX2 (AVX-512's mask registers hid it).
KOKKOS_INLINE_FUNCTION float select(bool c, float a, float b) {
  const std::uint32_t m = 0u - static_cast<std::uint32_t>(c);
  return as_float((as_uint(a) & m) | (as_uint(b) & ~m));
}

//! e^x for x <= 0, clamped at −87.3 (Cephes expf polynomial).
KOKKOS_INLINE_FUNCTION float exp_neg(float x) {
  x = select(x < -87.3f, -87.3f, x);
  // n = round(x / ln 2) by the 1.5·2^23 trick, r = x − n ln 2 in two parts.
  const float shifter = 12582912.0f;
  const float t = x * 1.44269504088896341f + shifter;
  const float n = t - shifter;
  const std::int32_t ni = static_cast<std::int32_t>(as_uint(t) - as_uint(shifter));
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  return y * as_float(static_cast<std::uint32_t>(ni + 127) << 23);
}

KOKKOS_INLINE_FUNCTION double as_double(std::uint64_t u) {
  double d;
  std::memcpy(&d, &u, sizeof d);
  return d;
}
KOKKOS_INLINE_FUNCTION std::uint64_t as_u64(double d) {
  std::uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
}

//! e^x for x ≤ 0 in double, clamped at −700 (so e^{−700} ≈ 1e-304 below it):
//! x = n ln 2 + r, |r| ≤ ln2/2, degree-12 Taylor polynomial (truncation < 2e-16
//! relative), 2^n from the exponent bits. The clamp is a bit select, not a
//! floating-point one: GCC 12 leaves a floating-point select inside a lane loop
//! nest as a branch and then vectorizes none of it (3.8× slower exact RBM ln Z).
KOKKOS_INLINE_FUNCTION double exp_neg(double x) {
  const std::uint64_t low = 0 - static_cast<std::uint64_t>(x < -700.0);
  x = as_double((as_u64(x) & ~low) | (as_u64(-700.0) & low));
  const double shifter = 6755399441055744.0;  // 1.5 · 2^52: t − shifter = round(x / ln 2)
  const double t = x * 1.4426950408889634 + shifter;
  const double n = t - shifter;
  const std::int64_t ni = static_cast<std::int64_t>(as_u64(t) - as_u64(shifter));
  double r = x - n * 6.93147180369123816490e-01;  // fdlibm's ln 2 split: n · hi is exact
  r = r - n * 1.90821492927058770002e-10;
  double p = 1.0 / 479001600.0;  // 1/12!
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  return p * as_double(static_cast<std::uint64_t>(ni + 1023) << 52);
}

//! σ(z) = 1 / (1 + e^{−z}) from e^{−|z|}, without overflow.
KOKKOS_INLINE_FUNCTION float sigmoid(float z) {
  const float e = exp_neg(select(z < 0, z, -z));  // e^{−|z|}
  const float inv = 1.0f / (1.0f + e);
  return select(z >= 0, inv, e * inv);
}

//! silu(z) = z s, s = σ(z), its derivative s(1 + z(1 − s)) and its second
//! derivative s(1 − s)(2 + z(1 − 2s)).
KOKKOS_INLINE_FUNCTION void silu2(float z, float& f, float& df, float& d2f) {
  const float s = sigmoid(z);
  f = z * s;
  df = s * (1.0f + z * (1.0f - s));
  d2f = s * (1.0f - s) * (2.0f + z * (1.0f - 2.0f * s));
}

//! silu and its derivative (silu2 without the second derivative, which inlining drops).
KOKKOS_INLINE_FUNCTION void silu(float z, float& f, float& df) {
  float d2f;
  silu2(z, f, df, d2f);
}

//! √y for normal floats y > 0: bit-trick estimate, three Newton steps on 1/√y.
KOKKOS_INLINE_FUNCTION float sqrt_pos(float y) {
  float r = as_float(0x5f375a86u - (as_uint(y) >> 1));
  const float h = 0.5f * y;
  r = r * (1.5f - h * r * r);
  r = r * (1.5f - h * r * r);
  r = r * (1.5f - h * r * r);
  return y * r;
}

//! ln(u) for normal floats u in (0, 1] (Cephes logf).
KOKKOS_INLINE_FUNCTION float log01(float u) {
  const std::uint32_t bits = as_uint(u);
  const std::int32_t e = static_cast<std::int32_t>(bits >> 23) - 126;
  float m = as_float((bits & 0x007fffffu) | 0x3f000000u);  // [0.5, 1)
  const bool small = m < 0.707106781186547524f;
  const float fe = static_cast<float>(e - (small ? 1 : 0));  // not small ? e − 1 : e (a branch)
  m = select(small, m + m - 1.0f, m - 1.0f);
  const float z = m * m;
  float y = 7.0376836292e-2f;
  y = y * m - 1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f;
  y = y * m - 1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f;
  y = y * m - 1.6668057665e-1f;
  y = y * m + 2.0000714765e-1f;
  y = y * m - 2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = y * m * z;
  y += fe * -2.12194440e-4f;
  y += -0.5f * z;
  return m + y + fe * 0.693359375f;
}

//! sin and cos of 2π u for u in [0, 1) with at most 24 fraction bits (exact 4u).
KOKKOS_INLINE_FUNCTION void sincos_2pi(float u, float& s, float& c) {
  const float q = 4.0f * u;
  const float shifter = 12582912.0f;
  const float t = q + shifter;
  const float k = t - shifter;  // nearest quadrant, 0 … 4
  const std::uint32_t ki = as_uint(t) - as_uint(shifter);
  const float a = (q - k) * 1.57079632679489662f;  // [−π/4, π/4]
  const float z = a * a;
  const float sa = a + a * z * ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f);
  const float ca =
      1.0f - 0.5f * z + z * z * ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z + 4.166664568298827e-2f);
  const bool swap = ki & 1u;
  const float s1 = swap ? ca : sa, c1 = swap ? sa : ca;
  s = (ki & 2u) ? -s1 : s1;
  c = ((ki + 1u) & 2u) ? -c1 : c1;
}

}  // namespace zeta::vmath
