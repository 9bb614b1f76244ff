#include "zeta/data/synthetic.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "zeta/core/error.hpp"
#include "zeta/rng/philox.hpp"

namespace zeta::data {

namespace {

constexpr double kPi = 3.14159265358979323846;

//! A uniform in (0, 1) with 53 random bits from two Philox words (never 0 or 1).
double unit(std::uint32_t a, std::uint32_t b) {
  const std::uint64_t bits = ((std::uint64_t(a) << 21) ^ (b >> 11)) & ((std::uint64_t(1) << 53) - 1);
  return (double(bits) + 0.5) * 0x1p-53;
}

//! ln(e^{−z} I0(z)) for z ≥ 0: the Bessel function itself up to z = 500 (I0(500)
//! ≈ 1e215 is still a double), beyond that the asymptotic series
//! e^{−z} I0(z) = (2πz)^{−½} Σ_k a_k, a_k = a_{k−1} (2k − 1)² / (8kz), whose sixth
//! term is below 1e-16 there.
double log_i0e(double z) {
  if (z < 500) return std::log(std::cyl_bessel_i(0.0, z)) - z;
  double term = 1, sum = 1;
  for (int k = 1; k <= 6; ++k) {
    term *= double((2 * k - 1) * (2 * k - 1)) / (8.0 * k * z);
    sum += term;
  }
  return std::log(sum) - 0.5 * std::log(2 * kPi * z);
}

//! ln Σ_k e^{t_k}.
template <std::size_t K>
double log_sum_exp(const double (&t)[K]) {
  const double m = *std::max_element(t, t + K);
  if (m == -std::numeric_limits<double>::infinity()) return m;
  double s = 0;
  for (double v : t) s += std::exp(v - m);
  return m + std::log(s);
}

}  // namespace

void synthetic_point(const SyntheticSpec& s, std::uint32_t seed, int split, std::int64_t index, double xy[2]) {
  const rng::Stream st(seed, std::uint64_t(index), std::uint64_t(split), rng::kSynthetic);
  const auto b0 = st.block(0), b1 = st.block(1);
  const double u0 = unit(b0[0], b0[1]), u1 = unit(b0[2], b0[3]);
  const double u2 = unit(b1[0], b1[1]), u3 = unit(b1[2], b1[3]);
  const double rho = std::sqrt(-2 * std::log(u2));
  const double z0 = rho * std::cos(2 * kPi * u3), z1 = rho * std::sin(2 * kPi * u3);
  const double r = s.radius, sigma = s.noise;
  switch (s.shape) {
    case SyntheticShape::ring8: {
      const double phi = kPi / 4 * std::floor(8 * u0);
      xy[0] = r * std::cos(phi) + sigma * z0;
      xy[1] = r * std::sin(phi) + sigma * z1;
      return;
    }
    case SyntheticShape::moons: {
      const double sign = u0 < 0.5 ? 1 : -1, t = kPi * u1;
      xy[0] = sign * r * (std::cos(t) - 0.5) + sigma * z0;
      xy[1] = sign * r * (std::sin(t) - 0.25) + sigma * z1;
      return;
    }
    case SyntheticShape::rings: {
      const double R = r * (std::floor(4 * u0) + 1) / 4, phi = 2 * kPi * u1;
      xy[0] = R * std::cos(phi) + sigma * z0;
      xy[1] = R * std::sin(phi) + sigma * z1;
      return;
    }
    case SyntheticShape::checkerboard: {
      const double a = 4 * u0 - 2, col = std::floor(a);
      const double shift = col == -1 || col == 1 ? 1 : 0;  // ⌊a⌋ mod 2, ⌊a⌋ ∈ {−2, −1, 0, 1}
      const double v = u2 - 2 * std::floor(2 * u1) + shift;
      xy[0] = r / 2 * a;
      xy[1] = r / 2 * v;
      return;
    }
  }
}

bool has_log_density(SyntheticShape shape) {
  return shape != SyntheticShape::moons;
}

double synthetic_log_density(const SyntheticSpec& s, double x, double y) {
  const double r = s.radius, var = s.noise * s.noise;
  switch (s.shape) {
    case SyntheticShape::ring8: {
      double t[8];
      for (int k = 0; k < 8; ++k) {
        const double dx = x - r * std::cos(kPi / 4 * k), dy = y - r * std::sin(kPi / 4 * k);
        t[k] = -(dx * dx + dy * dy) / (2 * var);
      }
      return -std::log(8.0) - std::log(2 * kPi * var) + log_sum_exp(t);
    }
    case SyntheticShape::rings: {
      const double rho = std::hypot(x, y);
      double t[4];
      for (int k = 0; k < 4; ++k) {
        const double R = r * (k + 1) / 4, d = rho - R;
        t[k] = -d * d / (2 * var) + log_i0e(rho * R / var);
      }
      return -std::log(4.0) - std::log(2 * kPi * var) + log_sum_exp(t);
    }
    case SyntheticShape::checkerboard: {
      const double a = x / (r / 2), v = y / (r / 2);
      const bool inside = a >= -2 && a < 2 && v >= -2 && v < 2 &&
                          (static_cast<long>(std::floor(a)) + static_cast<long>(std::floor(v))) % 2 == 0;
      return inside ? -std::log(2 * r * r) : -std::numeric_limits<double>::infinity();
    }
    case SyntheticShape::moons: break;
  }
  config_error("data.shape",
               "moons has no closed-form density (synthetic_log_density knows ring8, rings and "
               "checkerboard)");
}

}  // namespace zeta::data
