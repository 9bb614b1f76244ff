//! The kernels behind models/ising.hpp: the checkerboard half-sweeps (Metropolis and
//! heat-bath, with sweep_measure's sums) and measure(), and the local row copies,
//! branch-free thresholds and site updates (AVX2 on hosts that have it) they use.
//! Callers use the Ising class; these are its implementation.
//!
//! Kernels (bit for bit the chain of the original one-row-per-item kernel): a
//! half-sweep work item takes G = rows_per_item() rows of one colour (4 on a host
//! core, 1 on a GPU) and, per chunk, draws their 8·G Philox blocks in one
//! philox_lanes call, copies spins and neighbour sums into local int8 arrays (the
//! wrapping row neighbour through a padded copy, so no per-site wrap), and updates
//! all G·32 sites in one branch-free loop that vectorizes at full width; the
//! threshold comes from masks, not a table gather (on AVX2 without AVX-512, from
//! vpermd tables: update_sites_avx2). measure() uses the same copies.
//! test_temper's IsingKernel.SweepsMatchTheSiteBySiteContract holds the kernels to
//! the storage and randomness contract of models/ising.hpp, site by site. Host
//! figures: bench/bench_ising, bench/README.md.
#pragma once
#include <cstdint>

#include "zeta/core/types.hpp"
#include "zeta/rng/philox.hpp"

#if ZETA_HOST_KERNELS && defined(__AVX2__) && !defined(__AVX512F__) && !defined(__CUDA_ARCH__) && !defined(__HIP_DEVICE_COMPILE__)
#define ZETA_ISING_AVX2 1
#include <immintrin.h>
#else
#define ZETA_ISING_AVX2 0
#endif

