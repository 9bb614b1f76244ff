#include "zeta/estimators/ti.hpp"

#include <cmath>

namespace zeta::estimators {

void ti_along_ladder(const std::vector<std::vector<double>>& levels, const std::vector<double>& betas, double offset,
                     std::vector<double>& log_z, std::vector<double>& log_z_stderr) {
  const int K = static_cast<int>(betas.size());
  log_z.assign(K, offset);
  log_z_stderr.assign(K, 0.0);
  std::vector<double> mean(K), se(K);
  for (int k = 0; k < K; ++k) {
    const double n = double(levels[k].size());
    double m = 0, ss = 0;
    for (double e : levels[k]) m += e;
    m /= n;
    for (double e : levels[k]) ss += (e - m) * (e - m);
    mean[k] = m;
    se[k] = std::sqrt(ss / (n - 1) / n);
  }
  double vt = 0;
  for (int k = 0; k + 1 < K; ++k) {
    const double db = betas[k + 1] - betas[k];
    log_z[k + 1] = log_z[k] - 0.5 * db * (mean[k] + mean[k + 1]);
    vt += 0.25 * db * db * (se[k] * se[k] + se[k + 1] * se[k + 1]);
    log_z_stderr[k + 1] = std::sqrt(vt);
  }
}

}  // namespace zeta::estimators
