#include "zeta/estimators/mbar.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include <cblas.h>

// LAPACK (OpenBLAS exports it): symmetric eigen-decomposition, divide and conquer.
extern "C" void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w,
                        double* work, const int* lwork, int* iwork, const int* liwork, int* info);

#include "zeta/core/error.hpp"
#include "zeta/core/json.hpp"
#include "zeta/core/vmath.hpp"
#include "zeta/rng/philox.hpp"

namespace zeta::estimators {

void symmetric_eigen(std::vector<double> a, int n, std::vector<double>& w, std::vector<double>& V) {
  // LAPACK's divide and conquer (OpenBLAS ships it). a is symmetric, so its row-major
  // storage is its column-major storage; dsyevd leaves the eigenvectors as the columns
  // of a, column-major, and V is row-major with the eigenvectors as columns: V = aᵀ.
  w.assign(std::size_t(n), 0.0);
  V.assign(std::size_t(n) * n, 0.0);
  if (n == 0) return;
  for (double v : a)
    if (!std::isfinite(v)) throw Error("symmetric eigensolver: the matrix has a NaN or infinite entry", false);
  const char jobz = 'V', uplo = 'U';
  int info = 0, lwork = -1, liwork = -1, iwork_query = 0;
  double work_query = 0;
  dsyevd_(&jobz, &uplo, &n, a.data(), &n, w.data(), &work_query, &lwork, &iwork_query, &liwork, &info);
  if (info != 0) throw Error("symmetric eigensolver (LAPACK dsyevd): workspace query failed, info " + std::to_string(info), false);
  lwork = static_cast<int>(work_query);
  liwork = iwork_query;
  std::vector<double> work(std::size_t(std::max(1, lwork)));
  std::vector<int> iwork(std::size_t(std::max(1, liwork)));
  dsyevd_(&jobz, &uplo, &n, a.data(), &n, w.data(), work.data(), &lwork, iwork.data(), &liwork, &info);
  if (info != 0)
    throw Error("symmetric eigensolver (LAPACK dsyevd) did not converge, info " + std::to_string(info) +
                    " (a matrix with NaN or infinite entries?)", false);
  for (int i = 0; i < n; ++i)
    for (int e = 0; e < n; ++e) V[std::size_t(i) * n + e] = a[std::size_t(e) * n + i];
}

// GCC fuses a * b + c across statements (-ffp-contract=fast); a function compiled without
// contraction and kept out of line rounds its products. Clang contracts only within one
// expression.
#if defined(__GNUC__) && !defined(__clang__)
#define ZETA_NO_CONTRACT __attribute__((noinline, optimize("fp-contract=off")))
#else
#define ZETA_NO_CONTRACT __attribute__((noinline))
#endif

namespace {

constexpr int kLanes = 256;  // samples per chunk: a K×kLanes tile of weights stays in cache for the GEMM

//! First global sample of block b when N samples are cut into G blocks (the first N % G one larger).
std::int64_t block_start(std::int64_t b, std::int64_t N, std::int64_t G) {
  return b * (N / G) + std::min(b, N % G);
}

//! This rank's share of an MBAR problem: K rows of its samples, in whole blocks.
struct Problem {
  int K = 0;
  std::int64_t N = 0, G = 0;          // samples and blocks, globally
  std::int64_t b0 = 0, nb = 0;        // this rank's blocks
  std::int64_t offset = 0, count = 0; // this rank's samples
  const double* u = nullptr;          // K × count, or (E set) none:
  const double* E = nullptr;          // this rank's energies, u_kn = beta[k] E_n built a block at a time
  std::vector<double> beta;
  std::vector<const double*> A;       // extended: u_kn = beta[k] (E_n + Σ_j p[j][k] A[j][n])
  std::vector<std::vector<double>> p;
  std::vector<std::int64_t> N_k;
  std::vector<std::int64_t> start;    // first global sample of each state (K + 1 entries)
  std::vector<int> S;                 // sampled states (N_k > 0), in order
  const parallel::Comm* comm = nullptr;
  //! u_k(x_{offset + i}). Built from energies, β_k E_n is rounded to a double before the
  //! caller uses it, as a stored u_kn is (ZETA_NO_CONTRACT: no fused multiply-add with the
  //! caller's arithmetic), so both give the same bits.
  ZETA_NO_CONTRACT double u_at(int k, std::int64_t i) const {
    if (!E) return u[std::size_t(k) * count + i];
    if (A.empty()) return beta[k] * E[i];
    double e = E[i];
    for (std::size_t j = 0; j < A.size(); ++j) e += p[j][k] * A[j][i];
    return beta[k] * e;
  }
  //! The rows u_k(x_{offset + n0 + l}), l < nl, of every state: pointers into u, or into
  //! `tile` (K × kLanes) filled from the energies (the same products as a stored u_kn).
  ZETA_NO_CONTRACT void rows(std::int64_t n0, int nl, std::vector<double>& tile,
                             std::vector<const double*>& row) const {
    row.resize(K);
    if (!E) {
      for (int k = 0; k < K; ++k) row[k] = u + std::size_t(k) * count + n0;
      return;
    }
    tile.resize(std::size_t(K) * kLanes);
    for (int k = 0; k < K; ++k) {
      double* t = tile.data() + std::size_t(k) * kLanes;
      if (A.empty()) {
        for (int l = 0; l < nl; ++l) t[l] = beta[k] * E[n0 + l];
      } else {
        for (int l = 0; l < nl; ++l) {
          double e = E[n0 + l];
          for (std::size_t j = 0; j < A.size(); ++j) e += p[j][k] * A[j][n0 + l];
          t[l] = beta[k] * e;
        }
      }
      row[k] = t;
    }
  }
};

//! Sums of one pass over the samples, for the state list O with exponent offsets b_k:
//!   F = Σ_n c_n ld_n,  ld_n = ln Σ_{k∈S} e^{a_k − u_kn}  (a_k = f_k + ln N_k),
//!   col_j = Σ_n c_n Q_jn,  gram_ij = Σ_n c_n Q_in Q_jn,  Q_jn = e^{b_j − u_{O_j n} − ld_n}.
//! With O = S and b = a, Q = P (the state weights N_k W_nk, Σ_k P_kn = 1).
struct Sums {
  double F = 0;
  std::vector<double> col, gram;
};

//! Scales column j's Q of the lanes n0 .. n0 + nl − 1 in place: a state-dependent weight
//! (heat capacity), applied after the counts' square roots, so gram_ij = Σ_n s_in s_jn Q_in Q_jn.
using ColumnScale = std::function<void(int j, std::int64_t n0, int nl, double* q)>;

//! Σ_l c_l x_l in eight interleaved partial sums (a fixed order, so the same bits every
//! time, that the compiler keeps in one vector register instead of a serial chain).
double lane_dot(const double* c, const double* x, int n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int l = 0;
  for (; l + 8 <= n; l += 8)
    for (int i = 0; i < 8; ++i) acc[i] += c[l + i] * x[l + i];
  for (int i = 0; l < n; ++l, ++i) acc[i] += c[l] * x[l];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

//! e^min(x, 600): the cap is a bit select (a floating-point one in the lane loop costs its vectorization).
inline double exp_capped(double x) {
  const std::uint64_t high = 0 - static_cast<std::uint64_t>(x > 600.0);
  return vmath::exp_neg(vmath::as_double((vmath::as_u64(x) & ~high) | (vmath::as_u64(600.0) & high)));
}

Sums pass(const Problem& p, const std::vector<double>& a, const std::vector<int>& O, const std::vector<double>& b,
          const std::vector<double>* counts, bool want_gram, const ColumnScale* scale = nullptr) {
  const int mS = static_cast<int>(p.S.size()), mO = static_cast<int>(O.size());
  const std::size_t L = 1 + std::size_t(mO) + (want_gram ? std::size_t(mO) * mO : 0);
  std::vector<double> parts(std::size_t(p.nb) * L, 0.0);
  // E_sn = e^{a_k − u_kn − mx_n} (k = S[s]) gives ld_n = mx_n + ln Σ_s E_sn, and for a sampled
  // O_j = k also Q_jn = E_sn e^{b_j − a_k} / Σ_s E_sn: one exponential per sample and sampled
  // state. slot[j] = s, or −1 (an unsampled O_j, or b_j too far from a_k): e^{b_j − u − ld} itself.
  std::vector<int> slot(mO, -1), where(p.K, -1);
  std::vector<double> ratio(mO, 1.0);
  for (int s = 0; s < mS; ++s) where[p.S[s]] = s;
  bool inplace = mO == mS;  // O = S and b = a: Q is E, scaled in place
  for (int j = 0; j < mO; ++j) {
    const int s = where[O[j]];
    if (s >= 0 && std::fabs(b[j] - a[O[j]]) <= 64) slot[j] = s, ratio[j] = std::exp(b[j] - a[O[j]]);
    inplace = inplace && slot[j] == j && b[j] == a[O[j]];
  }
  std::vector<double> E(std::size_t(mS) * kLanes), Qown(inplace ? 0 : std::size_t(mO) * kLanes);
  double* Q = inplace ? E.data() : Qown.data();
  std::vector<double> mx(kLanes), sum(kLanes), ld(kLanes), inv(kLanes), c(kLanes), rc(kLanes);
  std::vector<double> aS(mS), tile;
  std::vector<const double*> row;
  for (int j = 0; j < mS; ++j) aS[j] = a[p.S[j]];
  for (std::int64_t blk = 0; blk < p.nb; ++blk) {
    double* part = parts.data() + blk * L;
    const std::int64_t lo = block_start(p.b0 + blk, p.N, p.G) - p.offset;
    const std::int64_t hi = block_start(p.b0 + blk + 1, p.N, p.G) - p.offset;
    for (std::int64_t n0 = lo; n0 < hi; n0 += kLanes) {
      const int nl = static_cast<int>(std::min<std::int64_t>(kLanes, hi - n0));
      // A stored u_kn streams from memory, K rows a chunk: fetch the next chunk's rows while this
      // one is computed (the hardware prefetcher does not follow K interleaved streams in time).
      const int ahead = p.E ? 0 : static_cast<int>(std::min<std::int64_t>(kLanes, p.count - (n0 + nl)));
      p.rows(n0, nl, tile, row);
      for (int l = 0; l < nl; ++l) sum[l] = 0, c[l] = counts ? (*counts)[n0 + l] : 1.0;
      if (want_gram && counts)
        for (int l = 0; l < nl; ++l) rc[l] = std::sqrt(c[l]);
      // The log-sum-exp's shift: the exponent a_k − u_kn of the state k that drew the sample, so
      // its term is 1 and Σ ≥ 1, without a sweep for the largest. Each term is capped at e^600; a
      // chunk whose sum reaches e^599 (a far larger exponent than the own state's) is redone with
      // the largest exponent as the shift.
      for (std::int64_t g = p.offset + n0, end = g + nl; g < end;) {
        const int k = int(std::upper_bound(p.start.begin(), p.start.end(), g) - p.start.begin()) - 1;
        const std::int64_t stop = std::min(end, p.start[k + 1]);
        const double* uk = row[k];
        const double ak = a[k];
        for (std::int64_t l = g - p.offset - n0; l < stop - p.offset - n0; ++l) mx[l] = ak - uk[l];
        g = stop;
      }
      for (int exact = 0; exact < 2; ++exact) {
        if (exact) {
          for (int l = 0; l < nl; ++l) mx[l] = -INFINITY, sum[l] = 0;
          for (int j = 0; j < mS; ++j) {
            const double* uk = row[p.S[j]];
            const double aj = aS[j];
            for (int l = 0; l < nl; ++l) mx[l] = std::max(mx[l], aj - uk[l]);
          }
        }
        for (int j = 0; j < mS; ++j) {
          const double* uk = row[p.S[j]];
          if (!exact)
            for (int l = 0; l < ahead; l += 8) __builtin_prefetch(uk + nl + l);
          const double aj = aS[j];
          double* e = E.data() + std::size_t(j) * kLanes;
          for (int l = 0; l < nl; ++l) {
            e[l] = exp_capped(aj - uk[l] - mx[l]);
            sum[l] += e[l];
          }
        }
        int big = 0;
        for (int l = 0; l < nl; ++l) big += sum[l] > 1e260;
        if (!big) break;
      }
      for (int l = 0; l < nl; ++l) ld[l] = mx[l] + std::log(sum[l]), inv[l] = 1 / sum[l];
      part[0] += lane_dot(c.data(), ld.data(), nl);
      for (int j = 0; j < mO; ++j) {
        double* q = Q + std::size_t(j) * kLanes;
        if (slot[j] >= 0) {
          const double* e = E.data() + std::size_t(slot[j]) * kLanes;
          const double rj = ratio[j];
          for (int l = 0; l < nl; ++l) q[l] = e[l] * inv[l] * rj;
        } else {
          const double* uk = row[O[j]];
          const double bj = b[j];
          for (int l = 0; l < nl; ++l) q[l] = vmath::exp_neg(bj - uk[l] - ld[l]);
        }
        if (scale) (*scale)(j, n0, nl, q);
        part[1 + j] += lane_dot(c.data(), q, nl);
        if (want_gram && counts)
          for (int l = 0; l < nl; ++l) q[l] *= rc[l];
      }
      if (want_gram)
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, mO, nl, 1.0, Q, kLanes, 1.0, part + 1 + mO, mO);
    }
  }
  // Block sums from every rank, added in block order: the same bits on any rank count.
  const std::vector<double> tot = p.comm->ordered_sum(parts, std::int64_t(L), parallel::Share{p.G, p.b0, p.nb});
  Sums s;
  s.F = tot[0];
  s.col.assign(tot.begin() + 1, tot.begin() + 1 + mO);
  if (want_gram) {
    s.gram.assign(tot.begin() + 1 + mO, tot.end());
    for (int i = 0; i < mO; ++i)
      for (int j = 0; j < i; ++j) s.gram[i * mO + j] = s.gram[j * mO + i];
  }
  return s;
}

//! Cholesky solve of the SPD system A x = b (n×n); false if A is not numerically positive definite.
bool cholesky_solve(std::vector<double> A, std::vector<double>& b, int n) {
  for (int j = 0; j < n; ++j) {
    double d = A[j * n + j];
    for (int k = 0; k < j; ++k) d -= A[j * n + k] * A[j * n + k];
    if (!(d > 1e-300)) return false;
    d = std::sqrt(d);
    A[j * n + j] = d;
    for (int i = j + 1; i < n; ++i) {
      double v = A[i * n + j];
      for (int k = 0; k < j; ++k) v -= A[i * n + k] * A[j * n + k];
      A[i * n + j] = v / d;
    }
  }
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < i; ++k) b[i] -= A[i * n + k] * b[k];
    b[i] /= A[i * n + i];
  }
  for (int i = n - 1; i >= 0; --i) {
    for (int k = i + 1; k < n; ++k) b[i] -= A[k * n + i] * b[k];
    b[i] /= A[i * n + i];
  }
  return true;
}

