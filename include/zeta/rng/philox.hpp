//! Counter-based randomness: Random123 Philox4x32-10 keyed by (seed, global
//! chain id), counter (step, purpose, block). A chain's random numbers are a
//! pure function of these, so results do not depend on the rank count and a
//! checkpoint needs only the step.
#pragma once
#include <Kokkos_Core.hpp>
#include <Random123/philox.h>

#include <cstdint>

#include "zeta/core/math.hpp"
#include "zeta/core/types.hpp"

namespace zeta::rng {

//! What the numbers are for; distinct purposes never share a counter.
enum Purpose : std::uint32_t {
  kInit = 1,      //!< initial chain states
  kNoise = 2,     //!< Langevin / MALA proposal noise
  kAccept = 3,    //!< Metropolis accept/reject uniforms
  kMomentum = 4,  //!< HMC momenta
};

class Stream {
 public:
  using Gen = r123::Philox4x32;

  KOKKOS_INLINE_FUNCTION Stream(std::uint32_t seed, std::uint64_t chain, std::uint64_t step, Purpose purpose) {
    key_[0] = static_cast<std::uint32_t>(chain);
    key_[1] = seed;
    ctr_[0] = 0;
    ctr_[1] = static_cast<std::uint32_t>(purpose) | (static_cast<std::uint32_t>(chain >> 32) << 8);
    ctr_[2] = static_cast<std::uint32_t>(step);
    ctr_[3] = static_cast<std::uint32_t>(step >> 32);
  }

  KOKKOS_INLINE_FUNCTION Gen::ctr_type block(std::uint32_t b) const {
    Gen::ctr_type c = ctr_;
    c[0] = b;
    return Gen()(c, key_);
  }

  //! A uniform double in (0, 1) with 53 random bits, from block b.
  KOKKOS_INLINE_FUNCTION double uniform(std::uint32_t b = 0) const {
    const auto r = block(b);
    return u53(r[0], r[1]);
  }

  //! Calls sink(i, z) with n standard normals z (Box-Muller). Real is float:
  //! four normals per Philox block; double: two, each from 53-bit uniforms.
  template <class Sink>
  KOKKOS_INLINE_FUNCTION void normals(int n, Sink&& sink) const {
    constexpr Real two_pi = Real(6.283185307179586);
    if constexpr (sizeof(Real) == sizeof(float)) {
      for (int b = 0; 4 * b < n; ++b) {
        const auto r = block(static_cast<std::uint32_t>(b));
        for (int p = 0; p < 2; ++p) {
          const float u1 = (float(r[2 * p] >> 8) + 0.5f) * 5.9604645e-08f;  // (0,1), 24 bits
          const float u2 = float(r[2 * p + 1] >> 8) * 5.9604645e-08f;
          const float rad = kmath::sqrt(-2.0f * kmath::log(u1));
          const int i = 4 * b + 2 * p;
          if (i < n) sink(i, rad * kmath::cos(two_pi * u2));
          if (i + 1 < n) sink(i + 1, rad * kmath::sin(two_pi * u2));
        }
      }
    } else {
      for (int b = 0; 2 * b < n; ++b) {
        const auto r = block(static_cast<std::uint32_t>(b));
        const double u1 = u53(r[0], r[1]);
        const double u2 = u53(r[2], r[3]);
        const double rad = kmath::sqrt(-2.0 * kmath::log(u1));
        sink(2 * b, Real(rad * kmath::cos(two_pi * u2)));
        if (2 * b + 1 < n) sink(2 * b + 1, Real(rad * kmath::sin(two_pi * u2)));
      }
    }
  }

 private:
  KOKKOS_INLINE_FUNCTION static double u53(std::uint32_t a, std::uint32_t b) {
    const std::uint64_t bits = (static_cast<std::uint64_t>(a) << 21) ^ (b >> 11);
    return (double(bits & ((std::uint64_t(1) << 53) - 1)) + 0.5) * 1.1102230246251565e-16;
  }

  Gen::key_type key_;
  Gen::ctr_type ctr_;
};

}  // namespace zeta::rng
