#include "zeta/estimators/mbar.hpp"

#include <algorithm>
#include <cmath>

#include "zeta/core/error.hpp"

namespace zeta {

void symmetric_eigen(std::vector<double> a, int n, std::vector<double>& w, std::vector<double>& V) {
  V.assign(std::size_t(n) * n, 0.0);
  for (int i = 0; i < n; ++i) V[i * n + i] = 1;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) off += a[p * n + q] * a[p * n + q];
    if (off < 1e-30) break;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) {
        const double apq = a[p * n + q];
        if (std::fabs(apq) < 1e-300) continue;
        const double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const double t = (theta >= 0 ? 1 : -1) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < n; ++k) {  // rotate columns p, q
          const double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (int k = 0; k < n; ++k) {  // rotate rows p, q
          const double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (int k = 0; k < n; ++k) {
          const double vkp = V[k * n + p], vkq = V[k * n + q];
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  w.resize(n);
  for (int i = 0; i < n; ++i) w[i] = a[i * n + i];
}

namespace {

//! log_denom[n] = ln Σ_k N_k exp(f_k − u_kn).
void log_denominators(const std::vector<double>& u, const std::vector<double>& logN, const std::vector<double>& f,
                      int K, std::size_t N, std::vector<double>& out) {
  out.resize(N);
  for (std::size_t n = 0; n < N; ++n) {
    double mx = -INFINITY;
    for (int k = 0; k < K; ++k) mx = std::max(mx, logN[k] + f[k] - u[k * N + n]);
    double s = 0;
    for (int k = 0; k < K; ++k) s += std::exp(logN[k] + f[k] - u[k * N + n] - mx);
    out[n] = mx + std::log(s);
  }
}

//! ln Σ_n exp(f_k − u_kn − log_denom_n) per state (= 0 at the solution).
std::vector<double> log_weight_sums(const std::vector<double>& u, const std::vector<double>& f,
                                    const std::vector<double>& ld, int K, std::size_t N) {
  std::vector<double> out(K);
  for (int k = 0; k < K; ++k) {
    double mx = -INFINITY;
    for (std::size_t n = 0; n < N; ++n) mx = std::max(mx, -u[k * N + n] - ld[n]);
    double s = 0;
    for (std::size_t n = 0; n < N; ++n) s += std::exp(-u[k * N + n] - ld[n] - mx);
    out[k] = f[k] + mx + std::log(s);
  }
  return out;
}

//! Solves A x = b (n×n, dense, partial pivoting); A and b are overwritten.
bool solve(std::vector<double>& A, std::vector<double>& b, int n) {
  for (int c = 0; c < n; ++c) {
    int p = c;
    for (int r = c + 1; r < n; ++r)
      if (std::fabs(A[r * n + c]) > std::fabs(A[p * n + c])) p = r;
    if (std::fabs(A[p * n + c]) < 1e-300) return false;
    if (p != c) {
      for (int k = 0; k < n; ++k) std::swap(A[c * n + k], A[p * n + k]);
      std::swap(b[c], b[p]);
    }
    for (int r = c + 1; r < n; ++r) {
      const double m = A[r * n + c] / A[c * n + c];
      for (int k = c; k < n; ++k) A[r * n + k] -= m * A[c * n + k];
      b[r] -= m * b[c];
    }
  }
  for (int r = n - 1; r >= 0; --r) {
    for (int k = r + 1; k < n; ++k) b[r] -= A[r * n + k] * b[k];
    b[r] /= A[r * n + r];
  }
  return true;
}

}  // namespace

MbarResult mbar(const std::vector<double>& u, const std::vector<std::int64_t>& N_k, double tol) {
  const int K = static_cast<int>(N_k.size());
  std::size_t N = 0;
  for (auto n : N_k) {
    if (n < 0) throw Error("MBAR: negative sample count", false);
    N += std::size_t(n);
  }
  if (K < 2 || N == 0 || u.size() != std::size_t(K) * N) throw Error("MBAR: inconsistent reduced potentials", false);
  for (double v : u)
    if (!std::isfinite(v)) throw Error("MBAR: non-finite reduced potential (NaN or Inf energies)", false);
  std::vector<double> logN(K), f(K, 0.0), ld;
  for (int k = 0; k < K; ++k) logN[k] = N_k[k] > 0 ? std::log(double(N_k[k])) : -INFINITY;
  MbarResult r;
  // Self-consistent iteration: f_k ← −ln Σ_n exp(−u_kn − log_denom_n), shifted so f_0 = 0.
  for (int it = 0; it < 10000; ++it) {
    log_denominators(u, logN, f, K, N, ld);
    auto s = log_weight_sums(u, f, ld, K, N);
    double change = 0;
    std::vector<double> fn(K);
    for (int k = 0; k < K; ++k) fn[k] = f[k] - s[k];
    for (int k = K - 1; k >= 0; --k) fn[k] -= fn[0];
    for (int k = 0; k < K; ++k) change = std::max(change, std::fabs(fn[k] - f[k]));
    f = fn;
    ++r.iterations;
    if (change < 1e-7) break;
  }
  // Newton on F(f) = Σ_n ln Σ_k N_k e^{f_k − u_kn} − Σ_k N_k f_k with f_0 fixed:
  // ∇_i = N_i (Σ_n W_ni − 1), H_ij = N_i δ_ij Σ_n W_ni − N_i N_j Σ_n W_ni W_nj.
  std::vector<double> W(N * K);
  for (int it = 0; it < 50; ++it) {
    log_denominators(u, logN, f, K, N, ld);
    for (std::size_t n = 0; n < N; ++n)
      for (int k = 0; k < K; ++k) W[n * K + k] = std::exp(f[k] - u[k * N + n] - ld[n]);
    const int m = K - 1;
    std::vector<double> H(std::size_t(m) * m, 0.0), g(m, 0.0), col(K, 0.0);
    for (std::size_t n = 0; n < N; ++n)
      for (int k = 0; k < K; ++k) col[k] += W[n * K + k];
    for (int i = 1; i < K; ++i) {
      g[i - 1] = -double(N_k[i]) * (col[i] - 1);
      H[(i - 1) * m + (i - 1)] += double(N_k[i]) * col[i];
    }
    for (std::size_t n = 0; n < N; ++n)
      for (int i = 1; i < K; ++i) {
        const double wi = double(N_k[i]) * W[n * K + i];
        if (wi == 0) continue;
        for (int j = 1; j < K; ++j) H[(i - 1) * m + (j - 1)] -= wi * double(N_k[j]) * W[n * K + j];
      }
    if (!solve(H, g, m)) break;
    double step = 0;
    for (int i = 1; i < K; ++i) {
      f[i] += g[i - 1];
      step = std::max(step, std::fabs(g[i - 1]));
    }
    ++r.iterations;
    if (step < tol) break;
  }
  r.f = f;
  // Asymptotic covariance ("svd-ew"): Wᵀ W = V Σ² Vᵀ, Θ = V Σ (I − Σ Vᵀ N V Σ)⁺ Σ Vᵀ.
  log_denominators(u, logN, f, K, N, ld);
  for (std::size_t n = 0; n < N; ++n)
    for (int k = 0; k < K; ++k) W[n * K + k] = std::exp(f[k] - u[k * N + n] - ld[n]);
  std::vector<double> A(std::size_t(K) * K, 0.0);
  for (std::size_t n = 0; n < N; ++n)
    for (int i = 0; i < K; ++i)
      for (int j = i; j < K; ++j) A[i * K + j] += W[n * K + i] * W[n * K + j];
  for (int i = 0; i < K; ++i)
    for (int j = 0; j < i; ++j) A[i * K + j] = A[j * K + i];
  std::vector<double> lam, V;
  symmetric_eigen(A, K, lam, V);
  std::vector<double> sig(K);
  for (int k = 0; k < K; ++k) sig[k] = std::sqrt(std::max(0.0, lam[k]));
  // M = I − Σ Vᵀ N V Σ, then its pseudo-inverse from its own eigen-decomposition.
  std::vector<double> M(std::size_t(K) * K);
  for (int i = 0; i < K; ++i)
    for (int j = 0; j < K; ++j) {
      double s = 0;
      for (int k = 0; k < K; ++k) s += V[k * K + i] * double(N_k[k]) * V[k * K + j];
      M[i * K + j] = (i == j ? 1.0 : 0.0) - sig[i] * s * sig[j];
    }
  std::vector<double> mu, U;
  symmetric_eigen(M, K, mu, U);
  double mx = 0;
  for (double v : mu) mx = std::max(mx, std::fabs(v));
  std::vector<double> Mp(std::size_t(K) * K, 0.0);
  for (int e = 0; e < K; ++e) {
    if (std::fabs(mu[e]) <= 1e-10 * mx) continue;
    for (int i = 0; i < K; ++i)
      for (int j = 0; j < K; ++j) Mp[i * K + j] += U[i * K + e] * U[j * K + e] / mu[e];
  }
  // Θ = V Σ Mp Σ Vᵀ
  std::vector<double> B(std::size_t(K) * K);  // B = V Σ
  for (int i = 0; i < K; ++i)
    for (int j = 0; j < K; ++j) B[i * K + j] = V[i * K + j] * sig[j];
  std::vector<double> C(std::size_t(K) * K, 0.0);  // C = B Mp
  for (int i = 0; i < K; ++i)
    for (int k = 0; k < K; ++k)
      for (int j = 0; j < K; ++j) C[i * K + j] += B[i * K + k] * Mp[k * K + j];
  r.theta.assign(std::size_t(K) * K, 0.0);
  for (int i = 0; i < K; ++i)
    for (int j = 0; j < K; ++j) {
      double s = 0;
      for (int k = 0; k < K; ++k) s += C[i * K + k] * B[j * K + k];
      r.theta[i * K + j] = s;
    }
  r.df_stderr.resize(K);
  for (int k = 0; k < K; ++k)
    r.df_stderr[k] = std::sqrt(std::max(0.0, r.theta[k * K + k] + r.theta[0] - 2 * r.theta[k * K]));
  return r;
}

}  // namespace zeta