struct Solve {
  std::vector<double> f;  // all K states (unsampled ones untouched)
  Sums at_f;              // pass at the returned f, with the Hessian's GEMM
  int iterations = 0;
  bool converged = false;
  double gradient_norm = 0;  // max_j |Σ_n W_nj − 1| at f
};

//! Minimises F over f_S with f of the first sampled state held fixed.
Solve newton(const Problem& p, std::vector<double> f, const std::vector<double>* counts, double tol, int max_it) {
  const int m = static_cast<int>(p.S.size());
  std::vector<double> logN(m);
  for (int j = 0; j < m; ++j) logN[j] = std::log(double(p.N_k[p.S[j]]));
  // The pass and the objective F(f) = Σ_n c_n ld_n − Σ_k N_k f_k (a bootstrap resample keeps N_k per state).
  auto evaluate = [&](const std::vector<double>& ff) {
    std::vector<double> a(p.K, 0.0), b(m);
    for (int j = 0; j < m; ++j) a[p.S[j]] = b[j] = ff[p.S[j]] + logN[j];
    Sums s = pass(p, a, p.S, b, counts, true);
    for (int j = 0; j < m; ++j) s.F -= double(p.N_k[p.S[j]]) * ff[p.S[j]];
    return s;
  };
  auto grad_norm = [&](const Sums& s) {
    double g = 0;
    for (int j = 1; j < m; ++j) g = std::max(g, std::fabs(s.col[j] / double(p.N_k[p.S[j]]) - 1));
    return g;
  };
  Solve r;
  Sums e = evaluate(f);
  double prev_step = INFINITY;
  for (int it = 0; it < max_it && m > 1; ++it) {
    const int n = m - 1;
    std::vector<double> g(n), H(std::size_t(n) * n), d(n);
    for (int i = 0; i < n; ++i) {
      g[i] = e.col[i + 1] - double(p.N_k[p.S[i + 1]]);
      for (int j = 0; j < n; ++j) H[i * n + j] = (i == j ? e.col[i + 1] : 0.0) - e.gram[(i + 1) * m + (j + 1)];
      d[i] = -g[i];
    }
    const double gn = grad_norm(e);
    double step = 0;
    bool accepted = false;
    if (cholesky_solve(H, d, n)) {
      double slope = 0, dmax = 0;
      for (int i = 0; i < n; ++i) slope += g[i] * d[i], dmax = std::max(dmax, std::fabs(d[i]));
      if (dmax < tol) {  // the Newton step would move no f_k by tol: f is the solution, and e its pass
        r.converged = true;
        break;
      }
      double t = 1;
      for (int halving = 0; halving < 5 && !accepted; ++halving, t *= 0.5) {
        std::vector<double> ft = f;
        for (int i = 0; i < n; ++i) ft[p.S[i + 1]] += t * d[i];
        Sums et = evaluate(ft);
        // Armijo, or (where F has no digits left to show a decrease) a halved gradient with F
        // not up beyond rounding: never a jump that raises F, such as one that cuts states off.
        const bool flat = et.F <= e.F + 1e-12 * (std::fabs(e.F) + 1);
        if (et.F <= e.F + 1e-4 * t * slope || (flat && grad_norm(et) < 0.5 * gn)) {
          f = ft, e = std::move(et), step = t * dmax, accepted = true;
        }
      }
    }
    if (!accepted) {  // self-consistent iteration: f_k ← f_k − ln(Σ_n P_kn / N_k), which never increases F
      std::vector<double> ft = f;
      for (int j = 1; j < m; ++j) {
        ft[p.S[j]] -= std::log(e.col[j] / double(p.N_k[p.S[j]])) - std::log(e.col[0] / double(p.N_k[p.S[0]]));
        step = std::max(step, std::fabs(ft[p.S[j]] - f[p.S[j]]));
      }
      f = ft;
      e = evaluate(f);
    }
    ++r.iterations;
    if (step < tol || (step < 1e-10 && step > 0.5 * prev_step)) {  // converged, or at rounding level
      r.converged = true;
      break;
    }
    prev_step = step;
  }
  if (m == 1) r.converged = true;
  r.gradient_norm = grad_norm(e);
  r.f = std::move(f);
  r.at_f = std::move(e);
  return r;
}

