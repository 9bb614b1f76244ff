#include "zeta/linalg/binary.hpp"

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cstring>
#include <type_traits>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace zeta::linalg {

namespace {

//! Appends the positions of the ones of row[0 … k) to idx (which has 16 spare slots past
//! its end for whole-vector stores) and returns their count; sets `bad` on an entry that
//! is neither 0 nor 1. AVX-512 (float): 16 entries per compare and compress.
std::size_t row_ones(const Real* row, int k, int* idx, bool& bad) {
  std::size_t cnt = 0;
  int j = 0;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<Real, float>) {
    const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __mmask16 other = 0;
    for (; j + 16 <= k; j += 16) {
      const __m512 x = _mm512_loadu_ps(row + j);
      const __mmask16 o = _mm512_cmpeq_ps_mask(x, one), z = _mm512_cmpeq_ps_mask(x, zero);
      other |= static_cast<__mmask16>(~(o | z));
      const __m512i at = _mm512_maskz_compress_epi32(o, _mm512_add_epi32(lane, _mm512_set1_epi32(j)));
      _mm512_storeu_si512(static_cast<void*>(idx + cnt), at);
      cnt += static_cast<std::size_t>(__builtin_popcount(o));
    }
    bad |= other != 0;
  }
#endif
  int other = 0;
  for (; j < k; ++j) {  // branch-free: every position is written, the count moves on a one
    const Real x = row[j];
    idx[cnt] = j;
    cnt += x == Real(1);
    other |= (x != Real(0)) & (x != Real(1));
  }
  bad |= other != 0;
  return cnt;
}

}  // namespace

bool binary_pattern(const Real* a, int m, int k, int lda, bool transpose, BinaryPattern& p) {
  // The index buffers only grow (no zero fill per call); entries past start.back() are scratch.
  const std::size_t need = std::size_t(m) * k + 16;
  std::vector<int>& idx = transpose ? p.scratch : p.index;
  if (idx.size() < need) idx.resize(need);
  std::vector<int>& start = transpose ? p.scratch_start : p.start;
  start.resize(std::size_t(m) + 1);
  start[0] = 0;
  std::size_t n = 0;
  bool bad = false;
  for (int r = 0; r < m; ++r) {
    n += row_ones(a + std::size_t(r) * lda, k, idx.data() + n, bad);
    start[r + 1] = static_cast<int>(n);
  }
  if (bad) return false;
  if (!transpose) {
    p.rows = m, p.cols = k;
    return true;
  }
  // Transpose by a counting sort over the columns; rows stay in increasing order.
  p.rows = k, p.cols = m;
  p.start.assign(std::size_t(k) + 1, 0);
  for (std::size_t q = 0; q < n; ++q) ++p.start[idx[q] + 1];
  for (int j = 0; j < k; ++j) p.start[j + 1] += p.start[j];
  if (p.index.size() < n) p.index.resize(n);
  p.fill.assign(p.start.begin(), p.start.end() - 1);
  for (int r = 0; r < m; ++r)
    for (int q = start[r]; q < start[r + 1]; ++q) p.index[p.fill[idx[q]]++] = r;
  return true;
}

namespace {

//! Accumulators per row pass: V vectors of one register each, 64 bytes with AVX-512 and
//! 32 otherwise (64-byte vectors on AVX2 take two registers each and 8 of them spill:
//! 2.6× slower CD-1 on a Zen 3 machine). A pass over all rows of P touches a
//! p.cols × V·L slab of B (784 × 128 floats with AVX-512, 400 KB: L2). GCC / Clang
//! vector types keep the accumulators in registers (an array of scalars would live on
//! the stack); other compilers take the scalar loop. Each column sums its rows in the
//! same order at any width, so the results do not depend on it.
#if defined(__AVX512F__)
constexpr int kVectorBytes = 64;
#else
constexpr int kVectorBytes = 32;
#endif
constexpr int kVectors = 8;
constexpr int kLanes = kVectorBytes / int(sizeof(Real));
constexpr int kChunk = kVectors * kLanes;

//! Columns j0 … j0 + w − 1 of C, any w ≤ kChunk.
void columns(const BinaryPattern& p, int j0, int w, Real alpha, const Real* b, int ldb, Real beta, Real* c,
             int ldc) {
  for (int r = 0; r < p.rows; ++r) {
    Real acc[kChunk] = {};
    for (int q = p.start[r]; q < p.start[r + 1]; ++q) {
      const Real* row = b + std::size_t(p.index[q]) * ldb + j0;
      for (int t = 0; t < w; ++t) acc[t] += row[t];
    }
    Real* out = c + std::size_t(r) * ldc + j0;
    for (int t = 0; t < w; ++t) out[t] = alpha * acc[t] + (beta == Real(0) ? Real(0) : beta * out[t]);
  }
}

#if defined(__GNUC__)
#if !defined(__clang__)
// A vector wider than the ISA's registers is passed differently; these functions
// are internal, so GCC's note about the changed ABI does not apply.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
using Vec = Real __attribute__((vector_size(kVectorBytes)));

Vec load(const Real* x) {
  Vec v;
  std::memcpy(&v, x, sizeof v);
  return v;
}

//! Columns j0 … j0 + V·kLanes − 1 of C, accumulated in registers.
template <int V>
void vector_chunk(const BinaryPattern& p, int j0, Real alpha, const Real* b, int ldb, Real beta, Real* c,
                  int ldc) {
  for (int r = 0; r < p.rows; ++r) {
    Vec acc[V];
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) acc[v] = Vec{};
    for (int q = p.start[r]; q < p.start[r + 1]; ++q) {
      const Real* row = b + std::size_t(p.index[q]) * ldb + j0;
#pragma GCC unroll 8
      for (int v = 0; v < V; ++v) acc[v] += load(row + v * kLanes);
    }
    Real* out = c + std::size_t(r) * ldc + j0;
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) {
      Vec o = alpha * acc[v];
      if (beta != Real(0)) o += beta * load(out + v * kLanes);
      std::memcpy(out + v * kLanes, &o, sizeof o);
    }
  }
}

