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
        "zeta::Ising::thresholds", RangePolicy<Space>(0, beta.extent(0)), KOKKOS_LAMBDA(const int r) {
          for (int e = 0; e < 10; ++e) {
            const int s = e >= 5 ? 1 : -1, nb = 2 * (e % 5) - 4;
            const double local = J * nb + h;
            double p;
            if (metro) {
              const double dE = 2.0 * s * local;
              p = dE <= 0 ? 1.0 : kmath::exp(-beta(r) * dE);
            } else {
              p = 1.0 / (1.0 + kmath::exp(-2.0 * beta(r) * local));
            }
            t(r, e) = p >= 1.0 ? 0xFFFFFFFFu : static_cast<std::uint32_t>(p * 4294967296.0);
          }
        });
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
    const int L = L_, W = L_ / 2, H = L_ * W, n = sites();
    const double J = J_, h = h_;
    using Team = typename Kokkos::TeamPolicy<Space>::member_type;
    Kokkos::parallel_for(
        "zeta::Ising::measure", Kokkos::TeamPolicy<Space>(static_cast<int>(s.extent(0)), Kokkos::AUTO),
        KOKKOS_LAMBDA(const Team& m) {
          const int r = m.league_rank();
          std::int64_t bonds = 0, mag = 0;
          // Every bond has exactly one colour-0 end: Σ_bonds s_i s_j = Σ_{colour 0} s_i · nb_i.
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(m, L),
              [&](const int i, std::int64_t& acc) {
                const int side = (i & 1) ? 1 : -1;
                const int up = H + ((i + L - 1) % L) * W, down = H + ((i + 1) % L) * W, same = H + i * W;
                for (int k = 0; k < W; ++k) {
                  int ks = k + side;
                  ks = ks < 0 ? W - 1 : (ks >= W ? 0 : ks);
                  const int nb = s(r, up + k) + s(r, down + k) + s(r, same + k) + s(r, same + ks);
                  acc += s(r, i * W + k) * nb;
                }
              },
              bonds);
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(m, n), [&](const int q, std::int64_t& acc) { acc += s(r, q); }, mag);
          Kokkos::single(Kokkos::PerTeam(m), [&]() {
            E(r) = -J * double(bonds) - h * double(mag);
            M(r) = double(mag);
          });
        });
  }

 private:
  template <bool Metro>
  void half_sweep(const Spins& s, const Table& t, int c, std::uint32_t seed, std::int64_t offset, std::int64_t step,
                  const Counts<Space>& flips) const {
    const int L = L_, W = L_ / 2, H = L_ * W;
    const int chunks = (W + kChunk - 1) / kChunk, nbr = 8 * chunks;  // Philox blocks per row
    const std::int64_t rows = std::int64_t(s.extent(0)) * L;
    Kokkos::parallel_for(
        Metro ? "zeta::Ising::metropolis" : "zeta::Ising::heatbath", RangePolicy<Space>(0, rows),
        KOKKOS_LAMBDA(const std::int64_t item) {
          const int r = static_cast<int>(item / L), i = static_cast<int>(item % L);
          std::int8_t* KOKKOS_RESTRICT a = &s(r, c * H + i * W);
          const int o = (1 - c) * H;
          const std::int8_t* KOKKOS_RESTRICT up = &s(r, o + ((i + L - 1) % L) * W);
          const std::int8_t* KOKKOS_RESTRICT down = &s(r, o + ((i + 1) % L) * W);
          const std::int8_t* KOKKOS_RESTRICT same = &s(r, o + i * W);
          // Colour-c sites on row i sit at columns j = 2k + p; their row neighbours
          // are k and k − 1 (p = 0) or k and k + 1 (p = 1) of the other colour.
          const int side = ((i + c) & 1) ? 1 : -1;
          std::uint32_t th[10];
          for (int e = 0; e < 10; ++e) th[e] = t(r, e);
          std::uint64_t chain[8];
          std::uint32_t blk[8];
          int flipped = 0;
          for (int ch = 0; ch < chunks; ++ch) {
            for (int l = 0; l < 8; ++l) {
              chain[l] = std::uint64_t(offset + r);
              blk[l] = static_cast<std::uint32_t>((c * L + i) * nbr + 8 * ch + l);
            }
            std::uint32_t w[4][8];
            rng::philox_lanes<8>(seed, std::uint64_t(step), rng::kSweep, chain, blk, w);
            const std::uint32_t* u = &w[0][0];  // site q of the chunk takes u[q]
            const int k0 = ch * kChunk, n = W - k0 < kChunk ? W - k0 : kChunk;
            for (int q = 0; q < n; ++q) {
              const int k = k0 + q;
              int ks = k + side;
              ks = ks < 0 ? W - 1 : (ks >= W ? 0 : ks);
              const int sa = a[k];
              const int nb = up[k] + down[k] + same[k] + same[ks];
              if (Metro) {
                const std::uint32_t tt = th[(sa > 0 ? 5 : 0) + ((nb + 4) >> 1)];
                const int acc = (u[q] < tt) | (tt == 0xFFFFFFFFu);
                a[k] = static_cast<std::int8_t>(acc ? -sa : sa);
                flipped += acc;
              } else {
                const std::uint32_t tt = th[(nb + 4) >> 1];
                const int ns = ((u[q] < tt) | (tt == 0xFFFFFFFFu)) ? 1 : -1;
                a[k] = static_cast<std::int8_t>(ns);
                flipped += ns != sa;
              }
            }
          }
          Kokkos::atomic_add(&flips(r), std::int64_t(flipped));
        });
  }

  int L_;
  double J_, h_;
};

}  // namespace zeta