//! The largest −u_kn − ld_n over every rank's samples, for each state of O.
std::vector<double> max_log_weight(const Problem& p, const std::vector<double>& a, const std::vector<int>& O) {
  std::vector<double> mx(O.size(), -INFINITY);
  for (std::int64_t n = 0; n < p.count; ++n) {
    double m = -INFINITY, s = 0;
    for (int k : p.S) m = std::max(m, a[k] - p.u_at(k, n));
    for (int k : p.S) s += std::exp(a[k] - p.u_at(k, n) - m);
    const double ld = m + std::log(s);
    for (std::size_t j = 0; j < O.size(); ++j)
      mx[j] = std::max(mx[j], -p.u_at(O[j], n) - ld);
  }
  for (auto& v : mx) v = p.comm->max(v);  // a maximum: the same on any rank count
  return mx;
}

//! f_k = −ln Σ_n e^{−u_kn − ld_n} for the unsampled states (pymbar's estimate for states without samples).
void fill_unsampled(const Problem& p, std::vector<double>& f) {
  std::vector<int> O;
  for (int k = 0; k < p.K; ++k)
    if (p.N_k[k] == 0) O.push_back(k);
  if (O.empty()) return;
  std::vector<double> a(p.K, 0.0);
  for (int k : p.S) a[k] = f[k] + std::log(double(p.N_k[k]));
  // Two passes: the first one's exponents are shifted by their largest value (no
  // underflow however far the state lies from the sampled ones), the second's by
  // the first estimate, so they lie near 0.
  const std::vector<double> mx = max_log_weight(p, a, O);
  for (int round = 0; round < 2; ++round) {
    std::vector<double> b(O.size());
    for (std::size_t j = 0; j < O.size(); ++j) b[j] = round == 0 ? -mx[j] : f[O[j]];
    const Sums s = pass(p, a, O, b, nullptr, false);
    for (std::size_t j = 0; j < O.size(); ++j) {
      const double v = b[j] - std::log(s.col[j]);
      f[O[j]] = std::isfinite(v) ? v : f[O[j]];
    }
  }
}

//! The bootstrap's multiplicity of each local sample: N_k draws with replacement
//! within each state, keyed by (seed, state, resample) so any rank count gives the same counts.
void resample_counts(const Problem& p, std::uint32_t seed, int resample, std::vector<double>& c) {
  c.assign(std::size_t(p.count), 0.0);
  for (int k = 0; k < p.K; ++k) {
    const std::int64_t lo = std::max(p.start[k], p.offset), hi = std::min(p.start[k + 1], p.offset + p.count);
    if (lo >= hi) continue;
    const rng::Stream st(seed, std::uint64_t(k), std::uint64_t(resample), rng::kBootstrap);
    for (std::int64_t j = 0; j < p.N_k[k]; ++j) {
      const std::int64_t at = p.start[k] + std::min<std::int64_t>(p.N_k[k] - 1, std::int64_t(st.uniform(std::uint32_t(j)) * double(p.N_k[k])));
      if (at >= lo && at < hi) c[at - p.offset] += 1;
    }
  }
}

}  // namespace

