//! 2-D periodic Ising model on an L×L lattice, E(s) = −J Σ_<ij> s_i s_j − h Σ_i s_i,
//! batched over replicas: int8 spins, one row of a View per replica, stored in
//! checkerboard order so that a half-sweep streams through contiguous memory.
//!
//! Storage: site (i, j) of colour c = (i + j) mod 2 sits at c·L²/2 + i·L/2 + ⌊j/2⌋.
//! Every neighbour of a colour-c site has the other colour, so one colour is
//! updated in parallel while the other is read. Randomness: the uniform of the
//! site in chunk position q (0…31) of row i, colour c, comes from Philox block
//! (c·L + i)·nbr + 8·chunk + q mod 8, word q / 8, of Stream(seed, replica, sweep,
//! kSweep): a pure function of the site, the replica and the sweep.
//!
//! Kernels (bit for bit the chain of the original one-row-per-item kernel): a
//! half-sweep work item takes kRows rows of one colour (4 on a host core, 1 on a
//! GPU) and, per chunk, draws their 8·kRows Philox blocks in one philox_lanes
//! call, copies spins and neighbour sums into local int8 arrays (the wrapping row
//! neighbour through a padded copy, so no per-site wrap), and updates all
//! kRows·32 sites in one branch-free loop that vectorizes at full width; the
//! threshold comes from masks, not a table gather. measure() uses the same copies.
//! Host figures: bench/bench_ising, bench/README.md.
#pragma once
#include <cstdint>
#include <string>

#include "zeta/core/math.hpp"
#include "zeta/core/types.hpp"
#include "zeta/rng/philox.hpp"

namespace zeta {

enum class SpinMove { metropolis, heatbath };

template <class Space>
class Ising {
 public:
  using memory_space = typename Space::memory_space;
  using Spins = Kokkos::View<std::int8_t**, Kokkos::LayoutRight, memory_space>;
  using Betas = Kokkos::View<double*, memory_space>;
  using Table = Kokkos::View<std::uint32_t* [10], Kokkos::LayoutRight, memory_space>;
  static constexpr int kChunk = 32;  //!< sites per RNG chunk: 8 Philox blocks × 4 words

  Ising(int L, double J, double h) : L_(L), J_(J), h_(h) {}

  int L() const { return L_; }
  int sites() const { return L_ * L_; }
  double J() const { return J_; }
  double h() const { return h_; }
  const char* name() const { return "ising"; }

  //! Storage column of site (i, j).
  KOKKOS_INLINE_FUNCTION static int index(int i, int j, int L) {
    return ((i + j) & 1) * (L * L / 2) + i * (L / 2) + j / 2;
  }

  //! Random ±1 spins from Stream(seed, offset + r, 0, kInit).
  void initialize(const Spins& s, std::int64_t offset, std::uint32_t seed) const {
    const int n = sites();
    Kokkos::parallel_for(
        "zeta::Ising::initialize", RangePolicy<Space>(0, s.extent(0)), KOKKOS_LAMBDA(const int r) {
          const rng::Stream st(seed, std::uint64_t(offset + r), 0, rng::kInit);
          for (int b = 0; 4 * b < n; ++b) {
            const auto w = st.block(static_cast<std::uint32_t>(b));
            for (int q = 0; q < 4 && 4 * b + q < n; ++q) s(r, 4 * b + q) = (w[q] >> 31) ? 1 : -1;
          }
        });
  }

  //! Acceptance thresholds for each replica's β (a uint32 u accepts when u < t, or
  //! always when t is 2³²−1). Metropolis: entry 5·[s = +1] + (nb + 4)/2 holds
  //! min(1, e^{−βΔE}), ΔE = 2s(J nb + h); heat-bath: entry (nb + 4)/2 holds
  //! P(s = +1) = 1 / (1 + e^{−2β(J nb + h)}).
  void thresholds(const Betas& beta, SpinMove move, const Table& t) const {
    const double J = J_, h = h_;
    const bool metro = move == SpinMove::metropolis;
    Kokkos::parallel_for(
        "zeta::Ising::thresholds", RangePolicy<Space>(0, beta.extent(0)),
        KOKKOS_LAMBDA(const int r) { threshold_row(beta(r), J, h, metro, &t(r, 0)); });
  }

  //! The 10 thresholds of one β (see thresholds()); callable on the host and in kernels.
  KOKKOS_INLINE_FUNCTION static void threshold_row(double beta, double J, double h, bool metro,
                                                   std::uint32_t* row) {
    for (int e = 0; e < 10; ++e) {
      const int s = e >= 5 ? 1 : -1, nb = 2 * (e % 5) - 4;
      const double local = J * nb + h;
      double p;
      if (metro) {
        const double dE = 2.0 * s * local;
        p = dE <= 0 ? 1.0 : kmath::exp(-beta * dE);
      } else {
        p = 1.0 / (1.0 + kmath::exp(-2.0 * beta * local));
      }
      row[e] = p >= 1.0 ? 0xFFFFFFFFu : static_cast<std::uint32_t>(p * 4294967296.0);
    }
  }

