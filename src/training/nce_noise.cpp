#include "zeta/training/nce_noise.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "zeta/core/error.hpp"
#include "zeta/core/json.hpp"
#include "zeta/linalg/gemm.hpp"
#include "zeta/rng/philox.hpp"

namespace zeta::training {

namespace {

constexpr double kLog2Pi = 1.8378770664093453;

}  // namespace

NceNoise::NceNoise(const TrainSpec& ts, const data::Dataset& d, const parallel::Comm& comm)
    : uniform_(ts.nce_uniform), dim_(d.dim) {
  work_.resize(std::size_t(dim_));
  const parallel::Share mine = data::partitions_of(comm.rank(), comm.size(), d.partitions);
  if (uniform_)
    fit_box(ts, d, comm);
  else
    fit_gaussian(d, mine, comm);
}

// Two passes, each a sum per partition added in partition order: the mean, then the
// centred second moments (the lower triangle).
void NceNoise::fit_gaussian(const data::Dataset& d, const parallel::Share& mine, const parallel::Comm& comm) {
  const int n = dim_;
  const std::size_t tri = std::size_t(n) * (n + 1) / 2;
  const auto& parts = d.train.local;
  std::vector<double> sums(parts.size() * std::size_t(n), 0.0);
  for (std::size_t l = 0; l < parts.size(); ++l)
    for (std::int64_t r = 0; r < parts[l].count; ++r)
      for (int i = 0; i < n; ++i) sums[l * n + i] += double(parts[l].x[std::size_t(r) * n + i]);
  mean_ = comm.ordered_sum(sums, n, mine);
  const double N = double(d.train.n);
  for (double& m : mean_) m /= N;
  // A partition's centred rows C (Real) and Cᵀ C by one GEMM: the same shapes, so the
  // same bits, on any rank count.
  std::vector<double> second(parts.size() * tri, 0.0);
  Matrix<Space> cc("zeta::nce::second_moments", n, n);
  for (std::size_t l = 0; l < parts.size(); ++l) {
    Matrix<Space> c("zeta::nce::centred_rows", parts[l].count, n);
    auto hc = Kokkos::create_mirror_view(c);
    for (std::int64_t r = 0; r < parts[l].count; ++r)
      for (int i = 0; i < n; ++i) hc(r, i) = Real(double(parts[l].x[std::size_t(r) * n + i]) - mean_[i]);
    Kokkos::deep_copy(c, hc);
    linalg::gemm<Space>(true, false, Real(1), c, c, Real(0), cc);
    const auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), cc);
    double* s = second.data() + l * tri;
    for (int i = 0, k = 0; i < n; ++i)
      for (int j = 0; j <= i; ++j, ++k) s[k] = double(h(i, j));
  }
  const std::vector<double> cov = comm.ordered_sum(second, std::int64_t(tri), mine);
  // Σ = L Lᵀ (Cholesky–Banachiewicz) of the covariance with a ridge of 1e-9 of its mean
  // variance, which only a singular covariance notices.
  double mean_var = 0;
  for (int i = 0; i < n; ++i) mean_var += cov[std::size_t(i) * (i + 3) / 2] / N;
  mean_var /= n;
  chol_.assign(std::size_t(n) * n, 0.0);
  log_norm_ = -0.5 * n * kLog2Pi;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j <= i; ++j) {
      double s = cov[std::size_t(i) * (i + 1) / 2 + j] / N + (i == j ? 1e-9 * mean_var : 0.0);
      for (int k = 0; k < j; ++k) s -= chol_[std::size_t(i) * n + k] * chol_[std::size_t(j) * n + k];
      if (i == j) {
        if (!(s > 0) || !std::isfinite(s))
          config_error("train.nce_noise",
                       "gaussian: the training data's covariance is singular (coordinate " + std::to_string(i) +
                           " is a combination of the others or constant); use train.nce_noise = uniform");
        chol_[std::size_t(i) * n + i] = std::sqrt(s);
        log_norm_ -= std::log(chol_[std::size_t(i) * n + i]);
      } else {
        chol_[std::size_t(i) * n + j] = s / chol_[std::size_t(j) * n + j];
      }
    }
  }
  // L⁻¹ by forward substitution, column by column; L and L⁻¹ and μ as Real for the GEMMs.
  std::vector<double> inv(std::size_t(n) * n, 0.0);
  for (int c = 0; c < n; ++c)
    for (int i = c; i < n; ++i) {
      double s = i == c ? 1.0 : 0.0;
      for (int k = c; k < i; ++k) s -= chol_[std::size_t(i) * n + k] * inv[std::size_t(k) * n + c];
      inv[std::size_t(i) * n + c] = s / chol_[std::size_t(i) * n + i];
    }
  lt_ = Matrix<Space>("zeta::nce::cholesky", n, n);
  linv_ = Matrix<Space>("zeta::nce::cholesky_inverse", n, n);
  mu_ = Vector<Space>("zeta::nce::mean", n);
  auto hl = Kokkos::create_mirror_view(lt_);
  auto hi = Kokkos::create_mirror_view(linv_);
  auto hm = Kokkos::create_mirror_view(mu_);
  for (int i = 0; i < n; ++i) {
    hm(i) = Real(mean_[i]);
    for (int j = 0; j < n; ++j) {
      hl(i, j) = Real(chol_[std::size_t(i) * n + j]);
      hi(i, j) = Real(inv[std::size_t(i) * n + j]);
    }
  }
  Kokkos::deep_copy(lt_, hl);
  Kokkos::deep_copy(linv_, hi);
  Kokkos::deep_copy(mu_, hm);
}

