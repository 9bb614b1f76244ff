#include "zeta/training/dsm.hpp"

#include <algorithm>
#include <cmath>

#include "zeta/models/noise_conditional_mlp.hpp"
#include "zeta/rng/philox.hpp"

namespace zeta::training {

namespace {

//! The Philox block of an example's σ choice: far above the blocks its normals use.
constexpr std::uint32_t kSigmaBlock = 0x80000000u;

}  // namespace

const std::vector<std::string>& DsmBatch::Series::names() {
  static const std::vector<std::string> n = {"step", "dsm_loss", "grad_norm"};
  return n;
}

DsmBatch::DsmBatch(const TrainSpec& ts, std::int64_t nloc, std::int64_t b, int dim, bool conditional)
    : ts_(ts), conditional_(conditional), nloc_(nloc), b_(b), dim_(dim) {
  const int inputs = conditional_ && ts.sigma_input ? dim_ + 1 : dim_;
  xt_ = Matrix<Space>("zeta::train::dsm_noisy", nloc_ * b_, inputs);
  c_ = Matrix<Space>("zeta::train::dsm_offset", nloc_ * b_, dim_);
  w_ = Vector<Space>("zeta::train::dsm_weight", nloc_ * b_);
  z_.resize(std::size_t(dim_));
}

const char* DsmBatch::record(Series& series, std::int64_t s, double loss, double grad_norm) const {
  series.step.push_back(double(s));
  series.loss.push_back(loss);
  series.gnorm.push_back(grad_norm);
  return std::isfinite(loss) ? nullptr : "the DSM loss";
}

void DsmBatch::noisy_row(std::int64_t s, std::int64_t n, std::uint64_t id, const Real* x) {
  const std::int64_t K = std::int64_t(ts_.sigma.size());
  const double B = double(ts_.batch);
  const rng::Stream st(ts_.seed, id, std::uint64_t(s), rng::kDsmNoise);
  const double sigma =
      K == 1 ? ts_.sigma[0] : ts_.sigma[std::min<std::int64_t>(K - 1, std::int64_t(st.uniform(kSigmaBlock) * K))];
  rng::host_normals(ts_.seed, id, std::uint64_t(s), rng::kDsmNoise, dim_, [&](int i, Real z) { z_[i] = z; });
  Real* KOKKOS_RESTRICT xr = &hx_(n, 0);
  Real* KOKKOS_RESTRICT cr = &hc_(n, 0);
  const Real* KOKKOS_RESTRICT z = z_.data();
  if (conditional_) {  // σ² ½‖−∇E/σ + z/σ‖² = ½‖∇E − z‖²
    for (int i = 0; i < dim_; ++i) {
      xr[i] = Real(double(x[i]) + sigma * double(z[i]));
      cr[i] = -z[i];
    }
    if (ts_.sigma_input) xr[dim_] = Real(models::noise_input(sigma));
    hw_(n) = Real(1.0 / B);
    return;
  }
  for (int i = 0; i < dim_; ++i) {  // a loop that vectorizes, not a store per call of the sink
    xr[i] = Real(double(x[i]) + sigma * double(z[i]));
    cr[i] = Real(-double(z[i]) / sigma);
  }
  hw_(n) = Real(sigma * sigma / B);
}

}  // namespace zeta::training