  //! One sweep (both colours) of every replica with the thresholds `t` of its β;
  //! adds the number of flipped spins to `flips`.
  void sweep(const Spins& s, const Table& t, SpinMove move, std::uint32_t seed, std::int64_t offset,
             std::int64_t step, const Counts<Space>& flips) const {
    for (int c = 0; c < 2; ++c) {
      if (move == SpinMove::metropolis) half_sweep<true>(s, t, c, seed, offset, step, flips);
      else half_sweep<false>(s, t, c, seed, offset, step, flips);
    }
  }

  //! Energy and magnetisation Σ s_i of every replica.
  void measure(const Spins& s, const Kokkos::View<double*, memory_space>& E,
               const Kokkos::View<double*, memory_space>& M) const {
    constexpr int G = kRows, NS = G * kChunk;
    const int L = L_, W = L_ / 2, H = L_ * W, n = sites();
    const int chunks = (W + kChunk - 1) / kChunk, groups = (L + G - 1) / G;
    const double J = J_, h = h_;
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
                  std::int8_t sa[NS], nb[NS];
                  if (nc < kChunk || rows < G)
                    for (int p = 0; p < NS; ++p) sa[p] = 0, nb[p] = 0;
                  for (int g = 0; g < rows; ++g) {
                    const int i = i0 + g, side = (i & 1) ? 1 : -1;
                    std::int8_t pad[kChunk + 2];
                    row_neighbours(&s(r, H + i * W), W, k0, nc, pad);
                    const std::int8_t* a = &s(r, i * W + k0);
                    const std::int8_t* up = &s(r, H + ((i + L - 1) % L) * W + k0);
                    const std::int8_t* down = &s(r, H + ((i + 1) % L) * W + k0);
                    if (nc == kChunk)
                      load_row<kChunk>(nc, a, up, down, pad + 1, pad + 1 + side, sa + g * kChunk, nb + g * kChunk);
                    else
                      load_row<0>(nc, a, up, down, pad + 1, pad + 1 + side, sa + g * kChunk, nb + g * kChunk);
                  }
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

 private:
  //! Rows of one colour per work item: their Philox blocks come out of one
  //! philox_lanes call, 8 lanes per row and chunk, so a host core runs 32 lanes
  //! (L = 64: four rows) at once. A GPU thread takes one row.
  static constexpr int kRows = Kokkos::SpaceAccessibility<Kokkos::HostSpace, memory_space>::accessible ? 4 : 1;
  static constexpr int kSumBlock = 1024;  //!< sites per work unit of the magnetisation sum

  //! Sites k0 … k0 + n − 1 of a colour-c row, whose row neighbours in the other
  //! colour sit at `same` and `same + side` (side = ±1, wrapping around the row).
  //! Copies them into `pad` so that pad[1 + q] and pad[1 + q + side] are the two
  //! row neighbours of site k0 + q: contiguous loads with no per-site wrap.
  KOKKOS_INLINE_FUNCTION static void row_neighbours(const std::int8_t* KOKKOS_RESTRICT same, int W, int k0, int n,
                                                    std::int8_t (&pad)[kChunk + 2]) {
    pad[0] = same[k0 == 0 ? W - 1 : k0 - 1];
    for (int q = 0; q < n; ++q) pad[1 + q] = same[k0 + q];
    pad[n + 1] = same[k0 + n == W ? 0 : k0 + n];
  }

  //! Threshold entry e = (nb + 4)/2 (+ 5 for Metropolis with sa = +1) as
  //! th[0] + Σ_{k ≤ e} (th[k] − th[k−1]), exact in uint32 arithmetic, with masks
  //! from nb ≥ −2, 0, 2, 4: no table gather and no select chain (GCC turns one into
  //! a multi-way branch), so the site loop vectorizes.
  template <bool Metro>
  KOKKOS_INLINE_FUNCTION static std::uint32_t threshold(const std::uint32_t (&th)[10], int sa, int nb) {
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
  KOKKOS_INLINE_FUNCTION static void load_row(int n, const std::int8_t* KOKKOS_RESTRICT a,
                                              const std::int8_t* KOKKOS_RESTRICT up,
                                              const std::int8_t* KOKKOS_RESTRICT down,
                                              const std::int8_t* KOKKOS_RESTRICT same,
                                              const std::int8_t* KOKKOS_RESTRICT side, std::int8_t* KOKKOS_RESTRICT sa,
                                              std::int8_t* KOKKOS_RESTRICT nb) {
    for (int q = 0; q < (N > 0 ? N : n); ++q) {
      sa[q] = a[q];
      nb[q] = static_cast<std::int8_t>(up[q] + down[q] + same[q] + side[q]);
    }
  }

  //! Writes sa[0 … n − 1] back to the row; returns how many spins changed.
  template <int N>
  KOKKOS_INLINE_FUNCTION static int store_row(int n, std::int8_t* KOKKOS_RESTRICT a,
                                              const std::int8_t* KOKKOS_RESTRICT sa) {
    int changed = 0;
    for (int q = 0; q < (N > 0 ? N : n); ++q) {
      changed += a[q] != sa[q];
      a[q] = sa[q];
    }
    return changed;
  }

  //! The move itself on NS sites of a work item's local copy: spin sa[p] with
  //! neighbour sum nb[p] and uniform u[p]. One long loop over all of the item's
  //! rows lets the compiler use full-width vectors for the 32-bit compares.
  template <bool Metro, int NS>
  KOKKOS_INLINE_FUNCTION static void update_sites(std::int8_t* KOKKOS_RESTRICT sa,
                                                  const std::int8_t* KOKKOS_RESTRICT nb,
                                                  const std::uint32_t* KOKKOS_RESTRICT u,
                                                  const std::uint32_t (&th)[10]) {
    for (int p = 0; p < NS; ++p) {
      const int sp = sa[p];
      const std::uint32_t tt = threshold<Metro>(th, sp, nb[p]);
      const bool acc = (u[p] < tt) | (tt == 0xFFFFFFFFu);
      sa[p] = static_cast<std::int8_t>(Metro ? (acc ? -sp : sp) : (acc ? 1 : -1));
    }
  }

  template <bool Metro>
  void half_sweep(const Spins& s, const Table& t, int c, std::uint32_t seed, std::int64_t offset, std::int64_t step,
                  const Counts<Space>& flips) const {
    constexpr int G = kRows, NL = 8 * G, NS = G * kChunk;  // rows, Philox lanes and sites per work item
    const int L = L_, W = L_ / 2, H = L_ * W;
    const int chunks = (W + kChunk - 1) / kChunk, nbr = 8 * chunks;  // Philox blocks per row
    const int groups = (L + G - 1) / G;
    const std::int64_t items = std::int64_t(s.extent(0)) * groups;
    Kokkos::parallel_for(
        Metro ? "zeta::Ising::metropolis" : "zeta::Ising::heatbath", RangePolicy<Space>(0, items),
        KOKKOS_LAMBDA(const std::int64_t item) {
          const int r = static_cast<int>(item / groups), i0 = static_cast<int>(item % groups) * G;
          const int rows = L - i0 < G ? L - i0 : G;
          const int o = (1 - c) * H;
          std::uint32_t th[10];
          for (int e = 0; e < 10; ++e) th[e] = t(r, e);
          int flipped = 0;
          for (int ch = 0; ch < chunks; ++ch) {
            const int k0 = ch * kChunk, n = W - k0 < kChunk ? W - k0 : kChunk;
            // Local copy of the item's rows: site q of row g at p = g·kChunk + q.
            std::int8_t sa[NS], nb[NS];
            if (n < kChunk || rows < G)  // sites past the row or past L: harmless values, never stored
              for (int p = 0; p < NS; ++p) sa[p] = 1, nb[p] = 0;
            for (int g = 0; g < rows; ++g) {
              const int i = i0 + g;
              // Colour-c sites on row i sit at columns j = 2k + p; their row neighbours
              // are k and k − 1 (p = 0) or k and k + 1 (p = 1) of the other colour.
              const int side = ((i + c) & 1) ? 1 : -1;
              std::int8_t pad[kChunk + 2];
              row_neighbours(&s(r, o + i * W), W, k0, n, pad);
              const std::int8_t* a = &s(r, c * H + i * W + k0);
              const std::int8_t* up = &s(r, o + ((i + L - 1) % L) * W + k0);
              const std::int8_t* down = &s(r, o + ((i + 1) % L) * W + k0);
              if (n == kChunk)
                load_row<kChunk>(n, a, up, down, pad + 1, pad + 1 + side, sa + g * kChunk, nb + g * kChunk);
              else
                load_row<0>(n, a, up, down, pad + 1, pad + 1 + side, sa + g * kChunk, nb + g * kChunk);
            }
            std::uint64_t chain[NL];
            std::uint32_t blk[NL];
            for (int x = 0; x < NL; ++x) {  // lanes of rows past L compute unused numbers
              chain[x] = std::uint64_t(offset + r);
              blk[x] = static_cast<std::uint32_t>((c * L + i0 + x / 8) * nbr + 8 * ch + x % 8);
            }
            std::uint32_t w[4][NL], u[NS];
            rng::philox_lanes<NL>(seed, std::uint64_t(step), rng::kSweep, chain, blk, w);
            // Site q of row g takes flat word q of the row's 8 blocks: word q / 8 of block 8g + q mod 8.
            for (int g = 0; g < G; ++g)
              for (int b = 0; b < 4; ++b)
                for (int l = 0; l < 8; ++l) u[g * kChunk + 8 * b + l] = w[b][8 * g + l];
            update_sites<Metro, NS>(sa, nb, u, th);
            for (int g = 0; g < rows; ++g) {
              std::int8_t* a = &s(r, c * H + (i0 + g) * W + k0);
              flipped += n == kChunk ? store_row<kChunk>(n, a, sa + g * kChunk) : store_row<0>(n, a, sa + g * kChunk);
            }
          }
          Kokkos::atomic_add(&flips(r), std::int64_t(flipped));
        });
  }

  int L_;
  double J_, h_;
};

}  // namespace zeta
