//! Compatibility for Kokkos math: 3.x keeps it in Kokkos::Experimental, 4.x in Kokkos.
#pragma once
#include <Kokkos_Core.hpp>

namespace zeta::kmath {
#if KOKKOS_VERSION >= 40000
using Kokkos::cos;
using Kokkos::exp;
using Kokkos::fabs;
using Kokkos::log;
using Kokkos::log1p;
using Kokkos::sin;
using Kokkos::sqrt;
using Kokkos::isfinite;
#else
using Kokkos::Experimental::cos;
using Kokkos::Experimental::exp;
using Kokkos::Experimental::fabs;
using Kokkos::Experimental::log;
using Kokkos::Experimental::log1p;
using Kokkos::Experimental::sin;
using Kokkos::Experimental::sqrt;
using Kokkos::Experimental::isfinite;
#endif

template <class T>
KOKKOS_INLINE_FUNCTION T sigmoid(T x) {
  // Split by sign so exp never overflows.
  if (x >= T(0)) {
    return T(1) / (T(1) + exp(-x));
  }
  const T e = exp(x);
  return e / (T(1) + e);
}

//! log(1 + e^x) without overflow.
template <class T>
KOKKOS_INLINE_FUNCTION T softplus(T x) {
  return x > T(0) ? x + log1p(exp(-x)) : log1p(exp(x));
}

template <class T>
KOKKOS_INLINE_FUNCTION T clamp(T x, T lo, T hi) {
  return x < lo ? lo : (x > hi ? hi : x);
}

}  // namespace zeta::kmath
