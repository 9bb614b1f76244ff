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
  p[a < b ? b : a] = a < b ? a : b;  // the larger root under the smaller, without a branch (a = b: no-op)
}

//! Bit g (g < 8) set where spins a[g] and b[g] (±1 bytes) are equal: x ^ y is 0 or
//! 0xFE a byte, so its bit 1 marks a difference; the multiply gathers byte g's bit into bit 56 + g.
KOKKOS_INLINE_FUNCTION std::uint32_t equal_bits(const std::int8_t* a, const std::int8_t* b) {
  std::uint64_t x = 0, y = 0;
  for (int g = 0; g < 8; ++g) {
    x |= std::uint64_t(std::uint8_t(a[g])) << (8 * g);
    y |= std::uint64_t(std::uint8_t(b[g])) << (8 * g);
  }
  constexpr std::uint64_t ones = 0x0101010101010101ull;
  const std::uint64_t eq = (((x ^ y) >> 1) & ones) ^ ones;
  return static_cast<std::uint32_t>((eq * 0x0102040810204080ull) >> 56);
}

//! Storage column of row-major site k (Ising::index).
KOKKOS_INLINE_FUNCTION int storage(int k, int L) {
  const int i = k / L, j = k - i * L;
  return ((i + j) & 1) * (L * L / 2) + i * (L / 2) + j / 2;
}

//! Swendsen–Wang's labelling from the open-bond masks (site k: bit k mod 32 of word
//! k / 32, nm words): p[k] → a site of k's cluster, every cluster's root its smallest site.
KOKKOS_INLINE_FUNCTION void link_bonds(std::int32_t* KOKKOS_RESTRICT p, const std::uint32_t* KOKKOS_RESTRICT mright,
                                       const std::uint32_t* KOKKOS_RESTRICT mdown, int L, int nm) {
  const int n = L * L;
  constexpr int Q = 32;
  // Right bonds first: no down bond is linked yet, so a row's runs of open right
  // bonds need no find (every site points at its run's first site, a root) and
  // the row's wrap-around bond joins two roots (the smaller one stays root).
  for (int i = 0; i < L; ++i) {
    const int k0 = i * L;
    int cur = k0;
    p[k0] = k0;
    for (int k = k0, ke = k0 + L - 1; k < ke; ++k) {
      const int open = int((mright[k >> 5] >> (k & 31)) & 1u);
      cur ^= (cur ^ (k + 1)) & (open - 1);  // open ? cur : k + 1, without a branch
      p[k + 1] = cur;
    }
    const int kl = k0 + L - 1;
    if (((mright[kl >> 5] >> (kl & 31)) & 1u) && cur != k0) p[cur] = k0;
  }
  // Down bonds: unions with finds (roots stay each cluster's smallest site).
  // With L a multiple of 32 (rows are whole words) the down bond of site k is
  // skipped where it closes a square whose other three bonds are open: the down
  // bond of k − 1 and the right bonds of k − 1 and k − 1 + L (k not a row's
  // first site); it would join two sites already joined, so the clusters, and
  // every bit, are the same.
  const int wl = L % Q == 0 ? L / Q : 0;
  for (int q0 = 0; q0 < nm; ++q0) {
    std::uint32_t md = mdown[q0];
    if (wl) {
      const int qp = q0 == 0 ? nm - 1 : q0 - 1, qd = q0 + wl < nm ? q0 + wl : q0 + wl - nm;
      const int qdp = qd == 0 ? nm - 1 : qd - 1;
      const std::uint32_t first = (32 * q0) % L == 0 ? 1u : 0u;  // bit 0 is a row's first site
      const std::uint32_t sq = (mdown[q0] << 1 | mdown[qp] >> 31) & (mright[q0] << 1 | mright[qp] >> 31) &
                               (mright[qd] << 1 | mright[qdp] >> 31);
      md &= ~(sq & ~first);
    }
    while (md) {
      const int k = 32 * q0 + lowest_bit(md);
      md &= md - 1;
      unite(p, k, k + L < n ? k + L : k + L - n);
    }
  }
}

