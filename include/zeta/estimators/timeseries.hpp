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

namespace zeta {

//! K time series (one per level) kept as block sums whose length doubles when
//! there are too many blocks: batch means and the autocorrelation time at any
//! run length, in O(K) memory, independent of how long the run was planned to
//! be. The columns share their blocking, so a step is one pass over K values.
struct BlockSeries {
  static constexpr std::size_t kMaxBlocks = 64;  //!< few blocks: the series stays in cache
  int cols = 0;
  std::int64_t block_len = 1, n = 0, partial_n = 0;
  std::vector<double> partial, sum, sum2, blocks;  //!< blocks: [block][column]

  explicit BlockSeries(int columns = 0) : cols(columns), partial(columns), sum(columns), sum2(columns) {}
  std::size_t nblocks() const { return cols > 0 ? blocks.size() / cols : 0; }

  void add(const double* v) {
    ++n;
    for (int j = 0; j < cols; ++j) {
      sum[j] += v[j];
      sum2[j] += v[j] * v[j];
      partial[j] += v[j];
    }
    if (++partial_n == block_len) {
      blocks.insert(blocks.end(), partial.begin(), partial.end());
      std::fill(partial.begin(), partial.end(), 0.0);
      partial_n = 0;
      if (nblocks() == 2 * kMaxBlocks) {
        for (std::size_t i = 0; i < kMaxBlocks; ++i)
          for (int j = 0; j < cols; ++j)
            blocks[i * cols + j] = blocks[2 * i * cols + j] + blocks[(2 * i + 1) * cols + j];
        blocks.resize(kMaxBlocks * cols);
        block_len *= 2;
      }
    }
  }
  double mean(int j) const { return n > 0 ? sum[j] / double(n) : NAN; }
  //! Standard error of column j from up to 20 batch means of contiguous blocks (the
  //! partial block joins the last), and the integrated autocorrelation time
  //! τ = g / 2 with g = (batch length) · var(batch means) / var.
  void batch_stats(int j, double& stderr_out, double& tau_out) const {
    stderr_out = tau_out = NAN;
    const std::size_t nbk = nblocks();
    const std::size_t G = std::min<std::size_t>(20, nbk);
    if (G < 2) return;
    std::vector<double> means(G);
    double lens = 0;
    for (std::size_t g = 0; g < G; ++g) {
      const std::size_t a = g * nbk / G, b = (g + 1) * nbk / G;
      double s = 0;
      for (std::size_t i = a; i < b; ++i) s += blocks[i * cols + j];
      double len = double(b - a) * double(block_len);
      if (g + 1 == G) s += partial[j], len += double(partial_n);
      means[g] = s / len;
      lens += len;
    }
    const double m = mean(j);
    double ss = 0;
    for (double v : means) ss += (v - m) * (v - m);
    const double var_means = ss / double(G - 1);
    stderr_out = std::sqrt(var_means / double(G));
    const double var = sum2[j] / double(n) - m * m;
    tau_out = var > 0 ? 0.5 * (lens / double(G)) * var_means / var : NAN;
  }
  void pack(std::vector<double>& out) const {
    out.insert(out.end(), {double(cols), double(block_len), double(n), double(partial_n), double(nblocks())});
    for (const auto* v : {&partial, &sum, &sum2, &blocks}) out.insert(out.end(), v->begin(), v->end());
  }
  std::size_t unpack(const std::vector<double>& in, std::size_t at) {
    if (at + 5 > in.size()) throw Error("checkpoint statistics are truncated", false);
    const std::size_t nb = std::size_t(in[at + 4]);
    if (int(in[at]) != cols || in[at + 1] < 1 || nb > 2 * kMaxBlocks ||
        at + 5 + (3 + nb) * std::size_t(cols) > in.size())
      throw Error("checkpoint statistics are corrupt", false);
    block_len = std::int64_t(in[at + 1]), n = std::int64_t(in[at + 2]), partial_n = std::int64_t(in[at + 3]);
    at += 5;
    for (auto* v : {&partial, &sum, &sum2}) {
      v->assign(in.begin() + at, in.begin() + at + cols);
      at += cols;
    }
    blocks.assign(in.begin() + at, in.begin() + at + nb * cols);
    return at + nb * cols;
  }
};

//! ⟨x⟩ and its standard error from nb batch means pooled over chains: `all` holds
//! each chain's nb batch sums, [chain][batch] in global chain order, of a run whose
//! m planned steps were split into nb batches of contiguous steps (step t into
//! batch t·nb/m) of which `done` were made (an interrupted run leaves the last
//! batches short or empty). Summed in chain order, so the figures do not depend on
//! how chains are spread over ranks. std_error is NAN with fewer than two batches.
struct BatchMeans {
  double mean = NAN, std_error = NAN;
};
inline BatchMeans pooled_batch_means(const std::vector<double>& all, std::int64_t chains, int nb, std::int64_t m,
                                     std::int64_t done) {
  BatchMeans r;
  if (done <= 0) return r;
  std::vector<double> sums(nb, 0.0);
  std::vector<std::int64_t> len(nb, 0);
  for (std::int64_t t = 0; t < done; ++t) ++len[t * nb / m];
  for (std::int64_t c = 0; c < chains; ++c)
    for (int b = 0; b < nb; ++b) sums[b] += all[c * nb + b];
  double total = 0;
  std::vector<double> means;
  for (int b = 0; b < nb; ++b) {
    total += sums[b];
    if (len[b] > 0) means.push_back(sums[b] / (double(chains) * double(len[b])));
  }
  r.mean = total / (double(chains) * double(done));
  if (means.size() >= 2) {
    double ss = 0;
    for (double v : means) ss += (v - r.mean) * (v - r.mean);
    r.std_error = std::sqrt(ss / (double(means.size()) * double(means.size() - 1)));
  }
  return r;
}

//! The stride (in saved rows) that leaves roughly independent samples: the
//! statistical inefficiency g = 2 τ_int (τ_int in steps) over the saving interval,
//! rounded up, at least 1; 1 where τ_int is unknown (NAN).
inline std::int64_t thinning_stride(double tau_int, std::int64_t save_every) {
  const double g = std::isfinite(tau_int) ? 2 * tau_int / double(save_every) : 1.0;
  return std::max<std::int64_t>(1, std::int64_t(std::ceil(g)));
}

}  // namespace zeta