std::vector<double> svd_ew_covariance(const std::vector<double>& wtw, const std::vector<double>& counts) {
  // Wᵀ W = V Σ² Vᵀ, Θ = V Σ (I − Σ Vᵀ N V Σ)⁺ Σ Vᵀ (pymbar's "svd-ew"; pinv cut at 1e-10 of the largest).
  // With B = V Σ and I − Bᵀ N B = U diag(μ) Uᵀ: Θ = (B U) diag(1/μ) (B U)ᵀ, four GEMMs.
  const int K = static_cast<int>(counts.size());
  std::vector<double> lam, V;
  symmetric_eigen(wtw, K, lam, V);
  std::vector<double> B(std::size_t(K) * K), NB(std::size_t(K) * K);  // B = V Σ, NB = N B
  for (int i = 0; i < K; ++i)
    for (int j = 0; j < K; ++j) {
      B[std::size_t(i) * K + j] = V[std::size_t(i) * K + j] * std::sqrt(std::max(0.0, lam[j]));
      NB[std::size_t(i) * K + j] = counts[i] * B[std::size_t(i) * K + j];
    }
  std::vector<double> M(std::size_t(K) * K, 0.0);
  for (int i = 0; i < K; ++i) M[std::size_t(i) * K + i] = 1;
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, K, K, -1.0, B.data(), K, NB.data(), K, 1.0, M.data(), K);
  std::vector<double> mu, U;
  symmetric_eigen(M, K, mu, U);
  double mx = 0;
  for (double v : mu) mx = std::max(mx, std::fabs(v));
  std::vector<double> P(std::size_t(K) * K, 0.0), PD(std::size_t(K) * K);  // P = B U, PD = P diag(1/μ) (cut)
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, K, K, 1.0, B.data(), K, U.data(), K, 0.0, P.data(), K);
  for (int i = 0; i < K; ++i)
    for (int e = 0; e < K; ++e)
      PD[std::size_t(i) * K + e] = std::fabs(mu[e]) <= 1e-10 * mx ? 0.0 : P[std::size_t(i) * K + e] / mu[e];
  std::vector<double> theta(std::size_t(K) * K, 0.0);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, K, K, 1.0, PD.data(), K, P.data(), K, 0.0, theta.data(), K);
  return theta;
}

parallel::Share mbar_samples(std::int64_t N, const parallel::Comm& comm) {
  const std::int64_t G = std::max<std::int64_t>(1, std::min(kMbarBlocks, N));
  const parallel::Share blocks = comm.share(G);
  const std::int64_t lo = block_start(blocks.offset, N, G), hi = block_start(blocks.offset + blocks.count, N, G);
  return parallel::Share{N, lo, hi - lo};
}

MbarResult mbar_on_energies(const std::vector<double>& betas, const std::vector<double>& energies,
                            const std::vector<std::int64_t>& N_k, const parallel::Comm& comm, const MbarOptions& opt) {
  const parallel::Share mine = mbar_samples(std::int64_t(energies.size()), comm);
  const std::vector<double> local(energies.begin() + mine.offset, energies.begin() + mine.offset + mine.count);
  return mbar(MbarSamples::of_energies(betas, local), N_k, comm, opt);
}

