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
//!
//! The kernels (checkerboard half-sweeps, measure) are in models/detail/ising_kernels.hpp,
//! the cluster moves (Swendsen–Wang, Wolff) and their randomness in
//! models/detail/ising_clusters.hpp.
#pragma once
#include <cstdint>
#include <string>

#include "zeta/core/math.hpp"
#include "zeta/core/types.hpp"
#include "zeta/models/detail/ising_clusters.hpp"
#include "zeta/models/detail/ising_kernels.hpp"
#include "zeta/rng/philox.hpp"

namespace zeta::models {

//! Single-spin sweeps (checkerboard Metropolis or heat-bath) or cluster moves.
enum class SpinMove { metropolis, heatbath, swendsen_wang, wolff };

inline bool cluster_move(SpinMove m) {
  return m == SpinMove::swendsen_wang || m == SpinMove::wolff;
}

//! A lattice chain's move: the kind, and for Wolff the clusters per step. A cluster
//! move with cluster_from > 0 is a hybrid (sampler.cluster_from): at β < cluster_from
//! each step is hot_sweeps heat-bath sweeps instead, where single-spin moves
//! decorrelate fast and cost a fraction of a cluster move; every replica must then
//! share one β (ais, sample).
struct SpinUpdate {
  SpinMove move = SpinMove::metropolis;
  int clusters = 1;
  double cluster_from = 0;
  int hot_sweeps = 1;
  SpinUpdate(SpinMove m = SpinMove::metropolis, int c = 1) : move(m), clusters(c) {}  // NOLINT: a SpinMove is one
};

template <class Space>
class Ising {
 public:
  using memory_space = typename Space::memory_space;
  using Spins = detail::Spins<Space>;
  using Betas = Kokkos::View<double*, memory_space>;
  using Table = detail::Table<Space>;
  static constexpr int kChunk = detail::kChunk;  //!< sites per RNG chunk: 8 Philox blocks × 4 words

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
      if (move == SpinMove::metropolis)
        half_sweep<true, false>(s, t, c, seed, offset, step, flips, {});
      else
        half_sweep<false, false>(s, t, c, seed, offset, step, flips, {});
    }
  }

  //! Per-replica integer sums of sweep_measure(): [Σ_bonds s_i s_j, Σ_i s_i].
  using Sums = detail::Sums<Space>;

  //! sweep(), and the energy and magnetisation of the swept states in E and M, equal
  //! to measure()'s, from what the half-sweeps hold anyway: Σ s_i over the new spins
  //! of both colours, and Σ_bonds s_i s_j = Σ_{colour 1} s_i · nb_i from the second
  //! half-sweep (every bond has one colour-1 end; nb_i sums colour-0 spins already
  //! swept). Integer sums, so exact; `sums` is scratch with a row per replica.
  void sweep_measure(const Spins& s, const Table& t, SpinMove move, std::uint32_t seed, std::int64_t offset,
                     std::int64_t step, const Counts<Space>& flips, const Sums& sums,
                     const Kokkos::View<double*, memory_space>& E, const Kokkos::View<double*, memory_space>& M) const {
    Kokkos::deep_copy(sums, std::int64_t(0));
    for (int c = 0; c < 2; ++c) {
      if (move == SpinMove::metropolis)
        half_sweep<true, true>(s, t, c, seed, offset, step, flips, sums);
      else
        half_sweep<false, true>(s, t, c, seed, offset, step, flips, sums);
    }
    const double J = J_, h = h_;
    Kokkos::parallel_for(
        "zeta::Ising::sweep_energy", RangePolicy<Space>(0, s.extent(0)), KOKKOS_LAMBDA(const int r) {
          E(r) = -J * double(sums(r, 0)) - h * double(sums(r, 1));
          M(r) = double(sums(r, 1));
        });
  }

  using Labels = detail::Labels<Space>;

  //! One cluster update of every replica r at β = beta(r) (Swendsen–Wang, or
  //! `clusters` Wolff clusters), keyed by Stream(seed, offset + r, step, kCluster);
  //! adds the flipped spins to `flips`. `a`, `b`: scratch [replicas, sites].
  //! E and M are not updated: measure().
  void cluster_sweep(const Spins& s, const Betas& beta, SpinMove move, int clusters, std::uint32_t seed,
                     std::int64_t offset, std::int64_t step, const Counts<Space>& flips, const Labels& a,
                     const Labels& b) const {
    if (move == SpinMove::wolff)
      detail::wolff<Space>(s, beta, L_, J_, h_, clusters, seed, offset, step, flips, a, b);
    else
      detail::swendsen_wang<Space>(s, beta, L_, J_, h_, seed, offset, step, flips, a, b);
  }

  //! Energy and magnetisation Σ s_i of every replica.
  void measure(const Spins& s, const Kokkos::View<double*, memory_space>& E,
               const Kokkos::View<double*, memory_space>& M) const {
    detail::measure<Space>(s, L_, J_, h_, E, M);
  }

 private:
  template <bool Metro, bool WithSums>
  void half_sweep(const Spins& s, const Table& t, int c, std::uint32_t seed, std::int64_t offset, std::int64_t step,
                  const Counts<Space>& flips, const Sums& sums) const {
    detail::half_sweep<Space, Metro, WithSums>(s, t, c, L_, seed, offset, step, flips, sums);
  }

  int L_;
  double J_, h_;
};

}  // namespace zeta::models
