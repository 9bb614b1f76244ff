#include "zeta/training/mlp_dsm.hpp"

#include <algorithm>
#include <cmath>

#include "zeta/rng/philox.hpp"

namespace zeta::training {

namespace {

//! The Philox block of an example's σ choice: far above the blocks its normals use.
constexpr std::uint32_t kSigmaBlock = 0x80000000u;

}  // namespace

const std::vector<std::string>& MlpDsm::Series::names() {
  static const std::vector<std::string> n = {"step", "dsm_loss", "grad_norm"};
  return n;
}

MlpDsm::MlpDsm(const TrainSpec& ts, const data::DataSpec& dspec, const data::Dataset& d, models::Mlp<Space>& mlp,
               const parallel::Comm& comm, bool conditional)
    : MlpObjective(ts, dspec, d, mlp, comm), conditional_(conditional) {
  xt_ = Matrix<Space>("zeta::train::dsm_noisy", nloc_ * b_, dim_);
  c_ = Matrix<Space>("zeta::train::dsm_offset", nloc_ * b_, dim_);
  w_ = Vector<Space>("zeta::train::dsm_weight", nloc_ * b_);
  z_.resize(std::size_t(dim_));
}

void MlpDsm::gradient(std::int64_t s, GradientSum<Space>& grad) {
  noisy_batch(s);
  local_loss_.assign(nloc_, 0.0);
  grad.reduce(
      ts_.deterministic, nloc_,
      [&](std::int64_t l, const Vector<Space>& g) {
        local_loss_[l] = mlp_.dsm_loss_and_grad(row_block<Space>(xt_, l * b_, b_), row_block<Space>(c_, l * b_, b_),
                                                PerChain<Space>(Vector<Space>(w_.data() + l * b_, b_)), g);
      },
      [&](const Vector<Space>& g) { local_loss_[0] = mlp_.dsm_loss_and_grad(xt_, c_, PerChain<Space>(w_), g); });
}

const char* MlpDsm::record(std::int64_t s, double grad_norm) {
  const double loss = reduce_sums(local_loss_, 1)[0];
  series_.step.push_back(double(s));
  series_.loss.push_back(loss);
  series_.gnorm.push_back(grad_norm);
  return std::isfinite(loss) ? nullptr : "the DSM loss";
}

void MlpDsm::noisy_batch(std::int64_t s) {
  auto hx = Kokkos::create_mirror_view(xt_);
  auto hc = Kokkos::create_mirror_view(c_);
  auto hw = Kokkos::create_mirror_view(w_);
  const std::int64_t K = std::int64_t(ts_.sigma.size());
  const double B = double(ts_.batch);
  for_batch_rows(s, [&](std::int64_t n, std::uint64_t id, const Real* x) {
    const rng::Stream st(ts_.seed, id, std::uint64_t(s), rng::kDsmNoise);
    const double sigma =
        K == 1 ? ts_.sigma[0] : ts_.sigma[std::min<std::int64_t>(K - 1, std::int64_t(st.uniform(kSigmaBlock) * K))];
    rng::host_normals(ts_.seed, id, std::uint64_t(s), rng::kDsmNoise, dim_, [&](int i, Real z) { z_[i] = z; });
    Real* KOKKOS_RESTRICT xr = &hx(n, 0);
    Real* KOKKOS_RESTRICT cr = &hc(n, 0);
    const Real* KOKKOS_RESTRICT z = z_.data();
    if (conditional_) {  // σ² ½‖−∇E/σ + z/σ‖² = ½‖∇E − z‖²
      for (int i = 0; i < dim_; ++i) {
        xr[i] = Real(double(x[i]) + sigma * double(z[i]));
        cr[i] = -z[i];
      }
      hw(n) = Real(1.0 / B);
      return;
    }
    for (int i = 0; i < dim_; ++i) {  // a loop that vectorizes, not a store per call of the sink
      xr[i] = Real(double(x[i]) + sigma * double(z[i]));
      cr[i] = Real(-double(z[i]) / sigma);
    }
    hw(n) = Real(sigma * sigma / B);
  });
  Kokkos::deep_copy(xt_, hx);
  Kokkos::deep_copy(c_, hc);
  Kokkos::deep_copy(w_, hw);
}

void MlpDsm::summarize_monitors(TrainResult& res) const {
  if (series_.step.empty()) return;
  res.evaluated_at = std::int64_t(series_.step.back());
  res.loss = series_.loss.back();
  res.dsm_loss = res.loss;
  res.grad_norm = series_.gnorm.back();
}

}  // namespace zeta::training
