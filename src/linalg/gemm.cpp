#include "zeta/linalg/gemm.hpp"

#include <cblas.h>

#include <algorithm>
#include <cstdlib>

#include "zeta/linalg/blas_threads.hpp"

extern "C" void openblas_set_num_threads(int);
extern "C" int openblas_get_num_threads(void);

namespace zeta::linalg {

namespace {

void cblas_gemm(bool trans_a, bool trans_b, int m, int n, int k, Real alpha, const Real* a, int lda, const Real* b,
                int ldb, Real beta, Real* c, int ldc) {
  const auto ta = trans_a ? CblasTrans : CblasNoTrans;
  const auto tb = trans_b ? CblasTrans : CblasNoTrans;
#if ZETA_REAL_IS_FLOAT
  cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#else
  cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#endif
}

// Below this many multiply-adds a GEMM stays on one thread (OpenBLAS' own threshold).
constexpr double kThreadedMadds = 262144;

}  // namespace

void host_gemm_rows(int parts, bool trans_a, bool trans_b, int m, int n, int k, Real alpha, const Real* a, int lda,
                    const Real* b, int ldb, Real beta, Real* c, int ldc) {
  // Blocks of whole multiples of 16 rows: each row of C is one row of op(A) against op(B).
  const int chunk = std::max(16, ((m + std::max(parts, 1) - 1) / std::max(parts, 1) + 15) / 16 * 16);
  parts = (m + chunk - 1) / chunk;
  if (parts <= 1) {
    cblas_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  Kokkos::parallel_for(
      "zeta::host_gemm_rows", Kokkos::RangePolicy<Kokkos::DefaultHostExecutionSpace>(0, parts), [&](const int p) {
        const int lo = p * chunk, rows = std::min(m, lo + chunk) - lo;
        const Real* ap = trans_a ? a + lo : a + std::size_t(lo) * lda;
        cblas_gemm(trans_a, trans_b, rows, n, k, alpha, ap, lda, b, ldb, beta, c + std::size_t(lo) * ldc, ldc);
      });
  Kokkos::DefaultHostExecutionSpace().fence();
}

void host_gemm(bool trans_a, bool trans_b, int m, int n, int k, Real alpha, const Real* a, int lda, const Real* b,
               int ldb, Real beta, Real* c, int ldc) {
  const int threads = double(m) * n * k < kThreadedMadds ? 1 : Kokkos::DefaultHostExecutionSpace().concurrency();
  host_gemm_rows(threads, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void init_blas_threads() {
  if (!std::getenv("OPENBLAS_NUM_THREADS")) openblas_set_num_threads(1);
}

int blas_threads() { return openblas_get_num_threads(); }

}  // namespace zeta::linalg