namespace {

//! Rows of a: a(r, i) + sign·μ_i, into c.
void shift_rows(const Matrix<Kokkos::DefaultExecutionSpace>& a, const Vector<Kokkos::DefaultExecutionSpace>& mu,
                Real sign, const Matrix<Kokkos::DefaultExecutionSpace>& c) {
  using Space = Kokkos::DefaultExecutionSpace;
  const int rows = static_cast<int>(a.extent(0)), d = static_cast<int>(a.extent(1));
  Kokkos::parallel_for(
      "zeta::nce::shift_rows", Kokkos::MDRangePolicy<Space, Kokkos::Rank<2>>({0, 0}, {rows, d}),
      KOKKOS_LAMBDA(const int r, const int i) { c(r, i) = a(r, i) + sign * mu(i); });
}

}  // namespace

void NceNoise::draw_rows(std::uint32_t seed, std::uint64_t first, std::uint64_t step, const Matrix<Space>& y,
                         double* lnq) {
  const int rows = static_cast<int>(y.extent(0)), n = dim_;
  if (uniform_) {
    auto h = Kokkos::create_mirror_view(y);
    for (int r = 0; r < rows; ++r) {
      draw_uniform(seed, first + std::uint64_t(r), step, &h(r, 0));
      lnq[r] = log_norm_;
    }
    Kokkos::deep_copy(y, h);
    return;
  }
  if (static_cast<int>(z_.extent(0)) != rows) z_ = Matrix<Space>("zeta::nce::block", rows, n);
  auto hz = Kokkos::create_mirror_view(z_);
  for (int r = 0; r < rows; ++r) {
    const rng::Stream st(seed, first + std::uint64_t(r), step, rng::kNceNoise);
    double sq = 0;
    st.normals(n, [&](int i, Real z) {
      hz(r, i) = z;
      sq += double(z) * double(z);
    });
    lnq[r] = log_norm_ - 0.5 * sq;
  }
  Kokkos::deep_copy(z_, hz);
  linalg::gemm<Space>(false, true, Real(1), z_, lt_, Real(0), y);  // z Lᵀ
  shift_rows(y, mu_, Real(1), y);
}

void NceNoise::log_density_rows(const Matrix<Space>& x, double* lnq) {
  const int rows = static_cast<int>(x.extent(0));
  if (uniform_) {
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
    for (int r = 0; r < rows; ++r) lnq[r] = log_density(&h(r, 0));
    return;
  }
  if (static_cast<int>(c_.extent(0)) != rows) c_ = Matrix<Space>("zeta::nce::centred", rows, dim_);
  if (static_cast<int>(w_.extent(0)) != rows) w_ = Matrix<Space>("zeta::nce::whitened", rows, dim_);
  shift_rows(x, mu_, Real(-1), c_);
  linalg::gemm<Space>(false, true, Real(1), c_, linv_, Real(0), w_);  // (x − μ) L⁻ᵀ
  const auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), w_);
  for (int r = 0; r < rows; ++r) {
    double sq = 0;
    for (int i = 0; i < dim_; ++i) sq += double(h(r, i)) * double(h(r, i));
    lnq[r] = log_norm_ - 0.5 * sq;
  }
}

