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

//! Whether kernels on Space take their host-specialised forms (AVX2 intrinsics, packed
//! and binary GEMMs, cblas, wide runs per work item): Space reaches host memory and the
//! build keeps them (CMake ZETA_HOST_KERNELS, on by default). Off, a host space runs the
//! generic forms that a GPU runs, so that the tests exercise them.
template <class Space>
inline constexpr bool kHostKernels =
    ZETA_HOST_KERNELS && Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename Space::memory_space>::accessible;

//! One value per chain, or one value for all: the β and weight arguments of
//! batched model functions (RBM, MLP) take either a per-chain View (Chains::beta)
//! or a number.
template <class Space>
class PerChain {
 public:
  PerChain(double all) : all_(Real(all)), per_chain_(false) {}            // NOLINT: implicit by design
  PerChain(const Vector<Space>& v) : v_(v), all_(0), per_chain_(true) {}  // NOLINT
  KOKKOS_INLINE_FUNCTION Real operator()(int c) const { return per_chain_ ? v_(c) : all_; }
  bool per_chain() const { return per_chain_; }
  Real all() const { return all_; }
  //! How many chains a per-chain View covers (0 for one number).
  std::size_t size() const { return per_chain_ ? v_.extent(0) : 0; }

 private:
  Vector<Space> v_;
  Real all_;
  bool per_chain_;
};

//! The values of a contiguous device view (any rank) as host doubles.
template <class View>
std::vector<double> host_copy(const View& d) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), d);
  return std::vector<double>(h.data(), h.data() + h.size());
}

}  // namespace zeta
