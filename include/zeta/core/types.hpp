//! Basic types: the precision-selected Real and View aliases over a memory space.
#pragma once
#include <Kokkos_Core.hpp>
#include <cstdint>
#include <vector>

#include "zeta/config.hpp"

namespace zeta {

#if ZETA_REAL_IS_FLOAT
using Real = float;
#else
using Real = double;
#endif

//! Chain states and gradients: one row per chain, contiguous per chain.
template <class Space>
using Matrix = Kokkos::View<Real**, Kokkos::LayoutRight, typename Space::memory_space>;
template <class Space>
using Vector = Kokkos::View<Real*, typename Space::memory_space>;
template <class Space>
using Counts = Kokkos::View<std::int64_t*, typename Space::memory_space>;

//! Accumulators stay in double whatever Real is.
template <class Space>
using Accum = Kokkos::View<double*, typename Space::memory_space>;

template <class Space>
using RangePolicy = Kokkos::RangePolicy<Space>;

//! The values of a contiguous device view (any rank) as host doubles.
template <class View>
std::vector<double> host_copy(const View& d) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), d);
  return std::vector<double>(h.data(), h.data() + h.size());
}

}  // namespace zeta
