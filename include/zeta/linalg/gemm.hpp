//! GEMM dispatch on row-major (LayoutRight) matrices: C = α op(A) op(B) + β C.
//! Host memory → OpenBLAS cblas; device memory, or host memory in the generic-kernel
//! build (ZETA_HOST_KERNELS off, double) → KokkosBlas.
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

//! Whether KokkosKernels instantiates Real (Trilinos 13.2's: double only).
#if defined(ZETA_HAVE_KOKKOSKERNELS) && \
    ((ZETA_REAL_IS_FLOAT && defined(KOKKOSKERNELS_INST_FLOAT)) || (!ZETA_REAL_IS_FLOAT && defined(KOKKOSKERNELS_INST_DOUBLE)))
inline constexpr bool kKokkosBlasReal = true;
#else
inline constexpr bool kKokkosBlasReal = false;
#endif

//! Whether gemm on Space calls KokkosBlas: always on device memory, and on host memory
//! in the generic-kernel build (ZETA_HOST_KERNELS off) where KokkosKernels has Real;
//! otherwise OpenBLAS' cblas.
template <class Space>
inline constexpr bool kKokkosBlasGemm =
    !Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename Space::memory_space>::accessible ||
    (!ZETA_HOST_KERNELS && kKokkosBlasReal);

//! C ← β C (0 when β = 0, as BLAS: C may hold NaN).
template <class Space, class CV>
void scale(Real beta, const CV& c) {
  const int n = static_cast<int>(c.extent(1));
  Kokkos::parallel_for(
      "zeta::gemm::scale", RangePolicy<Space>(0, std::int64_t(c.extent(0)) * n), KOKKOS_LAMBDA(const std::int64_t q) {
        const int i = static_cast<int>(q / n), j = static_cast<int>(q % n);
        c(i, j) = beta == Real(0) ? Real(0) : beta * c(i, j);
      });
}

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
  if constexpr (!kKokkosBlasGemm<Space>) {
    Space().fence();
    host_gemm(trans_a, trans_b, m, n, k, alpha, a.data(), static_cast<int>(a.stride(0)), b.data(),
              static_cast<int>(b.stride(0)), beta, c.data(), static_cast<int>(c.stride(0)));
  } else {
#if defined(ZETA_HAVE_KOKKOSKERNELS)
    if (k == 0) return scale<Space>(beta, c);  // KokkosBlas returns on an empty product without C ← β C
    KokkosBlas::gemm(trans_a ? "T" : "N", trans_b ? "T" : "N", alpha, a, b, beta, c);
#else
    static_assert(sizeof(Space) == 0, "device GEMM needs KokkosKernels");
#endif
  }
}

}  // namespace zeta::linalg
