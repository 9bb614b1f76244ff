//! Time-series statistics of MCMC output: batch means, the integrated
//! autocorrelation time τ_int, and the statistical inefficiency g = 2 τ_int that
//! thinning and the estimators' effective sample sizes use (as pymbar's
//! timeseries module keeps them apart from the estimators).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "zeta/core/error.hpp"

namespace zeta::estimators {

//! Standard error and integrated autocorrelation time of a mean from batch means:
//! the one method of every command (zeta sample's chains, zeta temper's levels).
struct BatchStats {
  double std_error = NAN;  //!< of the mean; NAN with fewer than two blocks
  double tau_int = NAN;    //!< in steps; NAN where the variance is unknown or zero
};

//! The blocking that BlockSeries and zeta sample's chains share: blocks of block_len
//! steps, the last of them (partial_n steps) unfinished; when 2·kMaxBlocks blocks are
//! complete, neighbours are merged pairwise and block_len doubles. The blocks thus
//! never depend on how long the run was planned to be, and a run stopped early holds
//! the blocks of the steps it made.
struct Blocking {
  static constexpr std::size_t kMaxBlocks = 64;  //!< few blocks: the sums stay in cache
  std::int64_t block_len = 1, partial_n = 0;
  std::size_t nblocks = 0;  //!< complete blocks
  enum Event { kWithin, kClosed, kMerge };
  //! Counts one step: kClosed when it completed a block; kMerge when that made
  //! 2·kMaxBlocks of them, which the caller then merges pairwise into kMaxBlocks
  //! (nblocks and block_len are already the merged ones).
  Event add() {
    if (++partial_n < block_len) return kWithin;
    partial_n = 0;
    if (++nblocks < 2 * kMaxBlocks) return kClosed;
    nblocks = kMaxBlocks;
    block_len *= 2;
    return kMerge;
  }
};

//! ⟨x⟩'s standard error from up to 20 batch means of contiguous blocks (the partial
//! block joins the last batch), and τ_int = g / 2 with the statistical inefficiency
//! g = (values per batch) · var(batch means) / var. `blocks` holds the nblocks
//! complete block sums (block i at blocks[i * stride]), each over block_len steps of
//! `series` series summed (zeta sample's chains; 1 for one series), `partial` the sum
//! over the partial_n steps of the unfinished block; `mean` is ⟨x⟩ and `var` the
//! variance of one value (NAN: τ_int unknown).
inline BatchStats batch_means(const double* blocks, std::size_t nblocks, std::size_t stride,
                              std::int64_t block_len, double partial, std::int64_t partial_n, double series,
                              double mean, double var) {
  BatchStats r;
  const std::size_t G = std::min<std::size_t>(20, nblocks);
  if (G < 2) return r;
  std::vector<double> means(G);
  double lens = 0;
  for (std::size_t g = 0; g < G; ++g) {
    const std::size_t a = g * nblocks / G, b = (g + 1) * nblocks / G;
    double s = 0;
    for (std::size_t i = a; i < b; ++i) s += blocks[i * stride];
    double len = double(b - a) * double(block_len);
    if (g + 1 == G) s += partial, len += double(partial_n);
    means[g] = s / (len * series);
    lens += len;
  }
  double ss = 0;
  for (double v : means) ss += (v - mean) * (v - mean);
  const double var_means = ss / double(G - 1);
  r.std_error = std::sqrt(var_means / double(G));
  r.tau_int = var > 0 ? 0.5 * (series * lens / double(G)) * var_means / var : NAN;
  return r;
}

//! K time series (one per level) kept as block sums by the shared Blocking: batch
//! means and the autocorrelation time at any run length, in O(K) memory. The
//! columns share their blocking, so a step is one pass over K values.
struct BlockSeries {
  static constexpr std::size_t kMaxBlocks = Blocking::kMaxBlocks;
  int cols = 0;
  Blocking blocking;
  std::int64_t n = 0;
  std::vector<double> partial, sum, sum2, blocks;  //!< blocks: [block][column]

  explicit BlockSeries(int columns = 0) : cols(columns), partial(columns), sum(columns), sum2(columns) {}
  std::size_t nblocks() const { return cols > 0 ? blocking.nblocks : 0; }

