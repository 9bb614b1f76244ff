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
    : MlpObjective(ts, dspec, d, mlp, comm), noise_(ts, d, comm), nb_(ts.nce_ratio * b_) {
  const std::size_t n = mlp_.n_params();
  theta_ = Vector<Space>("zeta::train::nce_theta", n + 1);
  Kokkos::deep_copy(Kokkos::subview(theta_, std::make_pair(std::size_t(0), n)), mlp_.theta());
  Kokkos::deep_copy(Kokkos::subview(theta_, n), Real(0));
  xd_ = Matrix<Space>("zeta::train::nce_data", nloc_ * b_, dim_);
  xn_ = Matrix<Space>("zeta::train::nce_noise", nloc_ * nb_, dim_);
  Ed_ = Vector<Space>("zeta::train::nce_data_energy", nloc_ * b_);
  En_ = Vector<Space>("zeta::train::nce_noise_energy", nloc_ * nb_);
  wd_ = Vector<Space>("zeta::train::nce_data_weight", nloc_ * b_);
  wn_ = Vector<Space>("zeta::train::nce_noise_weight", nloc_ * nb_);
  lqd_.resize(std::size_t(nloc_ * b_));
  lqn_.resize(std::size_t(nloc_ * nb_));
}

void MlpNce::params_updated() {
  const std::size_t n = mlp_.n_params();
  Kokkos::deep_copy(mlp_.theta(), Kokkos::subview(theta_, std::make_pair(std::size_t(0), n)));
  mlp_.params_updated();
  auto c = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), Kokkos::subview(theta_, n));
  c_ = double(c());
}

void MlpNce::energies(const Matrix<Space>& x, const Vector<Space>& E, std::int64_t blocks, std::int64_t rows) {
  if (!ts_.deterministic) return mlp_.energy(x, E);
  for (std::int64_t q = 0; q < blocks; ++q)
    mlp_.energy(row_block<Space>(x, q * rows, rows), Vector<Space>(E.data() + q * rows, rows));
}

// Per partition: its noise block of ν·b rows and its data block of b rows, so that
// the noise's GEMMs have the same shapes on any rank count.
void MlpNce::batch(std::int64_t s) {
  auto hd = Kokkos::create_mirror_view(xd_);
  for_batch_rows(s, [&](std::int64_t r, std::uint64_t, const Real* x) {
    for (int i = 0; i < dim_; ++i) hd(r, i) = x[i];
  });
  Kokkos::deep_copy(xd_, hd);
  for (std::int64_t l = 0; l < nloc_; ++l) {
    noise_.draw_rows(ts_.seed, std::uint64_t((mine_.offset + l) * nb_), std::uint64_t(s),
                     row_block<Space>(xn_, l * nb_, nb_), lqn_.data() + l * nb_);
    noise_.log_density_rows(row_block<Space>(xd_, l * b_, b_), lqd_.data() + l * b_);
  }
  energies(xd_, Ed_, nloc_, b_);
  energies(xn_, En_, nloc_, nb_);
}

void MlpNce::weights() {
  const auto ed = host_copy(Ed_), en = host_copy(En_);
  auto hwd = Kokkos::create_mirror_view(wd_);
  auto hwn = Kokkos::create_mirror_view(wn_);
  const double B = double(ts_.batch), log_nu = std::log(double(ts_.nce_ratio));
  local_.assign(std::size_t(3 * nloc_), 0.0);
  for (std::int64_t l = 0; l < nloc_; ++l) {
    double* acc = local_.data() + 3 * l;  // Σ J terms, correct classifications, Σ w
    for (std::int64_t j = 0; j < b_; ++j) {
      const std::int64_t r = l * b_ + j;
      const double u = -ed[r] - c_ - lqd_[r] - log_nu;
      const double w = logistic(-u) / B;
      acc[0] += softplus(-u);
      acc[1] += u > 0;
      hwd(r) = Real(w);
      acc[2] += double(hwd(r));
    }
    for (std::int64_t j = 0; j < nb_; ++j) {
      const std::int64_t r = l * nb_ + j;
      const double u = -en[r] - c_ - lqn_[r] - log_nu;
      acc[0] += softplus(u);
      acc[1] += u < 0;
      hwn(r) = Real(-logistic(u) / B);
      acc[2] += double(hwn(r));
    }
  }
  Kokkos::deep_copy(wd_, hwd);
  Kokkos::deep_copy(wn_, hwn);
}

void MlpNce::gradient(std::int64_t s, GradientSum<Space>& grad) {
  batch(s);
  weights();
  const std::size_t n = mlp_.n_params();
  grad.reduce(
      ts_.deterministic, nloc_,
      [&](std::int64_t l, const Vector<Space>& g) {
        const Vector<Space> gm(g.data(), n);
        mlp_.grad_energy_params(row_block<Space>(xd_, l * b_, b_),
                                PerChain<Space>(Vector<Space>(wd_.data() + l * b_, b_)), gm);
        mlp_.grad_energy_params(row_block<Space>(xn_, l * nb_, nb_),
                                PerChain<Space>(Vector<Space>(wn_.data() + l * nb_, nb_)), gm);
        Kokkos::deep_copy(Kokkos::subview(g, n), Real(local_[3 * l + 2]));
      },
      [&](const Vector<Space>& g) {
        const Vector<Space> gm(g.data(), n);
        mlp_.grad_energy_params(xd_, PerChain<Space>(wd_), gm);
        mlp_.grad_energy_params(xn_, PerChain<Space>(wn_), gm);
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
