//! Host GEMMs on a rank's host threads.
#pragma once
#include "zeta/core/types.hpp"

namespace zeta::linalg {

//! OpenBLAS itself runs single-threaded inside each rank unless OPENBLAS_NUM_THREADS
//! says otherwise: host_gemm (gemm.hpp) spreads a GEMM over the host execution space's
//! threads instead (Serial: 1; OpenMP: OMP_NUM_THREADS), whose pool is already running,
//! so no second pool of OpenBLAS threads spins beside Kokkos' between GEMMs.
void init_blas_threads();

//! The number of threads OpenBLAS runs one cblas call on.
int blas_threads();

//! host_gemm's body: C's rows in `parts` blocks of multiples of 16 rows (fewer where m is
//! small), one single cblas call each, the blocks run on the host execution space.
//! Double GEMMs are row-stable in OpenBLAS, so the bits do not depend on `parts`
//! (test_linalg HostGemmRows); a float sgemm's rows can move by an ulp.
void host_gemm_rows(int parts, bool trans_a, bool trans_b, int m, int n, int k, Real alpha, const Real* a, int lda,
                    const Real* b, int ldb, Real beta, Real* c, int ldc);

}  // namespace zeta::linalg
