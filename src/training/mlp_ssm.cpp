#include "zeta/training/mlp_ssm.hpp"

#include <cmath>

#include "zeta/rng/philox.hpp"

namespace zeta::training {

const std::vector<std::string>& MlpSsm::Series::names() {
  static const std::vector<std::string> n = {"step", "ssm_loss", "grad_norm"};
  return n;
}

const std::vector<std::string>& MlpSsm::signature_keys() const {
  static const std::vector<std::string> keys = [this] {
    std::vector<std::string> k = MlpObjective::signature_keys();
    k.push_back("train.projection");
    k.push_back("train.projections");
    return k;
  }();
  return keys;
}

MlpSsm::MlpSsm(const TrainSpec& ts, const data::DataSpec& dspec, const data::Dataset& d, models::Mlp<Space>& mlp,
               const parallel::Comm& comm)
    : MlpObjective(ts, dspec, d, mlp, comm) {
  x_ = Matrix<Space>("zeta::train::ssm_rows", nloc_ * b_ * ts.projections, dim_);
  v_ = Matrix<Space>("zeta::train::ssm_projections", nloc_ * b_ * ts.projections, dim_);
}

void MlpSsm::projected_batch(std::int64_t s) {
  auto hx = Kokkos::create_mirror_view(x_);
  auto hv = Kokkos::create_mirror_view(v_);
  const bool rademacher = ts_.rademacher;
  const int M = ts_.projections;
  for_batch_rows(s, [&](std::int64_t n, std::uint64_t id, const Real* x) {
    for (int m = 0; m < M; ++m) {
      // Row n·M + m: example n with its projection m, keyed by (seed, id, step, m); m
      // rides in the step counter's high word (steps stay below 2^32), so that
      // projection 0 is the one a single-projection run draws.
      const std::int64_t r = n * M + m;
      for (int i = 0; i < dim_; ++i) hx(r, i) = x[i];
      const std::uint64_t step = std::uint64_t(s) | (std::uint64_t(m) << 32);
      if (rademacher) {
        const rng::Stream st(ts_.seed, id, step, rng::kProjection);
        for (int i = 0; i < dim_; ++i) hv(r, i) = st.uniform(std::uint32_t(i)) < 0.5 ? Real(-1) : Real(1);
      } else {  // Stream(seed, id, step, kProjection).normals, in vectorised lanes (float)
        rng::host_normals(ts_.seed, id, step, rng::kProjection, dim_, [&](int i, Real z) { hv(r, i) = z; });
      }
    }
  });
  Kokkos::deep_copy(x_, hx);
  Kokkos::deep_copy(v_, hv);
}

void MlpSsm::gradient(std::int64_t s, GradientSum<Space>& grad) {
  projected_batch(s);
  local_loss_.assign(nloc_, 0.0);
  const double w = 1.0 / (double(ts_.batch) * ts_.projections);
  const bool vr = ts_.ssm_vr;
  const std::int64_t rows = b_ * ts_.projections;  // a partition's rows
  grad.reduce(
      ts_.deterministic, nloc_,
      [&](std::int64_t l, const Vector<Space>& g) {
        local_loss_[l] = sliced_.loss_and_grad(mlp_, row_block<Space>(x_, l * rows, rows),
                                               row_block<Space>(v_, l * rows, rows), w, vr, g);
      },
      [&](const Vector<Space>& g) { local_loss_[0] = sliced_.loss_and_grad(mlp_, x_, v_, w, vr, g); });
}

const char* MlpSsm::record(std::int64_t s, double grad_norm) {
  const double loss = reduce_sums(local_loss_, 1)[0];
  series_.step.push_back(double(s));
  series_.loss.push_back(loss);
  series_.gnorm.push_back(grad_norm);
  return std::isfinite(loss) ? nullptr : "the SSM loss";
}

void MlpSsm::summarize_monitors(TrainResult& res) const {
  if (series_.step.empty()) return;
  res.evaluated_at = std::int64_t(series_.step.back());
  res.loss = series_.loss.back();
  res.grad_norm = series_.gnorm.back();
}

void MlpSsm::add_objective_json(JsonSummary& j) const {
  j.add("projection", ts_.rademacher ? "rademacher" : "gaussian");
  j.add("projections", ts_.projections);
}

}  // namespace zeta::training