//! Whole vectors of columns from j0: `vectors` (1 … kVectors) of them.
void whole_vectors(int vectors, const BinaryPattern& p, int j0, Real alpha, const Real* b, int ldb, Real beta,
                   Real* c, int ldc) {
  switch (vectors) {
    case 8: return vector_chunk<8>(p, j0, alpha, b, ldb, beta, c, ldc);
    case 7: return vector_chunk<7>(p, j0, alpha, b, ldb, beta, c, ldc);
    case 6: return vector_chunk<6>(p, j0, alpha, b, ldb, beta, c, ldc);
    case 5: return vector_chunk<5>(p, j0, alpha, b, ldb, beta, c, ldc);
    case 4: return vector_chunk<4>(p, j0, alpha, b, ldb, beta, c, ldc);
    case 3: return vector_chunk<3>(p, j0, alpha, b, ldb, beta, c, ldc);
    case 2: return vector_chunk<2>(p, j0, alpha, b, ldb, beta, c, ldc);
    default: return vector_chunk<1>(p, j0, alpha, b, ldb, beta, c, ldc);
  }
}
#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#else
void whole_vectors(int vectors, const BinaryPattern& p, int j0, Real alpha, const Real* b, int ldb, Real beta,
                   Real* c, int ldc) {
  columns(p, j0, vectors * kLanes, alpha, b, ldb, beta, c, ldc);
}
#endif
static_assert(kVectors == 8, "whole_vectors dispatches 1 … 8 vectors");

// Below this many additions a product stays on the caller's thread (host_gemm's threshold).
constexpr double kThreadedAdds = 262144;

}  // namespace

void binary_gemm(const BinaryPattern& p, int n, Real alpha, const Real* b, int ldb, Real beta, Real* c, int ldc) {
  // Column blocks of kChunk: kVectors whole vectors each, the last block its remaining
  // whole vectors and then its last < kLanes columns. Every column of C is the same sum
  // in the same order whichever thread takes its block, so the bits do not depend on the
  // host thread count. On one thread, or below host_gemm's threading threshold, the
  // blocks run in order on the caller's thread.
  const int blocks = (n + kChunk - 1) / kChunk;
  auto block = [&](const int i) {
    const int j0 = i * kChunk, w = std::min(kChunk, n - j0), vectors = w / kLanes;
    if (vectors > 0) whole_vectors(vectors, p, j0, alpha, b, ldb, beta, c, ldc);
    if (w % kLanes != 0) columns(p, j0 + vectors * kLanes, w % kLanes, alpha, b, ldb, beta, c, ldc);
  };
  const bool threaded =
      blocks > 1 && Kokkos::DefaultHostExecutionSpace().concurrency() > 1 && double(p.ones()) * n >= kThreadedAdds;
  if (!threaded) {
    for (int i = 0; i < blocks; ++i) block(i);
    return;
  }
  Kokkos::parallel_for("zeta::binary_gemm", Kokkos::RangePolicy<Kokkos::DefaultHostExecutionSpace>(0, blocks), block);
  Kokkos::DefaultHostExecutionSpace().fence();
}

void transpose(const Real* a, int m, int n, Real* out) {
  constexpr int T = 32;
  for (int i0 = 0; i0 < m; i0 += T)
    for (int j0 = 0; j0 < n; j0 += T) {
      const int i1 = std::min(m, i0 + T), j1 = std::min(n, j0 + T);
      for (int i = i0; i < i1; ++i)
        for (int j = j0; j < j1; ++j) out[std::size_t(j) * m + i] = a[std::size_t(i) * n + j];
    }
}

}  // namespace zeta::linalg