namespace zeta::models {

namespace detail {

// The kernels, as free functions: nvcc refuses extended lambdas in private member functions.

template <class Space>
using Spins = Kokkos::View<std::int8_t**, Kokkos::LayoutRight, typename Space::memory_space>;
template <class Space>
using Table = Kokkos::View<std::uint32_t* [10], Kokkos::LayoutRight, typename Space::memory_space>;
template <class Space>
using Sums = Kokkos::View<std::int64_t* [2], Kokkos::LayoutRight, typename Space::memory_space>;
template <class Space>
using Values = Kokkos::View<double*, typename Space::memory_space>;

constexpr int kChunk = 32;       //!< sites per RNG chunk: 8 Philox blocks × 4 words
constexpr int kSumBlock = 1024;  //!< sites per work unit of the magnetisation sum

//! Rows of one colour per work item: their Philox blocks come out of one
//! philox_lanes call, 8 lanes per row and chunk, so a host core runs 32 lanes
//! (L = 64: four rows) at once. A GPU thread takes one row.
template <class Space>
constexpr int rows_per_item() {
  return kHostKernels<Space> ? 4 : 1;
}

//! Sites k0 … k0 + n − 1 of a colour-c row, whose row neighbours in the other
//! colour sit at `same` and `same + side` (side = ±1, wrapping around the row).
//! Copies them into `pad` so that pad[1 + q] and pad[1 + q + side] are the two
//! row neighbours of site k0 + q: contiguous loads with no per-site wrap.
//! N > 0 fixes n at compile time (a whole chunk: an inline copy, not a memcpy call).
template <int N>
KOKKOS_INLINE_FUNCTION void row_neighbours(const std::int8_t* KOKKOS_RESTRICT same, int W, int k0, int n,
                                           std::int8_t* KOKKOS_RESTRICT pad) {
  pad[0] = same[k0 == 0 ? W - 1 : k0 - 1];
  for (int q = 0; q < (N > 0 ? N : n); ++q) pad[1 + q] = same[k0 + q];
  pad[n + 1] = same[k0 + n == W ? 0 : k0 + n];
}

//! Threshold entry e = (nb + 4)/2 (+ 5 for Metropolis with sa = +1) as
//! th[0] + Σ_{k ≤ e} (th[k] − th[k−1]), exact in uint32 arithmetic, with masks
//! from nb ≥ −2, 0, 2, 4: no table gather and no select chain (GCC turns one into
//! a multi-way branch), so the site loop vectorizes.
template <bool Metro>
KOKKOS_INLINE_FUNCTION std::uint32_t threshold(const std::uint32_t (&th)[10], int sa, int nb) {
  const std::uint32_t m1 = 0u - std::uint32_t(nb >= -2), m2 = 0u - std::uint32_t(nb >= 0);
  const std::uint32_t m3 = 0u - std::uint32_t(nb >= 2), m4 = 0u - std::uint32_t(nb >= 4);
  const std::uint32_t lo =
      th[0] + ((th[1] - th[0]) & m1) + ((th[2] - th[1]) & m2) + ((th[3] - th[2]) & m3) + ((th[4] - th[3]) & m4);
  if (!Metro) return lo;
  const std::uint32_t hi =
      th[5] + ((th[6] - th[5]) & m1) + ((th[7] - th[6]) & m2) + ((th[8] - th[7]) & m3) + ((th[9] - th[8]) & m4);
  return sa > 0 ? hi : lo;
}

//! Copies the spins a[0 … n − 1] of one row chunk to sa and the sums of their
//! four neighbours to nb. N > 0 fixes n at compile time (a whole chunk).
template <int N>
KOKKOS_INLINE_FUNCTION void load_row(int n, const std::int8_t* KOKKOS_RESTRICT a, const std::int8_t* KOKKOS_RESTRICT up,
                                     const std::int8_t* KOKKOS_RESTRICT down, const std::int8_t* KOKKOS_RESTRICT same,
                                     const std::int8_t* KOKKOS_RESTRICT side, std::int8_t* KOKKOS_RESTRICT sa,
                                     std::int8_t* KOKKOS_RESTRICT nb) {
  for (int q = 0; q < (N > 0 ? N : n); ++q) {
    sa[q] = a[q];
    nb[q] = static_cast<std::int8_t>(up[q] + down[q] + same[q] + side[q]);
  }
}

//! Writes sa[0 … n − 1] back to the row; returns how many spins changed.
template <int N>
KOKKOS_INLINE_FUNCTION int store_row(int n, std::int8_t* KOKKOS_RESTRICT a, const std::int8_t* KOKKOS_RESTRICT sa) {
  int changed = 0;
  for (int q = 0; q < (N > 0 ? N : n); ++q) {
    changed += a[q] != sa[q];
    a[q] = sa[q];
  }
  return changed;
}

//! Adds Σ sa[q] to mag and, for colour 1, Σ sa[q]·nb[q] to bonds (q < n ≤ kChunk).
//! 16-bit sums (|Σ| ≤ 4·kChunk): 16 lanes per AVX2 vector and no 32-bit multiply.
template <int N>
KOKKOS_INLINE_FUNCTION void row_sums(int n, int c, const std::int8_t* KOKKOS_RESTRICT sa,
                                     const std::int8_t* KOKKOS_RESTRICT nb, int& bonds, int& mag) {
  std::int16_t sm = 0, sb = 0;
  if (c == 1) {
    for (int q = 0; q < (N > 0 ? N : n); ++q) {
      sm = static_cast<std::int16_t>(sm + sa[q]);
      sb = static_cast<std::int16_t>(sb + std::int16_t(sa[q]) * std::int16_t(nb[q]));
    }
  } else {
    for (int q = 0; q < (N > 0 ? N : n); ++q) sm = static_cast<std::int16_t>(sm + sa[q]);
  }
  mag += sm;
  bonds += sb;
}

//! Row-neighbour pads (row_neighbours) of sites k0 … k0 + n − 1 on the colour-c
//! rows i0 … i0 + rows − 1 of replica r.
template <int G, class S>
KOKKOS_INLINE_FUNCTION void row_pads(const S& s, int r, int c, int L, int i0, int rows, int k0, int n,
                                     std::int8_t (&pad)[G][kChunk + 2]) {
  const int W = L / 2, o = (1 - c) * L * W;
  for (int g = 0; g < rows; ++g) {
    const std::int8_t* same = &s(r, o + (i0 + g) * W);
    if (n == kChunk)
      row_neighbours<kChunk>(same, W, k0, n, pad[g]);
    else
      row_neighbours<0>(same, W, k0, n, pad[g]);
  }
}

//! Local copy of those rows: spin sa[p] and neighbour sum nb[p] of site k0 + q on
//! row i0 + g at p = g·kChunk + q; sites past the row or past L get harmless values
//! (spin 1, sum 0) that are never stored.
template <int G, class S>
KOKKOS_INLINE_FUNCTION void gather_rows(const S& s, int r, int c, int L, int i0, int rows, int k0, int n,
                                        const std::int8_t (&pad)[G][kChunk + 2], std::int8_t (&sa)[G * kChunk],
                                        std::int8_t (&nb)[G * kChunk]) {
  const int W = L / 2, H = L * W, o = (1 - c) * H;
  if (n < kChunk || rows < G)
    for (int p = 0; p < G * kChunk; ++p) sa[p] = 1, nb[p] = 0;
  for (int g = 0; g < rows; ++g) {
    const int i = i0 + g;
    // Colour-c sites on row i sit at columns j = 2k + p; their row neighbours
    // are k and k − 1 (p = 0) or k and k + 1 (p = 1) of the other colour.
    const int side = ((i + c) & 1) ? 1 : -1;
    const std::int8_t* a = &s(r, c * H + i * W + k0);
    const std::int8_t* up = &s(r, o + (i == 0 ? L - 1 : i - 1) * W + k0);
    const std::int8_t* down = &s(r, o + (i == L - 1 ? 0 : i + 1) * W + k0);
    const std::int8_t* same = pad[g] + 1;
    if (n == kChunk)
      load_row<kChunk>(n, a, up, down, same, same + side, sa + g * kChunk, nb + g * kChunk);
    else
      load_row<0>(n, a, up, down, same, same + side, sa + g * kChunk, nb + g * kChunk);
  }
}

//! Whether a Metropolis table depends on s and nb only through s·nb: with h = 0,
//! ΔE = 2Js·nb, so entry (s, nb) equals entry (+1, s·nb).
KOKKOS_INLINE_FUNCTION bool symmetric(const std::uint32_t (&th)[10]) {
  return th[0] == th[9] && th[1] == th[8] && th[2] == th[7] && th[3] == th[6] && th[4] == th[5];
}

#if ZETA_ISING_AVX2
//! update_sites on AVX2 without AVX-512, 8 sites per step: GCC 12 builds each
//! site's threshold from the masks of threshold() with some 20 vector operations
//! per 8 sites and spills; here it is one vpermd per table (entries 0–4 and 5–9),
//! and the uniforms are read from w in place. Same spins, bit for bit.
template <bool Metro, int G>
void update_sites_avx2(std::int8_t* KOKKOS_RESTRICT sa, const std::int8_t* KOKKOS_RESTRICT nb,
                       const std::uint32_t (&w)[4][8 * G], const std::uint32_t (&th)[10], bool by_product) {
  // Unsigned u < t as signed (u ^ 2³¹) < (t ^ 2³¹); t = 2³² − 1 (always) becomes INT32_MAX.
  const int sign = INT32_MIN;
  auto table = [&](int e) {
    return _mm256_setr_epi32(int(th[e]) ^ sign, int(th[e + 1]) ^ sign, int(th[e + 2]) ^ sign, int(th[e + 3]) ^ sign,
                             int(th[e + 4]) ^ sign, 0, 0, 0);
  };
  const __m256i lo = table(0), hi = Metro ? table(5) : lo;
  // by_product: one vpermd of the s = +1 half at (s·nb + 4)/2 (vpsignd) takes the place of two and a blend.
  const __m256i bias = _mm256_set1_epi32(sign), always = _mm256_set1_epi32(INT32_MAX);
  const __m256i four = _mm256_set1_epi32(4), one = _mm256_set1_epi32(1), zero = _mm256_setzero_si256();
  // vpermd order that undoes the lane interleaving of the two packs below.
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int g = 0; g < G; ++g) {  // row g: sites 32g + 8b … 32g + 8b + 7 take w[b][8g …]
    __m256i x[4];
    for (int b = 0; b < 4; ++b) {
      const int p = kChunk * g + 8 * b;
      const __m256i sp = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sa + p)));
      const __m256i n = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(nb + p)));
      __m256i t;
      if (by_product) {
        t = _mm256_permutevar8x32_epi32(hi, _mm256_srai_epi32(_mm256_add_epi32(_mm256_sign_epi32(n, sp), four), 1));
      } else {
        const __m256i e = _mm256_srai_epi32(_mm256_add_epi32(n, four), 1);
        t = _mm256_permutevar8x32_epi32(lo, e);
        if constexpr (Metro)
          t = _mm256_blendv_epi8(t, _mm256_permutevar8x32_epi32(hi, e), _mm256_cmpgt_epi32(sp, zero));
      }
      const __m256i u = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(&w[b][8 * g])), bias);
      const __m256i acc = _mm256_or_si256(_mm256_cmpgt_epi32(t, u), _mm256_cmpeq_epi32(t, always));
      // Metropolis: −s where accepted, (s ^ acc) − acc; heat-bath: +1 where accepted, else −1.
      x[b] = Metro ? _mm256_sub_epi32(_mm256_xor_si256(sp, acc), acc)
                   : _mm256_sub_epi32(_mm256_and_si256(acc, _mm256_add_epi32(one, one)), one);
    }
    // One 32-byte store per row, which store_row's 32-byte load can take from the store queue.
    const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(x[0], x[1]), _mm256_packs_epi32(x[2], x[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(sa + kChunk * g), _mm256_permutevar8x32_epi32(packed, order));
  }
}
#else
template <bool Metro, int G>  // declared for update_sites' discarded `if constexpr` branch only
void update_sites_avx2(std::int8_t*, const std::int8_t*, const std::uint32_t (&)[4][8 * G], const std::uint32_t (&)[10],
                       bool);
