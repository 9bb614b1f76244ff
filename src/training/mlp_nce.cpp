#include "zeta/training/mlp_nce.hpp"

#include <cmath>
#include <utility>

#include "zeta/core/error.hpp"
#include "zeta/io/checkpoint.hpp"
#include "zeta/io/hdf5.hpp"

namespace zeta::training {

namespace {

//! softplus(t) = ln(1 + eᵗ) and the logistic σ(t), without overflow.
double softplus(double t) { return std::max(t, 0.0) + std::log1p(std::exp(-std::fabs(t))); }
double logistic(double t) { return t >= 0 ? 1 / (1 + std::exp(-t)) : std::exp(t) / (1 + std::exp(t)); }

}  // namespace

const std::vector<std::string>& MlpNce::Series::names() {
  static const std::vector<std::string> n = {"step", "nce_loss", "nce_log_z", "nce_accuracy", "grad_norm"};
  return n;
}

const std::vector<std::string>& MlpNce::signature_keys() const {
  static const std::vector<std::string> keys = [this] {
    std::vector<std::string> k = MlpObjective::signature_keys();
    k.insert(k.end(), {"train.nce_ratio", "train.nce_noise", "train.nce_box"});
    return k;
  }();
  return keys;
}

MlpNce::MlpNce(const TrainSpec& ts, const data::DataSpec& dspec, const data::Dataset& d, models::Mlp<Space>& mlp,
               const parallel::Comm& comm)
    : MlpObjective(ts, dspec, d, mlp, comm), noise_(ts, d, comm), nb_(ts.nce_ratio * b_), rows_(b_ + nb_) {
  const std::size_t n = mlp_.n_params();
  theta_ = Vector<Space>("zeta::train::nce_theta", n + 1);
  Kokkos::deep_copy(Kokkos::subview(theta_, std::make_pair(std::size_t(0), n)), mlp_.theta());
  Kokkos::deep_copy(Kokkos::subview(theta_, n), Real(0));
  x_ = Matrix<Space>("zeta::train::nce_rows", nloc_ * rows_, dim_);
  E_ = Vector<Space>("zeta::train::nce_energy", nloc_ * rows_);
  w_ = Vector<Space>("zeta::train::nce_weight", nloc_ * rows_);
  lq_.resize(std::size_t(nloc_ * rows_));
}

void MlpNce::params_updated() {
  const std::size_t n = mlp_.n_params();
  Kokkos::deep_copy(mlp_.theta(), Kokkos::subview(theta_, std::make_pair(std::size_t(0), n)));
  mlp_.params_updated();
  auto c = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), Kokkos::subview(theta_, n));
  c_ = double(c());
}

// Per partition: its data block of b rows, then its noise block of ν·b rows, each
// forward and backward pass over the whole block of (1 + ν)·b rows, so that the GEMMs
// have the same shapes on any rank count.
void MlpNce::batch(std::int64_t s) {
  auto hx = Kokkos::create_mirror_view(x_);
  for_batch_rows(s, [&](std::int64_t r, std::uint64_t, const Real* x) {
    const std::int64_t row = r / b_ * rows_ + r % b_;
    for (int i = 0; i < dim_; ++i) hx(row, i) = x[i];
  });
  Kokkos::deep_copy(x_, hx);  // before the noise rows are drawn into x_ (a device's x_ has no host mirror of them)
  for (std::int64_t l = 0; l < nloc_; ++l) {
    noise_.draw_rows(ts_.seed, std::uint64_t((mine_.offset + l) * nb_), std::uint64_t(s),
                     row_block<Space>(x_, l * rows_ + b_, nb_), lq_.data() + l * rows_ + b_);
    noise_.log_density_rows(row_block<Space>(x_, l * rows_, b_), lq_.data() + l * rows_);
  }
}

void MlpNce::weights(std::int64_t l0, std::int64_t count) {
  const std::int64_t first = l0 * rows_, n = count * rows_;
  const auto e = Kokkos::create_mirror_view_and_copy(
      Kokkos::HostSpace(), Kokkos::subview(E_, std::make_pair(first, first + n)));
  const Vector<Space> wv(w_.data() + first, std::size_t(n));
  auto hw = Kokkos::create_mirror_view(wv);
  const double B = double(ts_.batch), log_nu = std::log(double(ts_.nce_ratio));
  for (std::int64_t l = l0; l < l0 + count; ++l) {
    double* acc = local_.data() + 3 * l;  // Σ J terms, correct classifications, Σ w
    acc[0] = acc[1] = acc[2] = 0;
    const std::int64_t base = (l - l0) * rows_;
    const double* lq = lq_.data() + l * rows_;
    for (std::int64_t j = 0; j < b_; ++j) {
      const std::int64_t r = base + j;
      const double u = -double(e(r)) - c_ - lq[j] - log_nu;
      acc[0] += softplus(-u);
      acc[1] += u > 0;
      hw(r) = Real(logistic(-u) / B);
      acc[2] += double(hw(r));
    }
    for (std::int64_t j = b_; j < rows_; ++j) {
      const std::int64_t r = base + j;
      const double u = -double(e(r)) - c_ - lq[j] - log_nu;
      acc[0] += softplus(u);
      acc[1] += u < 0;
      hw(r) = Real(-logistic(u) / B);
      acc[2] += double(hw(r));
    }
  }
  Kokkos::deep_copy(wv, hw);
}

