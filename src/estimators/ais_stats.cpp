#include "zeta/estimators/ais_stats.hpp"

#include <algorithm>
#include <cmath>

namespace zeta::estimators {

double min_trusted_ess(double n) { return std::sqrt(2.0) * std::pow(n, 0.75); }

bool ess_too_small(double ess, double n) { return !(ess >= min_trusted_ess(n)); }

LogMeanExp log_mean_exp(const std::vector<double>& local, const parallel::ChainRange& range,
                        const parallel::Comm& comm) {
  const auto all = comm.gather_chain_rows(local, 1, range);
  std::vector<double> out(4, NAN);
  if (comm.root()) {
    double mx = -INFINITY;
    for (double w : all) mx = std::max(mx, w);
    double s1 = 0, s2 = 0, m = 0, v = 0;
    for (double w : all) {
      const double e = std::exp(w - mx);
      s1 += e;
      s2 += e * e;
      m += w;
    }
    const double n = double(all.size());
    m /= n;
    for (double w : all) v += (w - m) * (w - m);
    const double mean = s1 / n, var = std::max(0.0, s2 / n - mean * mean);
    out = {mx + std::log(mean), std::sqrt(var / (n - 1)) / mean, s1 * s1 / s2, v / (n - 1)};
  }
  comm.broadcast(out);
  return LogMeanExp{out[0], out[1], out[2], out[3]};
}

}  // namespace zeta::estimators