#endif

//! The move itself on the G·kChunk sites of a work item's local copy: spin sa[p]
//! with neighbour sum nb[p] and the uniform of site q of row g (p = g·kChunk + q),
//! flat word q of the row's 8 Philox blocks: w[q / 8][8g + q mod 8]. One long loop
//! over all of the item's rows lets the compiler use full-width vectors for the
//! 32-bit compares. `by_product`: Metropolis with a symmetric() table, which the
//! AVX2 kernel reads at s·nb.
template <bool Metro, int G>
KOKKOS_INLINE_FUNCTION void update_sites(std::int8_t* KOKKOS_RESTRICT sa, const std::int8_t* KOKKOS_RESTRICT nb,
                                         const std::uint32_t (&w)[4][8 * G], const std::uint32_t (&th)[10],
                                         bool by_product) {
  if constexpr (ZETA_ISING_AVX2) {
    update_sites_avx2<Metro, G>(sa, nb, w, th, by_product);
  } else {
    (void)by_product;  // the portable loop reads the table by (s, nb) either way
    constexpr int NS = G * kChunk;
    std::uint32_t u[NS];
    for (int g = 0; g < G; ++g)
      for (int b = 0; b < 4; ++b)
        for (int l = 0; l < 8; ++l) u[g * kChunk + 8 * b + l] = w[b][8 * g + l];
    for (int p = 0; p < NS; ++p) {
      const int sp = sa[p];
      const std::uint32_t tt = threshold<Metro>(th, sp, nb[p]);
      const bool acc = (u[p] < tt) | (tt == 0xFFFFFFFFu);
      sa[p] = static_cast<std::int8_t>(Metro ? (acc ? -sp : sp) : (acc ? 1 : -1));
    }
  }
}