//! Swendsen–Wang's flips of replica r: every site whose root is marked (p[root] < 0);
//! returns the number of flipped spins.
template <class SV>
KOKKOS_INLINE_FUNCTION std::int64_t flip_marked(const SV& s, int r, const std::int32_t* KOKKOS_RESTRICT p, int L) {
  const int W = L / 2, H = L * W;
  // Each site flips with its root (p[root] < 0), without branches: f = −1 flips.
  std::int64_t flipped = 0;
  for (int i = 0; i < L; ++i) {
    std::int8_t* KOKKOS_RESTRICT ev = &s(r, (i & 1) * H + i * W);
    std::int8_t* KOKKOS_RESTRICT od = &s(r, ((i + 1) & 1) * H + i * W);
    const std::int32_t* KOKKOS_RESTRICT row = p + i * L;
    for (int m2 = 0; m2 < W; ++m2) {
      const int pe = row[2 * m2], po = row[2 * m2 + 1];
      const int fe = p[pe < 0 ? ~pe : pe] >> 31, fo = p[po < 0 ? ~po : po] >> 31;
      ev[m2] = static_cast<std::int8_t>((ev[m2] ^ fe) - fe);
      od[m2] = static_cast<std::int8_t>((od[m2] ^ fo) - fo);
      flipped -= fe + fo;
    }
  }
  return flipped;
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
        // Scratch in `work`: the open down and right bonds as bit masks, 32 sites a
        // word (site k is bit k mod 32 of word k / 32), then the spins in natural
        // (row-major) order, one byte a site.
        const int nm = (n + 31) / 32;
        std::int32_t* KOKKOS_RESTRICT wk = &work(r, 0);
        std::uint32_t* KOKKOS_RESTRICT mdown = reinterpret_cast<std::uint32_t*>(wk);
        std::uint32_t* KOKKOS_RESTRICT mright = mdown + nm;
        std::int8_t* KOKKOS_RESTRICT nat = reinterpret_cast<std::int8_t*>(wk + 2 * nm);
        // Row i in natural order: its even sites j = 2m are stored at (i & 1)·H + i·W + m, its odd ones
        // at the same place in the other half.
        for (int i = 0; i < L; ++i) {
          const std::int8_t* KOKKOS_RESTRICT ev = &s(r, (i & 1) * H + i * W);
          const std::int8_t* KOKKOS_RESTRICT od = &s(r, ((i + 1) & 1) * H + i * W);
          std::int8_t* KOKKOS_RESTRICT row = nat + i * L;
          for (int m = 0; m < W; ++m) row[2 * m] = ev[m], row[2 * m + 1] = od[m];
        }
        // The bond masks, 32 sites (64 bonds, 16 Philox blocks) at a time, without
        // branches: a bond is open when it is satisfied (J < 0: by anti-aligned
        // spins) and its word is below t_bond (t_bond = 0 for J = 0: never). Bond 2k:
        // word 2(q mod 2) of block q / 2 of the chunk, bond 2k + 1: the next word.
        constexpr int Q = 32, NB = 2 * Q / 4;
        std::uint64_t ch[NB];
        std::uint32_t blk[NB], w[4][NB];
        for (int l = 0; l < NB; ++l) ch[l] = chain;
        const bool anti = J < 0;
        const std::uint32_t always = t_bond == 0xFFFFFFFFu ? 1u : 0u;
        for (int k0 = 0, j0 = 0; k0 < n; k0 += Q) {
          for (int l = 0; l < NB; ++l) blk[l] = static_cast<std::uint32_t>(k0 / 2 + l);
          rng::philox_lanes<NB>(seed, std::uint64_t(step), rng::kCluster, ch, blk, w);
          const int kn = n - k0 < Q ? n - k0 : Q;
          std::uint32_t mr = 0, md = 0;
          if (L % Q == 0) {  // a chunk is 32 sites of one row: compare 8 spins a word (SWAR)
            std::uint32_t ur = 0, ud = 0;
            for (int l = 0; l < NB; ++l) {
              ur |= std::uint32_t(w[0][l] < t_bond) << (2 * l) | std::uint32_t(w[2][l] < t_bond) << (2 * l + 1);
              ud |= std::uint32_t(w[1][l] < t_bond) << (2 * l) | std::uint32_t(w[3][l] < t_bond) << (2 * l + 1);
            }
            const int kd = k0 + L < n ? k0 + L : k0 + L - n;
            std::uint32_t er = 0, ed = 0;
            for (int g = 0; g < Q; g += 8) {
              er |= equal_bits(nat + k0 + g, nat + k0 + g + 1) << g;
              ed |= equal_bits(nat + k0 + g, nat + kd + g) << g;
            }
            // The row's last site: its right neighbour is the row's first (the compare above
            // read the next row's first, or for the last row the byte after the spins, inside `work`).
            if ((k0 + Q) % L == 0)
              er = (er & 0x7FFFFFFFu) | std::uint32_t(nat[k0 + Q - 1] == nat[k0 + Q - L]) << 31;
            const std::uint32_t flip = anti ? 0xFFFFFFFFu : 0u, all = always ? 0xFFFFFFFFu : 0u;
            mr = (er ^ flip) & (ur | all);
            md = (ed ^ flip) & (ud | all);
          } else {
            for (int q = 0, j = j0; q < kn; ++q) {
              const int k = k0 + q, kr = j + 1 == L ? k + 1 - L : k + 1, kd = k + L < n ? k + L : k + L - n;
              const std::uint32_t er = std::uint32_t((nat[k] == nat[kr]) != anti);
              const std::uint32_t ed = std::uint32_t((nat[k] == nat[kd]) != anti);
              const std::uint32_t ur = std::uint32_t(w[2 * (q & 1)][q >> 1] < t_bond) | always;
              const std::uint32_t ud = std::uint32_t(w[2 * (q & 1) + 1][q >> 1] < t_bond) | always;
              mr |= (er & ur) << q;
              md |= (ed & ud) << q;
              j = j + 1 == L ? 0 : j + 1;
            }
          }
          mright[k0 / Q] = mr;
          mdown[k0 / Q] = md;
          j0 = (j0 + kn) % L;
        }
        link_bonds(p, mright, mdown, L, nm);
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
          if (field) {
            for (int q = 0; q < kn; ++q) {
              const int k = k0 + q;
              if (p[k] != k) continue;
              const std::uint32_t t = prob_threshold(1.0 / (1.0 + kmath::exp(2.0 * b * h * double(m[k]))));
              if (below(wf[q & 3][q >> 2], t)) p[k] = ~k;
            }
          } else {  // probability 1/2, without branches
            std::int32_t* KOKKOS_RESTRICT pc = p + k0;
            for (int q = 0; q < kn; ++q) {
              const std::int32_t f = -std::int32_t((pc[q] == k0 + q) & (~wf[q & 3][q >> 2] >> 31));
              pc[q] ^= f;  // ~k where the root flips
            }
          }
        }
        const std::int64_t flipped = flip_marked(s, r, p, L);
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
