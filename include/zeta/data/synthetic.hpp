//! Synthetic 2-D data sets (data.type = synthetic), the toy densities of the EBM
//! and normalising-flow literature, and their exact log densities where those
//! have a closed form, to compare a trained model's held-out NLL with the truth.
//!
//! Point i of split s (0 training, 1 held-out) is a pure function of (seed, s, i):
//! Philox Stream(seed, chain = i, step = s, kSynthetic). Block 0 gives uniforms
//! u0 (words 0, 1) and u1 (words 2, 3), block 1 gives u2 and u3, each with 53
//! random bits in (0, 1); z = (ρ cos 2πu3, ρ sin 2πu3), ρ = √(−2 ln u2), is a
//! pair of standard normals. With r = data.radius and σ = data.noise:
//!   ring8         k = ⌊8 u0⌋, x = r (cos πk/4, sin πk/4) + σ z: eight isotropic
//!                 Gaussians of equal weight on a circle of radius r.
//!   moons         t = π u1, x = ±r (cos t − ½, sin t − ¼) + σ z, the sign from
//!                 ⌊2 u0⌋: scikit-learn's make_moons scaled by r and centred on
//!                 its mean (the second moon is the first turned by 180°).
//!   rings         k = ⌊4 u0⌋, φ = 2π u1, x = r (k + 1)/4 (cos φ, sin φ) + σ z:
//!                 four concentric rings of equal weight (FFJORD's "rings").
//!   checkerboard  a = 4 u0 − 2, b = ⌊2 u1⌋, v = u2 − 2b + (⌊a⌋ mod 2),
//!                 x = (r/2)(a, v): uniform on the 8 squares (i + j even) of a
//!                 4 × 4 board of side r/2 covering [−r, r)² (FFJORD's
//!                 "checkerboard"); σ is not used.
//! Everything is computed in double and rounded to Real once, so the points do
//! not depend on the rank count, and float and double builds differ only by
//! that rounding.
#pragma once
#include <cstdint>
#include <string>

namespace zeta::data {

enum class SyntheticShape { ring8, moons, checkerboard, rings };

//! The data.shape, data.examples, data.heldout_examples, data.noise and data.radius settings.
struct SyntheticSpec {
  SyntheticShape shape = SyntheticShape::ring8;
  std::string shape_name = "ring8";
  std::int64_t examples = 10000;         //!< training examples
  std::int64_t heldout_examples = 2000;  //!< held-out examples (0: none)
  double noise = 0.1;                    //!< σ of the Gaussian noise, in data units
  double radius = 2;                     //!< r: the overall scale of the shape
};

//! Example `index` of split `split` (0 training, 1 held-out): xy[0], xy[1].
void synthetic_point(const SyntheticSpec& s, std::uint32_t seed, int split, std::int64_t index, double xy[2]);

//! Whether synthetic_log_density knows the shape's density (all but moons, whose
//! noisy arcs have none in closed form).
bool has_log_density(SyntheticShape shape);

//! ln p(x, y) of the distribution the points are drawn from:
//!   ring8         −ln 8 − ln 2πσ² + ln Σ_k exp(−|x − μ_k|² / 2σ²)
//!   rings         −ln 4 − ln 2πσ² + ln Σ_k exp(−(ρ − R_k)² / 2σ²) I0e(ρ R_k / σ²),
//!                 ρ = |x|, I0e(z) = e^{−z} I0(z) (a uniform angle smoothed by σ)
//!   checkerboard  −ln 2r² on the filled squares, −∞ elsewhere
//! Throws zeta::Error naming data.shape for moons.
double synthetic_log_density(const SyntheticSpec& s, double x, double y);

}  // namespace zeta::data
