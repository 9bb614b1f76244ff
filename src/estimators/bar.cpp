#include "zeta/estimators/bar.hpp"

#include <algorithm>
#include <cmath>

#include "zeta/core/error.hpp"
#include "zeta/core/vmath.hpp"

namespace zeta::estimators {

namespace {
//! The Fermi function 1 / (1 + e^x), without overflow and in a loop that vectorizes.
inline double fermi(double x) {
  const double e = vmath::exp_neg(x > 0 ? -x : x);
  return x > 0 ? e / (1 + e) : 1 / (1 + e);
}
//! Stable ln mean exp(−w).
double log_mean_exp_neg(const std::vector<double>& w) {
  double lo = w[0];
  for (double v : w) lo = std::min(lo, v);
  double s = 0;
  for (double v : w) s += std::exp(-(v - lo));
  return -lo + std::log(s / double(w.size()));
}
}  // namespace

BarResult bar(const std::vector<double>& wf, const std::vector<double>& wr, double neff_f, double neff_r) {
  if (wf.empty() || wr.empty()) throw Error("BAR needs samples from both states", false);
  const double nf = double(wf.size()), nr = double(wr.size()), M = std::log(nf / nr);
  // g(Δf) = Σ_F fermi(M + w − Δf) − Σ_R fermi(−M + w + Δf) is increasing, with g' = Σ f(1 − f) over both sets.
  auto g = [&](double df, double& slope) {
    double a = 0, b = 0, da = 0, dbs = 0;
    for (double w : wf) {
      const double f = fermi(M + w - df);
      a += f, da += f * (1 - f);
    }
    for (double w : wr) {
      const double f = fermi(-M + w + df);
      b += f, dbs += f * (1 - f);
    }
    slope = da + dbs;
    return a - b;
  };
  // Bracket around the two exponential-averaging (Zwanzig) estimates, then
  // Newton steps kept inside the bracket (bisection when one would leave it).
  const double fwd = -log_mean_exp_neg(wf), rev = log_mean_exp_neg(wr);
  double lo = std::min(fwd, rev) - 1, hi = std::max(fwd, rev) + 1, slope = 0;
  for (int i = 0; i < 200 && g(lo, slope) > 0; ++i) lo -= 2 * (hi - lo);
  for (int i = 0; i < 200 && g(hi, slope) < 0; ++i) hi += 2 * (hi - lo);
  double x = 0.5 * (fwd + rev);
  if (!(x > lo && x < hi)) x = 0.5 * (lo + hi);
  for (int i = 0; i < 200; ++i) {
    const double v = g(x, slope);
    if (v == 0) break;
    (v < 0 ? lo : hi) = x;
    double next = slope > 0 ? x - v / slope : 0.5 * (lo + hi);
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    const bool done = std::fabs(next - x) <= 1e-14 * std::max(1.0, std::fabs(x)) || hi - lo <= 1e-13 * std::max(1.0, std::fabs(lo));
    x = next;
    if (done) break;
  }
  BarResult r;
  r.delta_f = x;
  double af = 0, af2 = 0, ar = 0, ar2 = 0;
  for (double w : wf) {
    const double f = fermi(M + w - r.delta_f);
    af += f, af2 += f * f;
  }
  for (double w : wr) {
    const double f = fermi(-M + w + r.delta_f);
    ar += f, ar2 += f * f;
  }
  af /= nf, af2 /= nf, ar /= nr, ar2 /= nr;
  const double var = (af2 / (af * af) - 1) / neff_f + (ar2 / (ar * ar) - 1) / neff_r;
  r.stderr = std::sqrt(std::max(0.0, var));
  return r;
}

void bar_along_ladder(const std::vector<std::vector<double>>& energies, const std::vector<double>& betas,
                      const std::vector<double>& inefficiency, std::vector<double>& log_z,
                      std::vector<double>& log_z_stderr) {
  const std::size_t K = betas.size();
  log_z.assign(K, 0.0);
  log_z_stderr.assign(K, 0.0);
  double var = 0;
  for (std::size_t k = 0; k + 1 < K; ++k) {
    const double db = betas[k + 1] - betas[k];
    std::vector<double> wf = energies[k], wr = energies[k + 1];
    for (auto& w : wf) w *= db;
    for (auto& w : wr) w *= -db;
    const BarResult b = bar(wf, wr, double(wf.size()) / std::max(1.0, inefficiency[k]),
                            double(wr.size()) / std::max(1.0, inefficiency[k + 1]));
    log_z[k + 1] = log_z[k] - b.delta_f;
    var += b.stderr * b.stderr;
    log_z_stderr[k + 1] = std::sqrt(var);
  }
}

}  // namespace zeta::estimators