namespace {

//! The problem of this rank's share of the samples: counts, blocks, checks.
Problem make_problem(const MbarSamples& src, const std::vector<std::int64_t>& N_k, const parallel::Comm& comm) {
  Problem p;
  p.K = static_cast<int>(N_k.size());
  p.N_k = N_k;
  p.start.assign(p.K + 1, 0);
  for (int k = 0; k < p.K; ++k) {
    if (N_k[k] < 0) throw Error("MBAR: negative sample count", false);
    p.start[k + 1] = p.start[k] + N_k[k];
    if (N_k[k] > 0) p.S.push_back(k);
  }
  p.N = p.start[p.K];
  if (p.K < 2 || p.N == 0) throw Error("MBAR needs at least 2 states and 1 sample", false);
  p.G = std::max<std::int64_t>(1, std::min(kMbarBlocks, p.N));
  const parallel::Share blocks = comm.share(p.G);
  p.b0 = blocks.offset, p.nb = blocks.count;
  const parallel::Share mine = mbar_samples(p.N, comm);
  p.offset = mine.offset, p.count = mine.count;
  p.comm = &comm;
  bool bad_size = false, bad_value = false;
  const std::vector<double>* values = src.energies ? src.energies : src.u;
  if (src.energies) {
    p.E = src.energies->data();
    p.beta = src.betas;
    bad_size = src.energies->size() != std::size_t(p.count) || src.betas.size() != std::size_t(p.K) ||
               src.coupled.size() != src.couplings.size();
    for (double b : src.betas) bad_value = bad_value || !std::isfinite(b);
    for (std::size_t j = 0; j < src.coupled.size() && !bad_size; ++j) {
      bad_size = !src.coupled[j] || src.coupled[j]->size() != std::size_t(p.count) ||
                 src.couplings[j].size() != std::size_t(p.K);
      if (bad_size) break;
      p.A.push_back(src.coupled[j]->data());
      p.p.push_back(src.couplings[j]);
      for (double v : src.couplings[j]) bad_value = bad_value || !std::isfinite(v);
      for (double v : *src.coupled[j]) bad_value = bad_value || !std::isfinite(v);
    }
  } else {
    p.u = src.u ? src.u->data() : nullptr;
    bad_size = !src.u || src.u->size() != std::size_t(p.K) * std::size_t(p.count);
  }
  if (!bad_size) {  // a count, not a short-circuit test: one vectorized sweep over K × count values
    std::size_t finite = 0;
    for (double v : *values) finite += std::fabs(v) <= std::numeric_limits<double>::max();
    bad_value = bad_value || finite != values->size();
  }
  if (comm.any(bad_size))
    throw Error("MBAR: a rank's reduced potentials do not match its share of the samples", false);
  if (comm.any(bad_value)) throw Error("MBAR: non-finite reduced potential (NaN or Inf energies)", false);
  return p;
}

//! Σ_n s_n and Σ_n s_n (1 − s_n) over n < len, s_n = 1 / (1 + e^{c + w_n}) (eight interleaved sums).
void fermi_sums(const double* w, std::int64_t len, double c, double& s1, double& s2) {
  double a1[8] = {0, 0, 0, 0, 0, 0, 0, 0}, a2[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  auto add = [&](int i, double x) {
    const double z = c + x, e = vmath::exp_neg(-std::fabs(z)), inv = 1 / (1 + e);
    const double v = (z > 0 ? e : 1.0) * inv;
    a1[i] += v, a2[i] += v * (1 - v);
  };
  std::int64_t l = 0;
  for (; l + 8 <= len; l += 8)
    for (int i = 0; i < 8; ++i) add(i, w[l + i]);
  for (int i = 0; l < len; ++l, ++i) add(i, w[l]);
  for (int i = 0; i < 8; ++i) s1 += a1[i], s2 += a2[i];
}

//! Initial guess: BAR between neighbouring sampled states (Shirts et al. 2003), from the TI-like
//! f_{j+1} − f_j ≈ ½(⟨u_{j+1} − u_j⟩_j + ⟨u_{j+1} − u_j⟩_{j+1}), chained. Closer to the MBAR solution
//! than TI, it saves the Newton solver a pass over every state's samples.
std::vector<double> initial_guess(const Problem& p) {
  const parallel::Comm& comm = *p.comm;
  const std::vector<std::int64_t>& N_k = p.N_k;
  const parallel::Share blocks = comm.share(p.G);
  const int m = static_cast<int>(p.S.size());
  std::vector<double> f(p.K, 0.0);
  if (m < 2) return f;
  const std::size_t L = 2 * std::size_t(m - 1);
  // Per local sample of S[j]: the works towards the next and the previous sampled state.
  std::vector<double> parts(std::size_t(p.nb) * L, 0.0), wf(std::size_t(p.count), 0.0), wr(std::size_t(p.count), 0.0);
  auto for_segments = [&](auto&& visit) {  // visit(block, j, first, last local sample of S[j] in it)
    for (std::int64_t blk = 0; blk < p.nb; ++blk) {
      const std::int64_t lo = block_start(p.b0 + blk, p.N, p.G), hi = block_start(p.b0 + blk + 1, p.N, p.G);
      for (int j = 0; j < m; ++j) {
        const std::int64_t a = std::max(lo, p.start[p.S[j]]), z = std::min(hi, p.start[p.S[j] + 1]);
        if (a < z) visit(blk, j, a - p.offset, z - p.offset);
      }
    }
  };
  for_segments([&](std::int64_t blk, int j, std::int64_t a, std::int64_t z) {
    const int k = p.S[j];
    for (std::int64_t i = a; i < z; ++i) {
      if (j + 1 < m) parts[blk * L + 2 * j] += wf[i] = p.u_at(p.S[j + 1], i) - p.u_at(k, i);
      if (j > 0) parts[blk * L + 2 * (j - 1) + 1] += p.u_at(k, i) - p.u_at(p.S[j - 1], i), wr[i] = p.u_at(p.S[j - 1], i) - p.u_at(k, i);
    }
  });
  const std::vector<double> tot = comm.ordered_sum(parts, std::int64_t(L), blocks);
  std::vector<double> ti(m - 1), bar(m - 1), M(m - 1), step(m - 1, INFINITY);
  for (int j = 0; j + 1 < m; ++j) {
    ti[j] = bar[j] = 0.5 * (tot[2 * j] / double(N_k[p.S[j]]) + tot[2 * j + 1] / double(N_k[p.S[j + 1]]));
    M[j] = std::log(double(N_k[p.S[j]]) / double(N_k[p.S[j + 1]]));
  }
  // BAR's Δ_j solves Σ_{n∈j} s(M_j + wf_n − Δ_j) = Σ_{n∈j+1} s(−M_j + wr_n + Δ_j), s(z) = 1/(1 + e^z),
  // M_j = ln(N_j / N_{j+1}); the left side minus the right rises with Δ_j. Newton on every pair at
  // once, one block-ordered sum a step (the same bits on any rank count), steps capped at 1 nat.
  for (int it = 0; it < 20; ++it) {
    std::fill(parts.begin(), parts.end(), 0.0);
    for_segments([&](std::int64_t blk, int j, std::int64_t a, std::int64_t z) {
      double* part = parts.data() + blk * L;
      double s1 = 0, s2 = 0;
      if (j + 1 < m) {
        fermi_sums(wf.data() + a, z - a, M[j] - bar[j], s1, s2);
        part[2 * j] += s1, part[2 * j + 1] += s2;
      }
      if (j > 0) {
        s1 = s2 = 0;
        fermi_sums(wr.data() + a, z - a, bar[j - 1] - M[j - 1], s1, s2);
        part[2 * (j - 1)] -= s1, part[2 * (j - 1) + 1] += s2;
      }
    });
    const std::vector<double> g = comm.ordered_sum(parts, std::int64_t(L), blocks);
    double largest = 0;
    for (int j = 0; j + 1 < m; ++j) {
      step[j] = std::max(-1.0, std::min(1.0, -g[2 * j] / g[2 * j + 1]));
      if (std::isfinite(step[j])) bar[j] += step[j];
      largest = std::max(largest, std::fabs(step[j]));
    }
    if (!(largest >= 1e-10)) break;
  }
  for (int j = 0; j + 1 < m; ++j)  // a pair whose BAR did not settle (little overlap) keeps TI's
    f[p.S[j + 1]] = f[p.S[j]] + (std::fabs(step[j]) < 1e-8 ? bar[j] : ti[j]);
  return f;
}

//! Wᵀ W of the normalised weights W_nk = e^{f_k − u_kn − ld_n} of every state (r.wtw),
//! the asymptotic covariance Θ of f (r.theta) and the standard errors of f_k − f_0.
void asymptotic_covariance(const Problem& p, const Solve& sol, const std::vector<double>& f, MbarResult& r) {
  const std::vector<std::int64_t>& N_k = p.N_k;
  const int m = static_cast<int>(p.S.size());
  const int K = p.K;
  std::vector<double> A(std::size_t(K) * K, 0.0);
  if (m == K) {  // W_kn = P_kn / N_k: the solver's last GEMM
    for (int i = 0; i < K; ++i)
      for (int j = 0; j < K; ++j) A[i * K + j] = sol.at_f.gram[i * K + j] / (double(N_k[i]) * double(N_k[j]));
  } else {
    std::vector<double> a(K, 0.0);
    for (int k : p.S) a[k] = f[k] + std::log(double(N_k[k]));
    std::vector<int> O(K);
    for (int k = 0; k < K; ++k) O[k] = k;
    A = pass(p, a, O, f, nullptr, true).gram;
  }
  r.wtw = A;
  r.theta = svd_ew_covariance(A, std::vector<double>(N_k.begin(), N_k.end()));
  r.df_stderr.resize(K);
  for (int k = 0; k < K; ++k)
    r.df_stderr[k] = std::sqrt(std::max(0.0, r.theta[k * K + k] + r.theta[0] - 2 * r.theta[k * K]));
}

//! The bootstrap's standard errors of f_k − f_0 (opt.bootstrap > 0).
void bootstrap_stderr(const Problem& p, const Solve& sol, const MbarOptions& opt, MbarResult& r) {
  const int K = p.K;
    // Resample within each state, re-solve from the estimate, and take the spread of f_k − f_0.
    std::vector<double> mean(K, 0.0), sq(K, 0.0), c;
    for (int b = 0; b < opt.bootstrap; ++b) {
      resample_counts(p, opt.seed, b, c);
      Solve sb = newton(p, sol.f, &c, 1e-7, opt.max_iterations);  // far below the spread it measures
      fill_unsampled(p, sb.f);
      r.f_bootstrap.push_back(sb.f);
      for (int k = 0; k < K; ++k) {
        const double d = sb.f[k] - sb.f[0];
        mean[k] += d;
        sq[k] += d * d;
      }
    }
    r.df_bootstrap_stderr.resize(K);
    const double draws = opt.bootstrap;
    for (int k = 0; k < K; ++k)
      r.df_bootstrap_stderr[k] =
          draws > 1 ? std::sqrt(std::max(0.0, (sq[k] - mean[k] * mean[k] / draws) / (draws - 1))) : 0.0;
}

}  // namespace

MbarResult mbar(const std::vector<double>& u_local, const std::vector<std::int64_t>& N_k, const parallel::Comm& comm,
                const MbarOptions& opt) {
  return mbar(MbarSamples::potentials(u_local), N_k, comm, opt);
}

MbarResult mbar(const MbarSamples& samples, const std::vector<std::int64_t>& N_k, const parallel::Comm& comm,
                const MbarOptions& opt) {
  Problem p = make_problem(samples, N_k, comm);
  std::vector<double> f = initial_guess(p);
  Solve sol = newton(p, f, nullptr, opt.tol, opt.max_iterations);
  f = sol.f;
  fill_unsampled(p, f);
  const double f0 = f[0];
  for (auto& v : f) v -= f0;
  MbarResult r;
  r.f = f;
  r.iterations = sol.iterations;
  r.converged = sol.converged;
  r.gradient_norm = sol.gradient_norm;
  asymptotic_covariance(p, sol, f, r);
  if (opt.bootstrap > 0) {
    r.bootstrap_seed = opt.seed;
    bootstrap_stderr(p, sol, opt, r);
  }
  return r;
}

MbarAnalysis mbar_analysis(const MbarResult& r, const std::vector<std::int64_t>& N_k) {
  const int K = static_cast<int>(N_k.size());
  if (r.f.size() != std::size_t(K) || r.theta.size() != std::size_t(K) * K || r.wtw.size() != std::size_t(K) * K)
    throw Error("MBAR analysis: the solution does not match the states", false);
  MbarAnalysis a;
  a.Delta_f.resize(std::size_t(K) * K);
  a.dDelta_f.resize(std::size_t(K) * K);
  a.overlap.resize(std::size_t(K) * K);
  std::vector<double> sym(std::size_t(K) * K);  // N^½ Wᵀ W N^½: O's eigenvalues, symmetric
  for (int i = 0; i < K; ++i)
    for (int j = 0; j < K; ++j) {
      const std::size_t ij = std::size_t(i) * K + j;
      a.Delta_f[ij] = r.f[j] - r.f[i];
      const double d2 = r.theta[std::size_t(i) * K + i] + r.theta[std::size_t(j) * K + j] - 2 * r.theta[ij];
      a.dDelta_f[ij] = std::sqrt(std::max(0.0, d2));
      a.overlap[ij] = double(N_k[j]) * r.wtw[ij];
      sym[ij] = std::sqrt(double(N_k[i]) * double(N_k[j])) * r.wtw[ij];
    }
  std::vector<double> V, w;
  symmetric_eigen(sym, K, w, V);
  std::vector<int> order(K);
  for (int k = 0; k < K; ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return w[x] > w[y]; });
  for (int k : order) a.overlap_eigenvalues.push_back(w[k]);
  a.overlap_scalar = 1 - a.overlap_eigenvalues[1];
  // O = N^-½ sym N^½: O's right eigenvector is N^-½ v, of the same signs on sampled states.
  a.overlap_split.assign(K, 0.0);
  for (int k = 0; k < K; ++k)
    if (N_k[k] > 0) a.overlap_split[k] = V[std::size_t(k) * K + order[1]] >= 0 ? 1.0 : -1.0;
  a.effective_samples.resize(K);
  for (int k = 0; k < K; ++k) a.effective_samples[k] = 1 / r.wtw[std::size_t(k) * K + k];
  return a;
}

