//! Products with a 0/1 factor as sums of selected rows: C(r, :) = α Σ_{k: P(r,k) = 1} B(k, :).
//! An RBM's Bernoulli states (data rows, hidden and visible draws) are 0/1 matrices, so
//! each of its GEMMs costs (density of ones) × (the GEMM's multiply-adds) as plain adds.
//! Host memory, one thread per rank (as the rank's BLAS); the sums run in increasing k,
//! so a row's result does not depend on the other rows (row-stable in any precision).
#pragma once
#include <vector>

#include "zeta/core/types.hpp"

namespace zeta::linalg {

//! Whether an RBM takes its Bernoulli products this way unless told otherwise
//! (Rbm::set_binary_products): with AVX-512 the row sums beat OpenBLAS's sgemm on
//! CD-1 784 × 500; with AVX2 (8 adds per instruction against 16 FMA flops) they
//! lose to it (Zen 3: 91–115 against 135–139 updates/s, float).
#if defined(__AVX512F__)
inline constexpr bool kBinaryProductsByDefault = true;
#else
inline constexpr bool kBinaryProductsByDefault = false;
#endif

//! The positions of the ones of a 0/1 matrix, row by row (CSR without values).
struct BinaryPattern {
  int rows = 0, cols = 0;
  std::vector<int> start;  //!< rows + 1 offsets into index
  std::vector<int> index;  //!< column positions; entries past start[rows] are scratch
  std::vector<int> scratch, scratch_start, fill;  //!< work space of the transposed build
  std::size_t ones() const { return start.empty() ? 0 : std::size_t(start[rows]); }
};

//! Fills `p` with the ones of the m × k row-major matrix `a` (leading dimension lda), or of
//! its transpose (k rows) when `transpose`. Returns false when an entry is neither 0 nor 1
//! (then `p` is unusable and the caller takes the GEMM).
bool binary_pattern(const Real* a, int m, int k, int lda, bool transpose, BinaryPattern& p);

//! C = α P B + β C for the 0/1 matrix P (p.rows × p.cols) and the row-major
//! p.cols × n matrix B; β = 0 ignores C's previous contents.
void binary_gemm(const BinaryPattern& p, int n, Real alpha, const Real* b, int ldb, Real beta, Real* c, int ldc);

//! out (n × m, row-major) = aᵀ for the m × n row-major `a`, in cache blocks.
void transpose(const Real* a, int m, int n, Real* out);

}  // namespace zeta::linalg