// The box: train.nce_box, which must hold every training example, or the training
// split's bounding box (min and max are exact on any rank count) widened by a tenth.
void NceNoise::fit_box(const TrainSpec& ts, const data::Dataset& d, const parallel::Comm& comm) {
  const int n = dim_;
  std::vector<double> lo(n, INFINITY), hi(n, -INFINITY);
  for (const auto& p : d.train.local)
    for (std::int64_t r = 0; r < p.count; ++r)
      for (int i = 0; i < n; ++i) {
        const double v = double(p.x[std::size_t(r) * n + i]);
        lo[i] = std::min(lo[i], v);
        hi[i] = std::max(hi[i], v);
      }
  for (int i = 0; i < n; ++i) {
    lo[i] = -comm.max(-lo[i]);
    hi[i] = comm.max(hi[i]);
  }
  if (!ts.nce_box.empty()) {
    const double a = ts.nce_box[0], b = ts.nce_box[1];
    for (int i = 0; i < n; ++i)
      if (lo[i] < a || hi[i] > b)
        config_error("train.nce_box", "[" + json_number(a) + ", " + json_number(b) +
                                          "] misses training data (coordinate " + std::to_string(i) + " spans [" +
                                          json_number(lo[i]) + ", " + json_number(hi[i]) +
                                          "]): the noise must cover the data, or NCE's ln q there is -inf");
    lo_.assign(n, a);
    hi_.assign(n, b);
  } else {
    lo_.resize(n);
    hi_.resize(n);
    for (int i = 0; i < n; ++i) {
      const double w = hi[i] - lo[i], pad = w > 0 ? 0.1 * w : 0.5;
      lo_[i] = lo[i] - pad;
      hi_[i] = hi[i] + pad;
    }
  }
  log_norm_ = 0;
  for (int i = 0; i < n; ++i) log_norm_ -= std::log(hi_[i] - lo_[i]);
}

double NceNoise::log_density(const Real* x) const {
  const int n = dim_;
  if (uniform_) {
    for (int i = 0; i < n; ++i)
      if (!(double(x[i]) >= lo_[i] && double(x[i]) <= hi_[i])) return -INFINITY;
    return log_norm_;
  }
  // w = L⁻¹ (x − μ) by forward substitution.
  double sq = 0;
  for (int i = 0; i < n; ++i) {
    double s = double(x[i]) - mean_[i];
    const double* Li = chol_.data() + std::size_t(i) * n;
    for (int k = 0; k < i; ++k) s -= Li[k] * work_[k];
    work_[i] = s / Li[i];
    sq += work_[i] * work_[i];
  }
  return log_norm_ - 0.5 * sq;
}

// Coordinate i from block i of the point's stream, as Stream::uniform gives it, kLanes
// blocks at a time in vectorized lanes (rng::philox_lanes: the same words).
void NceNoise::draw_uniform(std::uint32_t seed, std::uint64_t id, std::uint64_t step, Real* y) const {
  constexpr int kLanes = 32;
  std::uint64_t ch[kLanes];
  std::uint32_t blk[kLanes], w[4][kLanes];
  for (int l = 0; l < kLanes; ++l) ch[l] = id;
  const double* lo = lo_.data();
  const double* hi = hi_.data();
  for (int i0 = 0; i0 < dim_; i0 += kLanes) {
    for (int l = 0; l < kLanes; ++l) blk[l] = static_cast<std::uint32_t>(i0 + l);
    rng::philox_lanes<kLanes>(seed, step, rng::kNceNoise, ch, blk, w);
    const int m = std::min(kLanes, dim_ - i0);
    for (int l = 0; l < m; ++l) {
      const int i = i0 + l;
      y[i] = Real(lo[i] + (hi[i] - lo[i]) * rng::u53(w[0][l], w[1][l]));
    }
  }
}

double NceNoise::draw(std::uint32_t seed, std::uint64_t id, std::uint64_t step, Real* y) const {
  const int n = dim_;
  const rng::Stream st(seed, id, step, rng::kNceNoise);
  if (uniform_) {
    for (int i = 0; i < n; ++i) y[i] = Real(lo_[i] + (hi_[i] - lo_[i]) * st.uniform(std::uint32_t(i)));
    return log_norm_;
  }
  st.normals(n, [&](int i, Real z) { work_[i] = double(z); });
  double sq = 0;
  for (int i = 0; i < n; ++i) {
    const double* Li = chol_.data() + std::size_t(i) * n;
    double v = mean_[i];
    for (int k = 0; k <= i; ++k) v += Li[k] * work_[k];
    y[i] = Real(v);
    sq += work_[i] * work_[i];
  }
  return log_norm_ - 0.5 * sq;
}

}  // namespace zeta::training