namespace {

//! ⟨A_k⟩_k and its standard error for an observable that may depend on the state (A_kn), from
//! the sums at the solution: c_k = Σ_n W_nk and G = Wᵀ W (base), m_k = Σ_n A_kn W_nk,
//! S1[i·K + j] = Σ_n A_in W_ni W_nj and S2[i·K + j] = Σ_n A_in A_jn W_ni W_nj (A > 0).
//! The states are augmented as pymbar does: K states, K normalised copies (W_nk / c_k), K
//! observable states (A_kn W_nk / m_k); their covariance gives the error of the ratio m_k / c_k.
void ratio_expectation(const std::vector<std::int64_t>& N_k, const Sums& base, const std::vector<double>& m,
                       const std::vector<double>& S1, const std::vector<double>& S2, std::vector<double>& mean,
                       std::vector<double>& sigma) {
  const int K = static_cast<int>(N_k.size()), M = 3 * K;
  std::vector<double> G(std::size_t(M) * M), counts(M, 0.0);
  const auto& c = base.col;
  for (int i = 0; i < K; ++i) {
    counts[i] = double(N_k[i]);
    for (int j = 0; j < K; ++j) {
      const double g = base.gram[i * K + j], a_i = S1[i * K + j], a_j = S1[j * K + i];
      auto at = [&](int bi, int bj) -> double& { return G[std::size_t(bi * K + i) * M + bj * K + j]; };
      at(0, 0) = g;
      at(0, 1) = g / c[j], at(1, 0) = g / c[i];
      at(0, 2) = a_j / m[j], at(2, 0) = a_i / m[i];
      at(1, 1) = g / (c[i] * c[j]);
      at(1, 2) = a_j / (c[i] * m[j]), at(2, 1) = a_i / (m[i] * c[j]);
      at(2, 2) = S2[i * K + j] / (m[i] * m[j]);
    }
  }
  const std::vector<double> theta = svd_ew_covariance(G, counts);
  mean.resize(K);
  sigma.resize(K);
  for (int k = 0; k < K; ++k) {
    mean[k] = m[k] / c[k];
    const std::size_t s = std::size_t(2 * K + k), l = std::size_t(K + k);
    const double var = theta[s * M + s] + theta[l * M + l] - 2 * theta[s * M + l];
    sigma[k] = mean[k] * std::sqrt(std::max(0.0, var));
  }
}

}  // namespace

namespace {

//! The standard deviation over resamples of values accumulated one resample at a time.
struct Spread {
  std::vector<double> sum, sq;
  std::vector<int> draws;
  explicit Spread(std::size_t n) : sum(n, 0.0), sq(n, 0.0), draws(n, 0) {}
  void add(std::size_t i, double v) {
    if (!std::isfinite(v)) return;
    sum[i] += v, sq[i] += v * v, ++draws[i];
  }
  std::vector<double> stddev() const {
    std::vector<double> s(sum.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
      const double n = draws[i];
      s[i] = n > 1 ? std::sqrt(std::max(0.0, (sq[i] - sum[i] * sum[i] / n) / (n - 1))) : NAN;
    }
    return s;
  }
};

//! For each bootstrap resample b of r: the counts c_n (resample_counts) and the exponents
//! a_k = f_k + ln N_k of its solution f = r.f_bootstrap[b] (sampled states).
template <class F>
void for_each_resample(const Problem& p, const MbarResult& r, F&& visit) {
  std::vector<double> c;
  for (std::size_t b = 0; b < r.f_bootstrap.size(); ++b) {
    resample_counts(p, r.bootstrap_seed, int(b), c);
    const std::vector<double>& f = r.f_bootstrap[b];
    std::vector<double> a(p.K, 0.0);
    for (int k : p.S) a[k] = f[k] + std::log(double(p.N_k[k]));
    visit(c, f, a);
  }
}

//! Σ_n c_n w_n W_nk for every state k at the solution f (exponents a): w weights the counts.
std::vector<double> weighted_col(const Problem& p, const std::vector<double>& a, const std::vector<double>& f,
                                 const std::vector<double>& c, const std::vector<double>* w) {
  std::vector<int> O(p.K);
  for (int k = 0; k < p.K; ++k) O[k] = k;
  if (!w) return pass(p, a, O, f, &c, false).col;
  std::vector<double> cw(c.size());
  for (std::size_t n = 0; n < c.size(); ++n) cw[n] = c[n] * (*w)[n];
  return pass(p, a, O, f, &cw, false).col;
}

}  // namespace

std::vector<MbarExpectation> mbar_expectations(const std::vector<double>& u_local, const std::vector<std::int64_t>& N_k,
                                               const MbarResult& r, const std::vector<std::vector<double>>& A_local,
                                               const parallel::Comm& comm) {
  return mbar_expectations(MbarSamples::potentials(u_local), N_k, r, A_local, comm);
}