//! Ising::measure: energy and magnetisation Σ s_i of every replica of the L×L lattice.
template <class Space>
void measure(const Spins<Space>& s, int L, double J, double h, const Values<Space>& E, const Values<Space>& M) {
  constexpr int G = rows_per_item<Space>(), NS = G * kChunk;
  const int W = L / 2, n = L * L;
  const int chunks = (W + kChunk - 1) / kChunk, groups = (L + G - 1) / G;
  using Team = typename Kokkos::TeamPolicy<Space>::member_type;
  Kokkos::parallel_for(
      "zeta::Ising::measure", Kokkos::TeamPolicy<Space>(static_cast<int>(s.extent(0)), Kokkos::AUTO),
      KOKKOS_LAMBDA(const Team& m) {
        const int r = m.league_rank();
        std::int64_t bonds = 0, mag = 0;
        // Every bond has exactly one colour-0 end: Σ_bonds s_i s_j = Σ_{colour 0} s_i · nb_i,
        // over groups of G colour-0 rows copied as in the sweep.
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(m, groups),
            [&](const int gr, std::int64_t& acc) {
              const int i0 = gr * G, rows = L - i0 < G ? L - i0 : G;
              for (int ch = 0; ch < chunks; ++ch) {
                const int k0 = ch * kChunk, nc = W - k0 < kChunk ? W - k0 : kChunk;
                std::int8_t pad[G][kChunk + 2], sa[NS], nb[NS];
                row_pads(s, r, 0, L, i0, rows, k0, nc, pad);
                gather_rows(s, r, 0, L, i0, rows, k0, nc, pad, sa, nb);
                int sum = 0;
                for (int p = 0; p < NS; ++p) sum += sa[p] * nb[p];
                acc += sum;
              }
            },
            bonds);
        // Σ s_i over the replica's row in blocks of kSumBlock sites.
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(m, (n + kSumBlock - 1) / kSumBlock),
            [&](const int b, std::int64_t& acc) {
              const int q0 = b * kSumBlock, nq = n - q0 < kSumBlock ? n - q0 : kSumBlock;
              const std::int8_t* KOKKOS_RESTRICT a = &s(r, q0);
              int sum = 0;
              for (int q = 0; q < nq; ++q) sum += a[q];
              acc += sum;
            },
            mag);
        Kokkos::single(Kokkos::PerTeam(m), [&]() {
          E(r) = -J * double(bonds) - h * double(mag);
          M(r) = double(mag);
        });
      });
}

