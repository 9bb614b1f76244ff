#include "zeta/linalg/packed.hpp"

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cmath>
#include <utility>

#if ZETA_PACKED_GEMM_AVX2
#include <immintrin.h>
#endif

namespace zeta::linalg {

void pack_b(const Real* w, int ldw, bool transposed, int k, int n, Real* packed) {
  const int panels = (n + kPanel - 1) / kPanel;
  for (int q = 0; q < panels; ++q) {
    Real* out = packed + std::size_t(q) * k * kPanel;
    const int first = q * kPanel, cols = std::min(kPanel, n - first);
    for (int r = 0; r < k; ++r) {
      Real* o = out + std::size_t(r) * kPanel;
      int j = 0;
      if (transposed) {  // B(r, first + j) = W(first + j, r): one element from each of `cols` rows
        const Real* col = w + std::size_t(first) * ldw + r;
        for (; j < cols; ++j) o[j] = col[std::size_t(j) * ldw];
      } else {
        const Real* row = w + std::size_t(r) * ldw + first;
        for (; j < cols; ++j) o[j] = row[j];
      }
      for (; j < kPanel; ++j) o[j] = Real(0);
    }
  }
}

namespace {

constexpr int kRows = 6;  // AVX2: 6 × 2 accumulators + 2 B vectors + 1 broadcast of the 16 ymm registers

#if ZETA_PACKED_GEMM_AVX2

template <class T>
struct Avx;
template <>
struct Avx<float> {
  using V = __m256;
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V splat(const float* p) { return _mm256_broadcast_ss(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
};
template <>
struct Avx<double> {
  using V = __m256d;
  static V zero() { return _mm256_setzero_pd(); }
  static V load(const double* p) { return _mm256_loadu_pd(p); }
  static V splat(const double* p) { return _mm256_broadcast_sd(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
};

using Vec = Avx<Real>;
constexpr int kLanes = kPanel / 2;

//! C(0:R, 0:cols) = A(0:R, :) B for one panel; all of K in registers (no C reload).
template <int R>
inline __attribute__((always_inline)) void tile(int k, const Real* __restrict a, int lda, const Real* __restrict b,
                                                Real* __restrict c, int ldc, int cols) {
  typename Vec::V acc[R][2];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = Vec::zero();
  for (int q = 0; q < k; ++q) {
    const auto b0 = Vec::load(b + std::size_t(q) * kPanel), b1 = Vec::load(b + std::size_t(q) * kPanel + kLanes);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const auto s = Vec::splat(a + std::size_t(r) * lda + q);
      acc[r][0] = Vec::fma(s, b0, acc[r][0]);
      acc[r][1] = Vec::fma(s, b1, acc[r][1]);
    }
  }
  if (cols == kPanel) {
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      Vec::store(c + std::size_t(r) * ldc, acc[r][0]);
      Vec::store(c + std::size_t(r) * ldc + kLanes, acc[r][1]);
    }
    return;
  }
  // Every accumulator goes through a constant index (a variable one would keep
  // them all in memory inside the k loop too).
  Real part[R][kPanel];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    Vec::store(part[r], acc[r][0]);
    Vec::store(part[r] + kLanes, acc[r][1]);
  }
  for (int r = 0; r < R; ++r) std::copy(part[r], part[r] + cols, c + std::size_t(r) * ldc);
}

#else

//! The same chains one entry at a time.
template <int R>
void tile(int k, const Real* a, int lda, const Real* b, Real* c, int ldc, int cols) {
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < cols; ++j) {
      Real acc = 0;
      for (int q = 0; q < k; ++q) acc = std::fma(a[std::size_t(r) * lda + q], b[std::size_t(q) * kPanel + j], acc);
      c[std::size_t(r) * ldc + j] = acc;
    }
}

#endif

//! tile<R> as a function with an address, for the rows left after the whole tiles.
template <int R>
void tile_rows(int k, const Real* a, int lda, const Real* b, Real* c, int ldc, int cols) {
  tile<R>(k, a, lda, b, c, ldc, cols);
}

}  // namespace

void packed_gemm(int m, int n, int k, const Real* a, int lda, const Real* packed, Real* c, int ldc) {
  using Rows = void (*)(int, const Real*, int, const Real*, Real*, int, int);
  static constexpr Rows by_rows[kRows + 1] = {nullptr,      tile_rows<1>, tile_rows<2>, tile_rows<3>,
                                              tile_rows<4>, tile_rows<5>, tile_rows<6>};
  // Whole 6-row tiles, then 5-row tiles for the rest: t of them with m − 5t a multiple
  // of 6 (128 rows run as 18 × 6 + 4 × 5; a 5-row tile keeps 10 accumulators and runs
  // at 85–90% of a 6-row tile's rate per row, a 4-row tile at 55–65%, measured). With
  // too few rows for that, a rest of 1–5 after a whole tile takes that tile with it as
  // two tiles of 3–6 rows (a 2-row tile has too few accumulators to hide the FMA latency).
  const int fives = (kRows - m % kRows) % kRows;
  int whole = m - 5 * fives, split = 5;
  if (whole < 0) {
    int rest = m % kRows;
    whole = m - rest;
    if (rest && whole) {
      whole -= kRows;
      rest += kRows;
    }
    split = rest > kRows ? (rest + 1) / 2 : rest;
  }
  const int panels = (n + kPanel - 1) / kPanel;
  Kokkos::parallel_for(
      "zeta::packed_gemm", Kokkos::RangePolicy<Kokkos::DefaultHostExecutionSpace>(0, panels), [=](const int q) {
        const int first = q * kPanel, cols = std::min(kPanel, n - first);
        const Real* b = packed + std::size_t(q) * k * kPanel;
        auto at = [&](int i) { return std::pair{a + std::size_t(i) * lda, c + std::size_t(i) * ldc + first}; };
        for (int i = 0; i < whole; i += kRows) {
          const auto [ai, ci] = at(i);
          tile<kRows>(k, ai, lda, b, ci, ldc, cols);
        }
        for (int i = whole; i < m;) {
          const int rows = std::min(split, m - i);
          const auto [ai, ci] = at(i);
          by_rows[rows](k, ai, lda, b, ci, ldc, cols);
          i += rows;
        }
      });
}

}  // namespace zeta::linalg