void MlpNce::block_gradient(std::int64_t l0, std::int64_t count, const Vector<Space>& gm) {
  const std::int64_t first = l0 * rows_, n = count * rows_;
  mlp_.grad_energy_params_weighted(row_block<Space>(x_, first, n), Vector<Space>(E_.data() + first, std::size_t(n)),
                                   Vector<Space>(w_.data() + first, std::size_t(n)), gm,
                                   [&] { weights(l0, count); });
}

void MlpNce::gradient(std::int64_t s, GradientSum<Space>& grad) {
  batch(s);
  local_.assign(std::size_t(3 * nloc_), 0.0);
  const std::size_t n = mlp_.n_params();
  grad.reduce(
      ts_.deterministic, nloc_,
      [&](std::int64_t l, const Vector<Space>& g) {
        block_gradient(l, 1, Vector<Space>(g.data(), n));
        Kokkos::deep_copy(Kokkos::subview(g, n), Real(local_[3 * l + 2]));
      },
      [&](const Vector<Space>& g) {
        block_gradient(0, nloc_, Vector<Space>(g.data(), n));
        double dc = 0;
        for (std::int64_t l = 0; l < nloc_; ++l) dc += local_[3 * l + 2];
        Kokkos::deep_copy(Kokkos::subview(g, n), Real(dc));
      });
}

const char* MlpNce::record(std::int64_t s, double grad_norm) {
  const auto sum = reduce_sums(local_, 3);
  const double B = double(ts_.batch);
  const double loss = sum[0] / B;
  series_.step.push_back(double(s));
  series_.loss.push_back(loss);
  series_.log_z.push_back(c_);
  series_.accuracy.push_back(sum[1] / (B * double(1 + ts_.nce_ratio)));
  series_.gnorm.push_back(grad_norm);
  return std::isfinite(loss) ? nullptr : "the NCE loss";
}

void MlpNce::write_extra(hid_t f) { io::write_array(f, "/nce/log_z", {1}, &saved_c_); }

void MlpNce::read_extra(hid_t f, const std::string& file) {
  saved_c_ = io::read_array<double>(f, file, "/nce/log_z", {1})[0];
}

std::vector<double> MlpNce::read_state(hid_t f, const std::string& file) {
  std::vector<double> theta = MlpObjective::read_state(f, file);
  theta.push_back(saved_c_);
  return theta;
}

void MlpNce::restore(const std::vector<double>& theta) {
  const std::size_t n = mlp_.n_params();
  if (theta.size() != n + 1) throw Error("internal: nce parameters of the wrong length", false);
  MlpObjective::restore(std::vector<double>(theta.begin(), theta.end() - 1));
  Kokkos::deep_copy(Kokkos::subview(theta_, std::make_pair(std::size_t(0), n)), mlp_.theta());
  Kokkos::deep_copy(Kokkos::subview(theta_, n), Real(theta.back()));
  params_updated();
}

void MlpNce::write_output(io::OutputFile& out, std::int64_t step) {
  MlpObjective::write_output(out, step);
  out.write_root_double("/nce/log_z", {1}, &c_);
  out.describe("/nce/log_z", "nat", "the learnt ln Z of the energy (NCE's parameter c: ln p(x) = -E(x) - c)");
  const hsize_t d = hsize_t(dim_);
  if (noise_.uniform()) {
    out.write_root_double("/nce/noise_lo", {d}, noise_.lo().data());
    out.write_root_double("/nce/noise_hi", {d}, noise_.hi().data());
    out.describe("/nce/noise_lo", "1", "lower corner of the box the NCE noise is uniform on", {"coordinate"});
    out.describe("/nce/noise_hi", "1", "upper corner of the box the NCE noise is uniform on", {"coordinate"});
  } else {
    out.write_root_double("/nce/noise_mean", {d}, noise_.mean().data());
    out.write_root_double("/nce/noise_cholesky", {d, d}, noise_.cholesky().data());
    out.describe("/nce/noise_mean", "1", "mean of the Gaussian NCE noise (the training split's)", {"coordinate"});
    out.describe("/nce/noise_cholesky", "1",
                 "lower Cholesky factor L of the Gaussian NCE noise's covariance L L^T (the training split's)",
                 {"coordinate", "coordinate"});
  }
}

void MlpNce::summarize_monitors(TrainResult& res) const {
  if (series_.step.empty()) return;
  res.evaluated_at = std::int64_t(series_.step.back());
  res.loss = series_.loss.back();
  res.grad_norm = series_.gnorm.back();
}

void MlpNce::add_objective_json(JsonSummary& j) const {
  j.add("nce_ratio", ts_.nce_ratio);
  j.add("nce_noise", noise_.uniform() ? "uniform" : "gaussian");
  j.add("nce_log_z", c_);
  if (!series_.step.empty()) j.add("nce_accuracy", series_.accuracy.back());
}

}  // namespace zeta::training