//! One colour c of Ising::sweep on the L×L lattice (WithSums: and sweep_measure's sums).
template <class Space, bool Metro, bool WithSums>
void half_sweep(const Spins<Space>& s, const Table<Space>& t, int c, int L, std::uint32_t seed, std::int64_t offset,
                std::int64_t step, const Counts<Space>& flips, const Sums<Space>& sums) {
  constexpr int G = rows_per_item<Space>(), NL = 8 * G, NS = G * kChunk;  // rows, Philox lanes and sites per work item
  const int W = L / 2, H = L * W;
  const int chunks = (W + kChunk - 1) / kChunk, nbr = 8 * chunks;  // Philox blocks per row
  const int groups = (L + G - 1) / G;
  const std::int64_t items = std::int64_t(s.extent(0)) * groups;
  Kokkos::parallel_for(
      Metro ? "zeta::Ising::metropolis" : "zeta::Ising::heatbath", RangePolicy<Space>(0, items),
      KOKKOS_LAMBDA(const std::int64_t item) {
        const int r = static_cast<int>(item / groups), i0 = static_cast<int>(item % groups) * G;
        const int rows = L - i0 < G ? L - i0 : G;
        std::uint32_t th[10];
        for (int e = 0; e < 10; ++e) th[e] = t(r, e);
        const bool by_product = Metro && symmetric(th);
        int flipped = 0, bonds = 0, mag = 0;
        for (int ch = 0; ch < chunks; ++ch) {
          const int k0 = ch * kChunk, n = W - k0 < kChunk ? W - k0 : kChunk;
          // Pads first, the Philox rounds, then the reads of the pads at an offset: by
          // then the pad stores have left the store queue (a load straddling two queued
          // stores cannot be forwarded and stalls).
          std::int8_t pad[G][kChunk + 2];
          row_pads(s, r, c, L, i0, rows, k0, n, pad);
          std::uint64_t chain[NL];
          std::uint32_t blk[NL];
          for (int x = 0; x < NL; ++x) {  // lanes of rows past L compute unused numbers
            chain[x] = std::uint64_t(offset + r);
            blk[x] = static_cast<std::uint32_t>((c * L + i0 + x / 8) * nbr + 8 * ch + x % 8);
          }
          std::uint32_t w[4][NL];
          rng::philox_lanes<NL>(seed, std::uint64_t(step), rng::kSweep, chain, blk, w);
          std::int8_t sa[NS], nb[NS];
          gather_rows(s, r, c, L, i0, rows, k0, n, pad, sa, nb);
          update_sites<Metro, G>(sa, nb, w, th, by_product);
          for (int g = 0; g < rows; ++g) {
            std::int8_t* a = &s(r, c * H + (i0 + g) * W + k0);
            flipped += n == kChunk ? store_row<kChunk>(n, a, sa + g * kChunk) : store_row<0>(n, a, sa + g * kChunk);
            if constexpr (WithSums) {
              if (n == kChunk)
                row_sums<kChunk>(n, c, sa + g * kChunk, nb + g * kChunk, bonds, mag);
              else
                row_sums<0>(n, c, sa + g * kChunk, nb + g * kChunk, bonds, mag);
            }
          }
        }
        Kokkos::atomic_add(&flips(r), std::int64_t(flipped));
        if (WithSums) {  // not if constexpr: nvcc refuses a first capture (sums) there; WithSums folds anyway
          Kokkos::atomic_add(&sums(r, 0), std::int64_t(bonds));
          Kokkos::atomic_add(&sums(r, 1), std::int64_t(mag));
        }
      });
}

}  // namespace detail

}  // namespace zeta::models
