//! The cluster moves of models/ising.hpp: Swendsen–Wang and Wolff, one work item
//! per replica (its whole lattice, serially: union-find is sequential, and the
//! batch of replicas is the parallelism, as for every other Zeta move).
//!
//! Sites are numbered k = i·L + j here (row-major, not the checkerboard storage
//! order of the spins, which the kernels read through Ising::index). Bond 2k joins
//! site k to its right neighbour (i, j + 1), bond 2k + 1 to the one below
//! (i + 1, j), periodically. A bond can be open only when it is satisfied,
//! J s_k s_n > 0, and then opens with p = 1 − e^{−2β|J|}, the Fortuin–Kasteleyn
//! probability (J < 0 works the same way: clusters of anti-aligned spins).
//!
//! Randomness (Stream(seed, replica, step, kCluster), uniforms as uint32 words u
//! compared with t = ⌊p·2³²⌋: u < t, or always when t = 2³² − 1):
//! - Swendsen–Wang: bond b opens with word b mod 4 of block b / 4; the cluster
//!   whose smallest site index is r flips with word r mod 4 of block 2³⁰ + r / 4,
//!   with probability 1/2, or with a field h the heat-bath probability of its two
//!   orientations, 1 / (1 + e^{2βhS}), S = Σ_{k∈C} s_k. Every number is a pure
//!   function of the bond or the cluster, not of the order the kernel visits
//!   them, so any labelling (union-find here, label propagation on a GPU) gives
//!   the same spins.
//! - Wolff, cluster c = 0 … clusters − 1 of the step: the seed site is
//!   ⌊u·N / 2³²⌋ with word 0 of block 2³¹ + c; bond b is tried (once at most, from
//!   the cluster side) with word b mod 4 of block c·N/2 + b / 4; the grown cluster
//!   flips always for h = 0, else with min(1, e^{−2βhS}) from word 1 of block 2³¹ + c.
#pragma once
#include <cstdint>

#include "zeta/core/math.hpp"
#include "zeta/core/types.hpp"
#include "zeta/rng/philox.hpp"