  void add(const double* v) {
    ++n;
    for (int j = 0; j < cols; ++j) {
      sum[j] += v[j];
      sum2[j] += v[j] * v[j];
      partial[j] += v[j];
    }
    const Blocking::Event e = blocking.add();
    if (e == Blocking::kWithin) return;
    blocks.insert(blocks.end(), partial.begin(), partial.end());
    std::fill(partial.begin(), partial.end(), 0.0);
    if (e == Blocking::kMerge) {
      for (std::size_t i = 0; i < kMaxBlocks; ++i)
        for (int j = 0; j < cols; ++j)
          blocks[i * cols + j] = blocks[2 * i * cols + j] + blocks[(2 * i + 1) * cols + j];
      blocks.resize(kMaxBlocks * cols);
    }
  }
  double mean(int j) const { return n > 0 ? sum[j] / double(n) : NAN; }
  //! Column j's standard error and τ_int by batch_means.
  BatchStats batch_stats(int j) const {
    const double m = mean(j);
    return batch_means(blocks.data() + j, nblocks(), std::size_t(cols), blocking.block_len, partial[j],
                       blocking.partial_n, 1.0, m, sum2[j] / double(n) - m * m);
  }
  void pack(std::vector<double>& out) const {
    out.insert(out.end(), {double(cols), double(blocking.block_len), double(n), double(blocking.partial_n),
                           double(nblocks())});
    for (const auto* v : {&partial, &sum, &sum2, &blocks}) out.insert(out.end(), v->begin(), v->end());
  }
  std::size_t unpack(const std::vector<double>& in, std::size_t at) {
    if (at + 5 > in.size()) throw Error("checkpoint statistics are truncated", false);
    const std::size_t nb = std::size_t(in[at + 4]);
    if (int(in[at]) != cols || in[at + 1] < 1 || nb >= 2 * kMaxBlocks ||
        at + 5 + (3 + nb) * std::size_t(cols) > in.size())
      throw Error("checkpoint statistics are corrupt", false);
    blocking.block_len = std::int64_t(in[at + 1]), n = std::int64_t(in[at + 2]);
    blocking.partial_n = std::int64_t(in[at + 3]), blocking.nblocks = nb;
    at += 5;
    for (auto* v : {&partial, &sum, &sum2}) {
      v->assign(in.begin() + at, in.begin() + at + cols);
      at += cols;
    }
    blocks.assign(in.begin() + at, in.begin() + at + nb * cols);
    return at + nb * cols;
  }
};

//! The statistical inefficiency g = 2 τ_int (τ_int in steps) of rows saved every
//! save_every steps, in rows; 1 where τ_int is unknown (NAN).
inline double statistical_inefficiency(double tau_int, std::int64_t save_every) {
  return std::isfinite(tau_int) ? 2 * tau_int / double(save_every) : 1.0;
}

//! The stride (in saved rows) that leaves roughly independent samples: the
//! statistical inefficiency over the saving interval, rounded up, at least 1.
inline std::int64_t thinning_stride(double tau_int, std::int64_t save_every) {
  return std::max<std::int64_t>(1, std::int64_t(std::ceil(statistical_inefficiency(tau_int, save_every))));
}

//! pymbar.timeseries.statisticalInefficiency(A_n, fast=fast, mintime=mintime): g = 1 + 2 Σ_t
//! C(t)(1 − t/N) over the normalised autocorrelation C, summed until C ≤ 0 past `mintime`
//! (with `fast`, lags t = 1, 2, 4, 7, … each weighted by its increment), at least 1. In
//! samples (g = 2 τ_int + 1, as pymbar counts it). Throws when the series is constant.
inline double statistical_inefficiency_of(const double* A, std::size_t N, bool fast = false, int mintime = 3) {
  double mu = 0;
  for (std::size_t n = 0; n < N; ++n) mu += A[n];
  mu /= double(N);
  std::vector<double> d(N);
  double s2 = 0;
  for (std::size_t n = 0; n < N; ++n) d[n] = A[n] - mu, s2 += d[n] * d[n];
  s2 /= double(N);
  if (!(s2 > 0)) throw Error("statistical inefficiency of a constant series", false);
  double g = 1;
  std::size_t t = 1, increment = 1;
  while (t + 1 < N) {
    double c = 0;
    for (std::size_t n = 0; n + t < N; ++n) c += d[n] * d[n + t] + d[n] * d[n + t];
    c /= 2.0 * double(N - t) * s2;
    if (c <= 0 && t > std::size_t(mintime)) break;
    g += 2.0 * c * (1.0 - double(t) / double(N)) * double(increment);
    t += increment;
    if (fast) ++increment;
  }
  return std::max(1.0, g);
}

//! pymbar.timeseries.detectEquilibration(A_t, fast, nskip): the start t0 that maximises the
//! effective number of samples N_eff = (T − t0 + 1) / g of A[t0:], with that g and N_eff
//! (float32, as pymbar keeps them; a constant tail counts as g = T − t0 + 1).
struct Equilibration {
  std::int64_t t0 = 0;
  double g = 1, neff = 1;
};
inline Equilibration detect_equilibration(const double* A, std::size_t T, bool fast = true, std::size_t nskip = 1) {
  Equilibration e;
  double mu = 0, s2 = 0;
  for (std::size_t n = 0; n < T; ++n) mu += A[n];
  mu /= double(T);
  for (std::size_t n = 0; n < T; ++n) s2 += (A[n] - mu) * (A[n] - mu);
  if (T < 2 || s2 == 0) return e;  // pymbar: (0, 1, 1) for a constant series
  std::vector<float> g(T - 1, 1.0f), neff(T - 1, 1.0f);
  for (std::size_t t = 0; t + 1 < T; t += nskip) {
    double gt;
    try {
      gt = statistical_inefficiency_of(A + t, T - t, fast);
    } catch (const Error&) {
      gt = double(T - t + 1);
    }
    g[t] = float(gt);
    neff[t] = float(double(T - t + 1) / double(g[t]));
  }
  const std::size_t best = std::size_t(std::max_element(neff.begin(), neff.end()) - neff.begin());
  e.t0 = std::int64_t(best);
  e.g = g[best];
  e.neff = neff[best];
  return e;
}

//! pymbar.timeseries.subsampleCorrelatedData(A_t, g): indices round(n g), n = 0, 1, …, below T,
//! without repeats (every ⌈g⌉-th with `conservative`).
inline std::vector<std::int64_t> subsample_indices(std::int64_t T, double g, bool conservative = false) {
  std::vector<std::int64_t> idx;
  if (conservative) {
    const auto stride = std::max<std::int64_t>(1, std::int64_t(std::ceil(g)));
    for (std::int64_t t = 0; t < T; t += stride) idx.push_back(t);
    return idx;
  }
  for (std::int64_t n = 0;; ++n) {
    const auto t = std::int64_t(std::nearbyint(double(n) * g));
    if (t >= T) break;
    if (idx.empty() || t != idx.back()) idx.push_back(t);
  }
  return idx;
}

//! pymbar's preparation of samples for MBAR, per state k: detectEquilibration of the
//! state's series A (its samples' reduced potentials in their own state, in time order),
//! then subsampleCorrelatedData of the equilibrated part at that g. A holds all states'
//! series one after another (N_k each); `keep` the kept global indices, in order.
struct Subsampled {
  std::vector<std::int64_t> keep, N_k, t0;
  std::vector<double> g;
};
inline Subsampled equilibrate_and_subsample(const std::vector<double>& A, const std::vector<std::int64_t>& N_k,
                                            std::size_t nskip = 1) {
  Subsampled s;
  std::int64_t start = 0;
  for (std::int64_t n : N_k) {
    std::int64_t kept = 0, t0 = 0;
    double g = 1;
    if (n > 0) {
      const Equilibration e = detect_equilibration(A.data() + start, std::size_t(n), true, nskip);
      t0 = e.t0, g = e.g;
      for (std::int64_t i : subsample_indices(n - t0, g)) s.keep.push_back(start + t0 + i), ++kept;
    }
    s.N_k.push_back(kept);
    s.t0.push_back(t0);
    s.g.push_back(g);
    start += n;
  }
  return s;
}

}  // namespace zeta::estimators
