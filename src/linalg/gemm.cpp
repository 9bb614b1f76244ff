#include "zeta/linalg/gemm.hpp"

#include <cblas.h>

#include <cstdlib>

extern "C" void openblas_set_num_threads(int);

namespace zeta::linalg {

void host_gemm(bool trans_a, bool trans_b, int m, int n, int k, Real alpha, const Real* a, int lda, const Real* b,
               int ldb, Real beta, Real* c, int ldc) {
  const auto ta = trans_a ? CblasTrans : CblasNoTrans;
  const auto tb = trans_b ? CblasTrans : CblasNoTrans;
#if ZETA_REAL_IS_FLOAT
  cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#else
  cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#endif
}

void init_blas_threads() {
  if (!std::getenv("OPENBLAS_NUM_THREADS")) openblas_set_num_threads(1);
}

}  // namespace zeta::linalg