std::vector<MbarExpectation> mbar_expectations(const MbarSamples& samples, const std::vector<std::int64_t>& N_k,
                                               const MbarResult& r, const std::vector<std::vector<double>>& A_local,
                                               const parallel::Comm& comm) {
  const Problem p = make_problem(samples, N_k, comm);
  const int K = p.K;
  bool bad = false;
  for (const auto& A : A_local) bad = bad || A.size() != std::size_t(p.count);
  if (comm.any(bad)) throw Error("MBAR: a rank's observable does not match its share of the samples", false);
  std::vector<double> a(K, 0.0);
  for (int k : p.S) a[k] = r.f[k] + std::log(double(N_k[k]));
  std::vector<int> O(K);
  for (int k = 0; k < K; ++k) O[k] = k;
  // Σ_n W_nk and Wᵀ W at the solution; per observable Σ_n A'_n W_nk W_nj and Σ_n A'_n² W_nk W_nj.
  const Sums base = pass(p, a, O, r.f, nullptr, true);
  const double logfactor = 4 * std::numeric_limits<double>::epsilon();
  std::vector<MbarExpectation> out;
  for (const auto& A : A_local) {
    // pymbar makes A positive (A' = A − A_min + |4ε A_min|) to work with ln A'.
    double lo = INFINITY;
    for (double v : A) lo = std::min(lo, v);
    const double A_min = -comm.max(-lo);
    const double shift = A_min - std::fabs(logfactor * A_min);
    std::vector<double> c1(A.size()), c2(A.size());
    for (std::size_t n = 0; n < A.size(); ++n) c1[n] = A[n] - shift, c2[n] = c1[n] * c1[n];
    const Sums s1 = pass(p, a, O, r.f, &c1, true), s2 = pass(p, a, O, r.f, &c2, true);
    std::vector<double> mean, sigma;
    ratio_expectation(N_k, base, s1.col, s1.gram, s2.gram, mean, sigma);  // s1.gram is symmetric
    MbarExpectation e;
    e.mu.resize(K);
    e.sigma = sigma;
    for (int k = 0; k < K; ++k) e.mu[k] = mean[k] + (A_min - logfactor);  // ⟨A'⟩_k shifted back
    out.push_back(std::move(e));
  }
  if (!r.f_bootstrap.empty()) {  // ⟨A⟩_k = Σ c A' W_k / Σ c W_k of each resample at its own solution
    std::vector<Spread> spread(A_local.size(), Spread(std::size_t(K)));
    for_each_resample(p, r, [&](const std::vector<double>& c, const std::vector<double>& f, const std::vector<double>& a) {
      const std::vector<double> c0 = weighted_col(p, a, f, c, nullptr);
      for (std::size_t o = 0; o < A_local.size(); ++o) {
        const std::vector<double> c1 = weighted_col(p, a, f, c, &A_local[o]);
        for (int k = 0; k < K; ++k) spread[o].add(std::size_t(k), c1[k] / c0[k]);
      }
    });
    for (std::size_t o = 0; o < A_local.size(); ++o) out[o].sigma_bootstrap = spread[o].stddev();
  }
  return out;
}

MbarExpectation mbar_heat_capacity(const MbarSamples& samples, const std::vector<std::int64_t>& N_k,
                                   const MbarResult& r, const parallel::Comm& comm) {
  if (!samples.energies) throw Error("MBAR heat capacity: needs states given by beta (energies), not u_kn", false);
  const Problem p = make_problem(samples, N_k, comm);
  const int K = p.K;
  const std::size_t C = samples.coupled.size(), count = samples.energies->size();
  // State k's energy H_kn = E_n + Σ_c p_kc A_cn (u_kn = β_k H_kn), its variables centred on the
  // midpoints of their ranges (the same on every rank); a shift per state leaves Var_k H_k alone.
  std::vector<std::vector<double>> x(1 + C, std::vector<double>(count));
  for (std::size_t v = 0; v <= C; ++v) {
    const std::vector<double>& src = v == 0 ? *samples.energies : *samples.coupled[v - 1];
    double lo = INFINITY, hi = -INFINITY;
    for (double e : src) lo = std::min(lo, e), hi = std::max(hi, e);
    const double mid = 0.5 * ((-comm.max(-lo)) + comm.max(hi));
    for (std::size_t n = 0; n < count; ++n) x[v][n] = src[n] - mid;
  }
  auto energy = [&](int k, std::int64_t n) {
    double h = x[0][n];
    for (std::size_t c = 0; c < C; ++c) h += samples.couplings[c][k] * x[1 + c][n];
    return h;
  };
  std::vector<double> a(K, 0.0);
  for (int k : p.S) a[k] = r.f[k] + std::log(double(N_k[k]));
  // Column j < K: W_nj; column K + j: W_nj times a state-dependent weight.
  std::vector<int> O(2 * K);
  std::vector<double> b(2 * K);
  for (int k = 0; k < 2 * K; ++k) O[k] = k % K, b[k] = r.f[k % K];
  // The centres c_k = ⟨H_k⟩_k (pymbar: computeExpectations of E, then the state-dependent (E − ⟨E⟩_k)²).
  const ColumnScale by_energy = [&](int j, std::int64_t n0, int nl, double* q) {
    if (j >= K)
      for (int l = 0; l < nl; ++l) q[l] *= energy(j - K, n0 + l);
  };
  const Sums first = pass(p, a, O, b, nullptr, false, &by_energy);
  std::vector<double> centre(K);
  for (int k = 0; k < K; ++k) centre[k] = first.col[K + k] / first.col[k];
  const ColumnScale by_square = [&](int j, std::int64_t n0, int nl, double* q) {
    if (j < K) return;
    for (int l = 0; l < nl; ++l) {
      const double d = energy(j - K, n0 + l) - centre[j - K];
      q[l] *= d * d;
    }
  };
  const Sums s = pass(p, a, O, b, nullptr, true, &by_square);
  // The blocks of the 2K × 2K Gram matrix: Wᵀ W, Σ_n w_in W_ni W_nj and Σ_n w_in w_jn W_ni W_nj.
  const std::size_t KK = std::size_t(K) * K, M = 2 * std::size_t(K);
  Sums base;
  base.col.assign(s.col.begin(), s.col.begin() + K);
  base.gram.resize(KK);
  std::vector<double> m(s.col.begin() + K, s.col.end()), S1(KK), S2(KK);
  for (int i = 0; i < K; ++i)
    for (int j = 0; j < K; ++j) {
      base.gram[i * K + j] = s.gram[i * M + j];
      S1[i * K + j] = s.gram[(K + i) * M + j];
      S2[i * K + j] = s.gram[(K + i) * M + K + j];
    }
  std::vector<double> var, dvar;
  ratio_expectation(N_k, base, m, S1, S2, var, dvar);
  MbarExpectation out;
  for (int k = 0; k < K; ++k) {
    const double b2 = samples.betas[k] * samples.betas[k];
    out.mu.push_back(b2 * var[k]);
    out.sigma.push_back(b2 * dvar[k]);
  }
  if (!r.f_bootstrap.empty()) {
    // Each resample's β_k² (⟨H_k²⟩_k − ⟨H_k⟩_k²) at its own solution, from the weighted sums of
    // the centred variables x_v and their products x_v x_w.
    const std::size_t V = 1 + C;
    std::vector<std::vector<double>> xx;
    for (std::size_t v = 0; v < V; ++v)
      for (std::size_t w = v; w < V; ++w) {
        xx.emplace_back(count);
        for (std::size_t n = 0; n < count; ++n) xx.back()[n] = x[v][n] * x[w][n];
      }
    Spread spread{std::size_t(K)};
    for_each_resample(p, r,
                      [&](const std::vector<double>& c, const std::vector<double>& f, const std::vector<double>& a) {
                        const std::vector<double> m0 = weighted_col(p, a, f, c, nullptr);
                        std::vector<std::vector<double>> m1, m2;
                        for (std::size_t v = 0; v < V; ++v) m1.push_back(weighted_col(p, a, f, c, &x[v]));
                        for (const auto& z : xx) m2.push_back(weighted_col(p, a, f, c, &z));
                        for (int k = 0; k < K; ++k) {
                          // coefficient of x_v in H_k: 1 for the energy, p_kc for the couplings
                          auto coef = [&](std::size_t v) { return v == 0 ? 1.0 : samples.couplings[v - 1][k]; };
                          double mean = 0, second = 0;
                          std::size_t q = 0;
                          for (std::size_t v = 0; v < V; ++v) {
                            mean += coef(v) * m1[v][k] / m0[k];
                            for (std::size_t w = v; w < V; ++w, ++q)
                              second += (v == w ? 1.0 : 2.0) * coef(v) * coef(w) * m2[q][k] / m0[k];
                          }
                          spread.add(std::size_t(k), samples.betas[k] * samples.betas[k] * (second - mean * mean));
                        }
                      });
    out.sigma_bootstrap = spread.stddev();
  }
  return out;
}