namespace zeta::models::detail {

//! Per-replica int32 scratch of the cluster moves, [replicas, sites].
template <class Space>
using Labels = Kokkos::View<std::int32_t**, Kokkos::LayoutRight, typename Space::memory_space>;

constexpr std::uint32_t kFlipBlock = 1u << 30;   //!< SW: first block of the cluster-flip words
constexpr std::uint32_t kWolffBlock = 1u << 31;  //!< Wolff: block of cluster c's seed and acceptance words

//! ⌊p·2³²⌋, or 2³² − 1 (always) for p ≥ 1: u < t accepts with probability p.
KOKKOS_INLINE_FUNCTION std::uint32_t prob_threshold(double p) {
  return p >= 1.0 ? 0xFFFFFFFFu : p <= 0.0 ? 0u : static_cast<std::uint32_t>(p * 4294967296.0);
}
KOKKOS_INLINE_FUNCTION bool below(std::uint32_t u, std::uint32_t t) {
  return u < t || t == 0xFFFFFFFFu;
}

//! Root of x with path halving; roots are their clusters' smallest site (links go to the smaller root).
KOKKOS_INLINE_FUNCTION int find_root(std::int32_t* KOKKOS_RESTRICT p, int x) {
  while (p[x] != x) {
    p[x] = p[p[x]];
    x = p[x];
  }
  return x;
}

//! Index of the lowest set bit of m ≠ 0.
KOKKOS_INLINE_FUNCTION int lowest_bit(std::uint32_t m) {
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
  return __ffs(static_cast<int>(m)) - 1;
#else
  return __builtin_ctz(m);
#endif
}

KOKKOS_INLINE_FUNCTION void unite(std::int32_t* KOKKOS_RESTRICT p, int a, int b) {
  a = find_root(p, a);
  b = find_root(p, b);
  if (a < b)
    p[b] = a;
  else if (b < a)
    p[a] = b;
}

//! Storage column of row-major site k (Ising::index).
KOKKOS_INLINE_FUNCTION int storage(int k, int L) {
  const int i = k / L, j = k - i * L;
  return ((i + j) & 1) * (L * L / 2) + i * (L / 2) + j / 2;
}

//! One Swendsen–Wang update of every replica r at β = beta(r); adds the flipped
//! spins to flips(r). `lab` and `work` are scratch [replicas, L²].
template <class Space, class SV, class B, class C>
void swendsen_wang(const SV& s, const B& beta, int L, double J, double h, std::uint32_t seed, std::int64_t offset,
                   std::int64_t step, const C& flips, const Labels<Space>& lab, const Labels<Space>& work) {
  const int n = L * L;
  const bool field = h != 0;
  Kokkos::parallel_for(
      "zeta::Ising::swendsen_wang", RangePolicy<Space>(0, s.extent(0)), KOKKOS_LAMBDA(const int r) {
        std::int32_t* KOKKOS_RESTRICT p = &lab(r, 0);
        const std::uint64_t chain = std::uint64_t(offset + r);
        const double b = beta(r);
        const std::uint32_t t_bond = J == 0 ? 0u : prob_threshold(1.0 - kmath::exp(-2.0 * b * kmath::fabs(J)));
        const int W = L / 2, H = L * W;
        auto spin_at = [&](int i, int j) { return int(s(r, ((i + j) & 1) * H + i * W + (j >> 1))); };
        for (int k = 0; k < n; ++k) p[k] = k;
        // Bonds of 32 sites (64 bonds, 16 Philox blocks) at a time; (i, j) is site k. The
        // open bonds of a chunk become two bit masks (right, down) without branches.
        // Right bonds are linked at once: no down bond is linked yet, so a row's runs
        // of open right bonds need no find (p[k + 1] = p[k], k's run root) and the
        // row's wrap-around bond joins two roots. The down masks wait in wk[chunk] for
        // the second pass, whose unions need finds (roots stay each cluster's minimum).
        constexpr int Q = 32, NB = 2 * Q / 4;
        std::uint64_t ch[NB];
        std::uint32_t blk[NB], w[4][NB];
        for (int l = 0; l < NB; ++l) ch[l] = chain;
        const int anti = J < 0 ? 1 : 0;  // J < 0: a bond is satisfied by anti-aligned spins
        std::int32_t* KOKKOS_RESTRICT wk = &work(r, 0);
        int i = 0, j = 0;
        for (int k0 = 0; k0 < n; k0 += Q) {
          for (int l = 0; l < NB; ++l) blk[l] = static_cast<std::uint32_t>(k0 / 2 + l);
          rng::philox_lanes<NB>(seed, std::uint64_t(step), rng::kCluster, ch, blk, w);
          const int kn = n - k0 < Q ? n - k0 : Q;
          std::uint32_t md = 0;
          for (int q = 0; q < kn; ++q) {
            const int k = k0 + q;
            const int jr = j + 1 == L ? 0 : j + 1, id = i + 1 == L ? 0 : i + 1;
            const int sk = spin_at(i, j);
            // bond 2k: block (2q)/4 = q/2, word 2(q mod 2); bond 2k + 1: the next word.
            const bool sr = J != 0 && ((sk == spin_at(i, jr)) ^ anti) && below(w[2 * (q & 1)][q >> 1], t_bond);
            const bool sd = J != 0 && ((sk == spin_at(id, j)) ^ anti) && below(w[2 * (q & 1) + 1][q >> 1], t_bond);
            md |= std::uint32_t(sd) << q;
            if (jr != 0) {
              p[k + 1] = sr ? p[k] : k + 1;
            } else if (sr && p[k] != i * L) {  // p[k] and i·L are roots: their runs
              p[p[k]] = i * L;
            }
            if (++j == L) j = 0, ++i;
          }
          wk[k0 / Q] = static_cast<std::int32_t>(md);
        }
        for (int k0 = 0; k0 < n; k0 += Q) {
          std::uint32_t md = static_cast<std::uint32_t>(wk[k0 / Q]);
          while (md) {
            const int k = k0 + lowest_bit(md);
            md &= md - 1;
            unite(p, k, k + L < n ? k + L : k + L - n);
          }
        }
        // Full compression in increasing order (p[k] ≤ k), and Σ s per cluster for a field.
        std::int32_t* KOKKOS_RESTRICT m = wk;
        if (field) {
          for (int k = 0; k < n; ++k) m[k] = 0;
          for (int a = 0, k = 0; a < L; ++a)
            for (int b2 = 0; b2 < L; ++b2, ++k) m[p[k] = p[p[k]]] += spin_at(a, b2);
        } else {
          for (int k = 0; k < n; ++k) p[k] = p[p[k]];
        }
        // Roots decide their cluster's flip (128 sites, 32 blocks at a time) and mark it as p[r] = ~r.
        constexpr int NF = 32;
        std::uint64_t chf[NF];
        std::uint32_t bf[NF], wf[4][NF];
        for (int l = 0; l < NF; ++l) chf[l] = chain;
        for (int k0 = 0; k0 < n; k0 += 4 * NF) {
          for (int l = 0; l < NF; ++l) bf[l] = kFlipBlock + static_cast<std::uint32_t>(k0 / 4 + l);
          rng::philox_lanes<NF>(seed, std::uint64_t(step), rng::kCluster, chf, bf, wf);
          const int kn = n - k0 < 4 * NF ? n - k0 : 4 * NF;
          for (int q = 0; q < kn; ++q) {
            const int k = k0 + q;
            if (p[k] != k) continue;
            const std::uint32_t t =
                field ? prob_threshold(1.0 / (1.0 + kmath::exp(2.0 * b * h * double(m[k])))) : 0x80000000u;
            if (below(wf[q & 3][q >> 2], t)) p[k] = ~k;
          }
        }
        std::int64_t flipped = 0;
        for (int a = 0, k = 0; a < L; ++a)
          for (int b2 = 0; b2 < L; ++b2, ++k) {
            const int root = p[k] < 0 ? ~p[k] : p[k];
            if (p[root] < 0) {
              const int c = ((a + b2) & 1) * H + a * W + (b2 >> 1);
              s(r, c) = static_cast<std::int8_t>(-s(r, c));
              ++flipped;
            }
          }
        flips(r) += flipped;
      });
}

//! `clusters` Wolff updates of every replica r at β = beta(r); adds the flipped
//! spins to flips(r). `mark` and `queue` are scratch [replicas, L²].
template <class Space, class SV, class B, class C>
void wolff(const SV& s, const B& beta, int L, double J, double h, int clusters, std::uint32_t seed, std::int64_t offset,
           std::int64_t step, const C& flips, const Labels<Space>& mark, const Labels<Space>& queue) {
  const int n = L * L;
  Kokkos::parallel_for(
      "zeta::Ising::wolff", RangePolicy<Space>(0, s.extent(0)), KOKKOS_LAMBDA(const int r) {
        std::int32_t* KOKKOS_RESTRICT seen = &mark(r, 0);
        std::int32_t* KOKKOS_RESTRICT qu = &queue(r, 0);
        const rng::Stream st(seed, std::uint64_t(offset + r), std::uint64_t(step), rng::kCluster);
        const double b = beta(r);
        const std::uint32_t t_bond = J == 0 ? 0u : prob_threshold(1.0 - kmath::exp(-2.0 * b * kmath::fabs(J)));
        for (int k = 0; k < n; ++k) seen[k] = -1;
        std::int64_t flipped = 0;
        for (int c = 0; c < clusters; ++c) {
          const auto ws = st.block(kWolffBlock + static_cast<std::uint32_t>(c));
          const int k0 = static_cast<int>((std::uint64_t(ws[0]) * std::uint64_t(n)) >> 32);
          const std::uint32_t base = static_cast<std::uint32_t>(c) * static_cast<std::uint32_t>(n / 2);
          int head = 0, tail = 0;
          std::int64_t S = 0;
          qu[tail++] = k0;
          seen[k0] = c;
          while (head < tail) {
            const int k = qu[head++], i = k / L, j = k - i * L;
            const int sk = s(r, storage(k, L));
            S += sk;
            // Neighbours and the bonds to them: right 2k, down 2k + 1, left 2·left, up 2·up + 1.
            const int left = i * L + (j == 0 ? L - 1 : j - 1), up = (i == 0 ? L - 1 : i - 1) * L + j;
            const int nbr[4] = {i * L + (j + 1 == L ? 0 : j + 1), (i + 1 == L ? 0 : i + 1) * L + j, left, up};
            const int bond[4] = {2 * k, 2 * k + 1, 2 * left, 2 * up + 1};
            for (int e = 0; e < 4; ++e) {
              const int nn = nbr[e];
              if (seen[nn] == c || !(J * sk * s(r, storage(nn, L)) > 0)) continue;
              const auto wb = st.block(base + static_cast<std::uint32_t>(bond[e] / 4));
              if (below(wb[bond[e] & 3], t_bond)) {
                seen[nn] = c;
                qu[tail++] = nn;
              }
            }
          }
          if (h != 0 && !below(ws[1], prob_threshold(kmath::exp(-2.0 * b * h * double(S))))) continue;
          for (int q = 0; q < tail; ++q) {
            const int cc = storage(qu[q], L);
            s(r, cc) = static_cast<std::int8_t>(-s(r, cc));
          }
          flipped += tail;
        }
        flips(r) += flipped;
      });
}

}  // namespace zeta::models::detail
