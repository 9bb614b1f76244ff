//! GEMM dispatch on row-major (LayoutRight) matrices: C = α op(A) op(B) + β C.
//! Host memory → OpenBLAS cblas; device memory → KokkosBlas.
#pragma once
#include <Kokkos_Core.hpp>

#include "zeta/core/error.hpp"
#include "zeta/core/types.hpp"
#if defined(ZETA_HAVE_KOKKOSKERNELS)
#include <KokkosBlas3_gemm.hpp>
#endif

namespace zeta::linalg {

//! Row-major host GEMM through cblas (defined in gemm.cpp for float and double).
void host_gemm(bool trans_a, bool trans_b, int m, int n, int k, Real alpha, const Real* a, int lda, const Real* b,
               int ldb, Real beta, Real* c, int ldc);

//! Single-threaded BLAS per rank unless OPENBLAS_NUM_THREADS says otherwise.
void init_blas_threads();

template <class Space, class AV, class BV, class CV>
void gemm(bool trans_a, bool trans_b, Real alpha, const AV& a, const BV& b, Real beta, const CV& c) {
  static_assert(std::is_same_v<typename CV::array_layout, Kokkos::LayoutRight>, "zeta::gemm expects LayoutRight");
  const int m = static_cast<int>(c.extent(0)), n = static_cast<int>(c.extent(1));
  const int k = static_cast<int>(trans_a ? a.extent(0) : a.extent(1));
  if (static_cast<int>(trans_a ? a.extent(1) : a.extent(0)) != m ||
      static_cast<int>(trans_b ? b.extent(1) : b.extent(0)) != k ||
      static_cast<int>(trans_b ? b.extent(0) : b.extent(1)) != n)
    throw Error("internal: gemm shape mismatch", false);
  if (m == 0 || n == 0) return;
  if constexpr (Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename Space::memory_space>::accessible) {
    Space().fence();
    host_gemm(trans_a, trans_b, m, n, k, alpha, a.data(), static_cast<int>(a.stride(0)), b.data(),
              static_cast<int>(b.stride(0)), beta, c.data(), static_cast<int>(c.stride(0)));
  } else {
#if defined(ZETA_HAVE_KOKKOSKERNELS)
    KokkosBlas::gemm(Space(), trans_a ? "T" : "N", trans_b ? "T" : "N", alpha, a, b, beta, c);
#else
    static_assert(sizeof(Space) == 0, "device GEMM needs KokkosKernels");
#endif
  }
}

}  // namespace zeta::linalg