MbarPmf mbar_pmf(const MbarSamples& samples, const std::vector<std::int64_t>& N_k, const MbarResult& r,
                 const std::vector<double>& A_local, const std::string& name, int state, int bins,
                 const parallel::Comm& comm) {
  const Problem p = make_problem(samples, N_k, comm);
  const int K = p.K, B = bins;
  if (comm.any(A_local.size() != std::size_t(p.count)))
    throw Error("MBAR: a rank's observable does not match its share of the samples", false);
  double lo = INFINITY, hi = -INFINITY;
  for (double v : A_local) lo = std::min(lo, v), hi = std::max(hi, v);
  lo = -comm.max(-lo), hi = comm.max(hi);
  if (!(hi > lo)) throw Error("PMF along " + name + ": the observable is constant");
  MbarPmf pmf;
  pmf.state = state;
  for (int i = 0; i <= B; ++i) pmf.edges.push_back(i == B ? hi : lo + (hi - lo) * double(i) / double(B));
  // Per block and bin: S_i = Σ W_n,state, Σ W_n,state², Σ W_nk W_n,state (k < K), samples.
  const std::size_t L = std::size_t(B) * (K + 3);
  std::vector<double> parts(std::size_t(p.nb) * L, 0.0), a(K, 0.0), W(K);
  for (int k : p.S) a[k] = r.f[k] + std::log(double(N_k[k]));
  for (std::int64_t blk = 0; blk < p.nb; ++blk) {
    double* part = parts.data() + blk * L;
    const std::int64_t n0 = block_start(p.b0 + blk, p.N, p.G) - p.offset;
    const std::int64_t n1 = block_start(p.b0 + blk + 1, p.N, p.G) - p.offset;
    for (std::int64_t n = n0; n < n1; ++n) {
      double m = -INFINITY, s = 0;
      for (int k = 0; k < K; ++k) W[k] = p.u_at(k, n);
      for (int k : p.S) m = std::max(m, a[k] - W[k]);
      for (int k : p.S) s += std::exp(a[k] - W[k] - m);
      const double ld = m + std::log(s);
      for (int k = 0; k < K; ++k) W[k] = std::exp(r.f[k] - W[k] - ld);
      // pymbar's bin: floor((A − lo) / (hi − lo) · bins), the largest value in the last bin
      const int i = std::min(B - 1, int((A_local[n] - lo) / (hi - lo) * double(B)));
      double* bin = part + std::size_t(i) * (K + 3);
      const double w = W[state];
      bin[0] += w, bin[1] += w * w, bin[2] += 1;
      for (int k = 0; k < K; ++k) bin[3 + k] += W[k] * w;
    }
  }
  const std::vector<double> tot = comm.ordered_sum(parts, std::int64_t(L), parallel::Share{p.G, p.b0, p.nb});
  const int M = K + B;
  std::vector<double> G(std::size_t(M) * M, 0.0), counts(M, 0.0);
  for (int i = 0; i < K; ++i) {
    counts[i] = double(N_k[i]);
    for (int j = 0; j < K; ++j) G[std::size_t(i) * M + j] = r.wtw[std::size_t(i) * K + j];
  }
  for (int i = 0; i < B; ++i) {
    const double* bin = tot.data() + std::size_t(i) * (K + 3);
    if (!(bin[0] > 0))
      throw Error("PMF along " + name + ": bin " + std::to_string(i) + " [" + json_number(pmf.edges[i]) + ", " +
                  json_number(pmf.edges[i + 1]) + ") has no samples (or no weight at state " + std::to_string(state) +
                  "): use fewer bins (free_energy.pmf_bins)");
    pmf.f.push_back(r.f[state] - std::log(bin[0]));
    pmf.samples.push_back(bin[2]);
    G[std::size_t(K + i) * M + K + i] = bin[1] / (bin[0] * bin[0]);
    for (int k = 0; k < K; ++k)
      G[std::size_t(k) * M + K + i] = G[std::size_t(K + i) * M + k] = bin[3 + k] / bin[0];
  }
  const std::vector<double> theta = svd_ew_covariance(G, counts);
  const int j = int(std::min_element(pmf.f.begin(), pmf.f.end()) - pmf.f.begin());
  pmf.reference = j;
  const double fj = pmf.f[j];
  for (int i = 0; i < B; ++i) {
    const std::size_t ii = std::size_t(K + i), jj = std::size_t(K + j);
    pmf.df.push_back(std::sqrt(std::max(0.0, theta[ii * M + ii] + theta[jj * M + jj] - 2 * theta[ii * M + jj])));
    pmf.f[i] -= fj;
  }
  if (!r.f_bootstrap.empty()) {  // each resample's f_i − f_j = ln S_j − ln S_i, S_i = Σ_{n ∈ bin i} c_n W_n,state
    Spread spread{std::size_t(B)};
    std::vector<double> bin_parts(std::size_t(p.nb) * B);
    for_each_resample(p, r, [&](const std::vector<double>& c, const std::vector<double>& f, const std::vector<double>& a) {
      std::fill(bin_parts.begin(), bin_parts.end(), 0.0);
      for (std::int64_t blk = 0; blk < p.nb; ++blk) {
        const std::int64_t n0 = block_start(p.b0 + blk, p.N, p.G) - p.offset;
        const std::int64_t n1 = block_start(p.b0 + blk + 1, p.N, p.G) - p.offset;
        for (std::int64_t n = n0; n < n1; ++n) {
          if (c[n] == 0) continue;
          double m = -INFINITY, sum = 0;
          for (int k = 0; k < K; ++k) W[k] = p.u_at(k, n);
          for (int k : p.S) m = std::max(m, a[k] - W[k]);
          for (int k : p.S) sum += std::exp(a[k] - W[k] - m);
          const int i = std::min(B - 1, int((A_local[n] - lo) / (hi - lo) * double(B)));
          bin_parts[std::size_t(blk) * B + i] += c[n] * std::exp(f[state] - W[state] - m - std::log(sum));
        }
      }
      const std::vector<double> S = comm.ordered_sum(bin_parts, std::int64_t(B), parallel::Share{p.G, p.b0, p.nb});
      for (int i = 0; i < B; ++i)
        if (S[i] > 0 && S[j] > 0) spread.add(std::size_t(i), std::log(S[j]) - std::log(S[i]));
    });
    pmf.df_bootstrap = spread.stddev();
  }
  return pmf;
}

MbarResult mbar(const std::vector<double>& u, const std::vector<std::int64_t>& N_k, const MbarOptions& opt) {
  parallel::Comm self(MPI_COMM_SELF);
  return mbar(u, N_k, self, opt);
}

}  // namespace zeta::estimators
